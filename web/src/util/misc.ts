/** Call fn at most once per `ms` (leading edge). */
export function throttle<A extends unknown[]>(fn: (...a: A) => void, ms: number): (...a: A) => void {
  let last = 0
  return (...a: A) => {
    const t = Date.now()
    if (t - last >= ms) {
      last = t
      fn(...a)
    }
  }
}

export function debounce<A extends unknown[]>(fn: (...a: A) => void, ms: number): (...a: A) => void {
  let timer: number | undefined
  return (...a: A) => {
    window.clearTimeout(timer)
    timer = window.setTimeout(() => fn(...a), ms)
  }
}

export function uuid(): string {
  const c: Crypto = globalThis.crypto
  // randomUUID only exists in secure contexts (https or localhost); fall back otherwise.
  if (typeof c.randomUUID === 'function') return c.randomUUID()
  const b = new Uint8Array(16)
  c.getRandomValues(b)
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

/** Empty strings → null, for optional numeric/text form fields. */
export function numOrNull(v: unknown): number | null {
  if (v === '' || v === null || v === undefined) return null
  const n = Number(v)
  return isFinite(n) ? n : null
}

export function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T
}
