import { ref } from 'vue'

/** One shared 1-second clock for every ticking timer on screen. */
export const now = ref(Date.now())
let started = false
export function startClock() {
  if (started) return
  started = true
  window.setInterval(() => (now.value = Date.now()), 1000)
}
