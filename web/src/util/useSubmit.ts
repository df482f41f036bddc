// One form action at a time: `busy` while it runs (buttons disable on it), its error kept for
// FormError/FieldError. The dialogs of the desk, the contacts page and the softphone share it.
import { ref } from 'vue'

export function useSubmit() {
  const busy = ref(false)
  const error = ref<unknown>(null)
  /** Run `action` (not while one runs); false when it threw, the error then being in `error`. */
  async function submit(action: () => Promise<unknown>): Promise<boolean> {
    if (busy.value) return false
    busy.value = true
    error.value = null
    try {
      await action()
      return true
    } catch (e) {
      error.value = e
      return false
    } finally {
      busy.value = false
    }
  }
  return { busy, error, submit }
}
