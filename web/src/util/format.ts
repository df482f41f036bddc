// Formatting for the pages, in the user's language and time zone (src/i18n). Kept as the pages'
// one import for times, sizes and labels; the work is done by src/i18n/format.ts on Intl.
import { CHANNELS } from '../api/types'
import {
  formatClock,
  formatDateTime,
  formatFileSize,
  formatPercent,
  formatShortTime,
  t,
  te,
  toMillis,
  type Stamp,
} from '../i18n'

export { toMillis }

/** A running clock: 05:09, 1:02:03. */
export function mmss(totalSeconds: number | null | undefined): string {
  return formatClock(totalSeconds)
}

/** Compare two hub times (for sorting oldest first). */
export function byTime(a: Stamp, b: Stamp): number {
  return (toMillis(a) || 0) - (toMillis(b) || 0)
}

export function secondsSince(iso: Stamp, now: number): number | null {
  const ms = toMillis(iso)
  return isNaN(ms) ? null : (now - ms) / 1000
}

/** Only the time for today, else the day and the time. */
export function shortTime(iso: Stamp): string {
  return formatShortTime(iso)
}

export function dateTime(iso: Stamp): string {
  return formatDateTime(iso)
}

export function channelIcon(ch: string): string {
  return CHANNELS.find((c) => c.value === ch)?.icon ?? 'dot'
}

/** 聊天 / Chat: the channel's name in the user's language. */
export function channelLabel(ch: string): string {
  return te(`common.channels.${ch}`) ? t(`common.channels.${ch}`) : ch
}

export function fileSize(n: number): string {
  return formatFileSize(n)
}

/** An agent state (ready, not_ready, wrap_up, …) in the user's language. */
export function stateLabel(s: string): string {
  return te(`common.agentStates.${s}`) ? t(`common.agentStates.${s}`) : s.replace(/_/g, ' ')
}

/** Load object {chat: 1, email: 2} → "聊天 1 · 邮件 2" / "Chat 1 · Email 2"; nothing: idle. */
export function loadText(load: Record<string, number> | null | undefined): string {
  const parts = Object.entries(load ?? {}).filter(([, v]) => v).map(([k, v]) => `${channelLabel(k).toLocaleLowerCase()} ${v}`)
  return parts.length ? parts.join(' · ') : t('common.idle')
}

/** Service level may come as a fraction (0..1) or a percentage; show a percentage. */
export function percent(v: number | null | undefined): string {
  return formatPercent(v)
}

/** A disposition code (resolved, follow_up, …) by name in the user's language; `label`: the API's. */
export function dispositionLabel(code: string, label?: string): string {
  return te(`desk.dispositions.${code}`) ? t(`desk.dispositions.${code}`) : label ?? code
}

/** A not-ready reason code (break, lunch, …) by name in the user's language; `label`: the API's. */
export function reasonLabel(code: string, label?: string): string {
  return te(`desk.reasons.${code}`) ? t(`desk.reasons.${code}`) : label ?? code
}
