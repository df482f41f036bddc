// The desk's keyboard shortcuts (#19): "?" lists them. Single keys act only when the agent is not
// typing (focus outside inputs, text areas and lists); the buttons they press are the ones on
// screen, so a shortcut never does what the agent could not do with the mouse.
import { onBeforeUnmount, onMounted, ref } from 'vue'

export interface Shortcut {
  keys: string
  /** desk.shortcuts.<action> */
  action: string
}

export const SHORTCUTS: Shortcut[] = [
  { keys: 'a', action: 'accept' },
  { keys: 'j', action: 'next' },
  { keys: 'k', action: 'previous' },
  { keys: 'r', action: 'reply' },
  { keys: 'i', action: 'insert' },
  { keys: 't', action: 'transfer' },
  { keys: 'c', action: 'close' },
  { keys: '?', action: 'help' },
  { keys: 'Esc', action: 'escape' },
]

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null
  if (!el) return false
  const tag = el.tagName
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || el.isContentEditable
}

function press(selector: string): boolean {
  const button = document.querySelector<HTMLButtonElement>(selector)
  if (!button || button.disabled || !button.offsetParent) return false
  button.click()
  return true
}

/** ``acceptFirst``: accept the first ringing offer; ``step(+1|-1)``: open the next/previous
 * conversation of the inbox list. */
export function useDeskShortcuts(acceptFirst: () => void, step: (by: number) => void) {
  const help = ref(false)
  function onKey(e: KeyboardEvent) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return
    if (e.key === 'Escape' && help.value) {
      help.value = false
      return
    }
    if (typing(e.target)) return
    let done = true
    switch (e.key) {
      case '?': help.value = !help.value; break
      case 'a': acceptFirst(); break
      case 'j': step(1); break
      case 'k': step(-1); break
      case 'r': {
        const box = document.querySelector<HTMLTextAreaElement>('[data-testid="reply-input"]')
        if (box && box.offsetParent) box.focus()
        else done = false
        break
      }
      case 'i': done = press('[data-testid="assist-insert"]'); break
      case 't': done = press('[data-testid="transfer-open"]'); break
      case 'c': done = press('[data-testid="close-open"]'); break
      default: done = false
    }
    if (done) e.preventDefault()
  }
  onMounted(() => window.addEventListener('keydown', onKey))
  onBeforeUnmount(() => window.removeEventListener('keydown', onKey))
  return { help }
}
