import { ref } from 'vue'

export interface Toast {
  id: number
  kind: 'info' | 'error' | 'ok'
  text: string
}
export const toasts = ref<Toast[]>([])
let seq = 0
export function toast(text: string, kind: Toast['kind'] = 'info', ms = 4000) {
  const id = ++seq
  toasts.value.push({ id, kind, text })
  window.setTimeout(() => (toasts.value = toasts.value.filter((t) => t.id !== id)), ms)
}
