import { CHANNELS } from '../api/types'

export function mmss(totalSeconds: number | null | undefined): string {
  if (totalSeconds === null || totalSeconds === undefined || !isFinite(totalSeconds)) return '—'
  const s = Math.max(0, Math.floor(totalSeconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  const pad = (n: number) => String(n).padStart(2, '0')
  return h ? `${h}:${pad(m)}:${pad(sec)}` : `${pad(m)}:${pad(sec)}`
}

/**
 * A hub time as milliseconds since the epoch, or NaN. docs/API.md promises ISO-8601 strings, but
 * the hub sends epoch seconds (floats) in several places; accept both (and milliseconds).
 */
export function toMillis(t: string | number | null | undefined): number {
  if (t === null || t === undefined || t === '') return NaN
  if (typeof t === 'number') return t < 1e11 ? t * 1000 : t
  if (/^\d+(\.\d+)?$/.test(t.trim())) return toMillis(Number(t))
  return Date.parse(t)
}

/** Compare two hub times (for sorting oldest first). */
export function byTime(a: string | number | null | undefined, b: string | number | null | undefined): number {
  return (toMillis(a) || 0) - (toMillis(b) || 0)
}

export function secondsSince(iso: string | number | null | undefined, now: number): number | null {
  const t = toMillis(iso)
  return isNaN(t) ? null : (now - t) / 1000
}

export function shortTime(iso: string | number | null | undefined): string {
  const d = new Date(toMillis(iso))
  if (isNaN(d.getTime())) return ''
  const today = new Date()
  if (d.toDateString() === today.toDateString())
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
  return d.toLocaleDateString([], { month: 'short', day: 'numeric' }) +
    ' ' + d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
}

export function dateTime(iso: string | number | null | undefined): string {
  const d = new Date(toMillis(iso))
  return isNaN(d.getTime()) ? '' : d.toLocaleString()
}

export function channelIcon(ch: string): string {
  return CHANNELS.find((c) => c.value === ch)?.icon ?? 'dot'
}
export function channelLabel(ch: string): string {
  return CHANNELS.find((c) => c.value === ch)?.label ?? ch
}

export function fileSize(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`
  return `${(n / 1024 / 1024).toFixed(1)} MB`
}

export function stateLabel(s: string): string {
  return s.replace(/_/g, ' ')
}

/** Load object {chat: 1, email: 2} → "chat 1 · email 2". */
export function loadText(load: Record<string, number> | null | undefined): string {
  const parts = Object.entries(load ?? {}).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`)
  return parts.length ? parts.join(' · ') : 'idle'
}

/** Service level may come as a fraction (0..1) or a percentage; show a percentage. */
export function percent(v: number | null | undefined): string {
  if (v === null || v === undefined || !isFinite(v)) return '—'
  const pct = v <= 1 ? v * 100 : v
  return `${Math.round(pct)}%`
}
