// Locale-aware formatting of dates, times, durations, numbers and money, on Intl only.
// Pure functions of (locale, time zone): web/src/i18n/index.ts binds them to the user's current
// locale and time zone; tests/browser/test_i18n_format.py runs these ones in node.

export type Stamp = string | number | Date | null | undefined

/** The time zone used when the user has none set: the centres in the brief are in China. */
export const DEFAULT_TIME_ZONE = 'Asia/Shanghai'
/** The currency of amounts that carry none (bills, payments): CNY, shown as ¥. */
export const DEFAULT_CURRENCY = 'CNY'

/** A hub time as milliseconds since the epoch, or NaN. The hub sends ISO-8601 strings or epoch
 * seconds (floats); accept both, and milliseconds, and Date objects. */
export function toMillis(t: Stamp): number {
  if (t === null || t === undefined || t === '') return NaN
  if (t instanceof Date) return t.getTime()
  if (typeof t === 'number') return t < 1e11 ? t * 1000 : t
  if (/^\d+(\.\d+)?$/.test(t.trim())) return toMillis(Number(t))
  return Date.parse(t)
}

export interface FormatContext {
  locale: string
  timeZone: string
}

function validZone(tz: string | null | undefined): string {
  if (!tz) return DEFAULT_TIME_ZONE
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz })
    return tz
  } catch {
    return DEFAULT_TIME_ZONE
  }
}

function dtf(c: FormatContext, opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat(c.locale, { timeZone: validZone(c.timeZone), ...opts })
}

function asDate(t: Stamp): Date | null {
  const ms = toMillis(t)
  return isNaN(ms) ? null : new Date(ms)
}

/** The calendar day of a moment in the context's time zone, as YYYY-MM-DD. */
function dayKey(c: FormatContext, d: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: validZone(c.timeZone), year: 'numeric', month: '2-digit', day: '2-digit' }).format(d)
}

/** 2026年12月7日 / Dec 7, 2026 */
export function formatDate(c: FormatContext, t: Stamp): string {
  const d = asDate(t)
  return d ? dtf(c, { year: 'numeric', month: 'short', day: 'numeric' }).format(d) : ''
}

/** 14:05 / 2:05 PM */
export function formatTime(c: FormatContext, t: Stamp): string {
  const d = asDate(t)
  return d ? dtf(c, { hour: '2-digit', minute: '2-digit' }).format(d) : ''
}

/** 2026/12/07 14:05:09 / 12/07/2026, 02:05:09 PM */
export function formatDateTime(c: FormatContext, t: Stamp): string {
  const d = asDate(t)
  return d
    ? dtf(c, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(d)
    : ''
}

/** Only the time for today (in the context's zone), else the day and time: lists and transcripts. */
export function formatShortTime(c: FormatContext, t: Stamp, now: number = Date.now()): string {
  const d = asDate(t)
  if (!d) return ''
  if (dayKey(c, d) === dayKey(c, new Date(now))) return formatTime(c, d)
  return dtf(c, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }).format(d)
}

/** A running clock: 05:09, 1:02:03 (the same in every locale). */
export function formatClock(totalSeconds: number | null | undefined): string {
  if (totalSeconds === null || totalSeconds === undefined || !isFinite(totalSeconds)) return '—'
  const s = Math.max(0, Math.floor(totalSeconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  const pad = (n: number) => String(n).padStart(2, '0')
  return h ? `${h}:${pad(m)}:${pad(sec)}` : `${pad(m)}:${pad(sec)}`
}

/** A span in words: 1小时5分钟 / 1 hr, 5 min; 45秒 / 45 sec. Seconds are dropped past an hour. */
export function formatDuration(c: FormatContext, totalSeconds: number | null | undefined): string {
  if (totalSeconds === null || totalSeconds === undefined || !isFinite(totalSeconds)) return '—'
  const s = Math.max(0, Math.round(totalSeconds))
  const parts: [number, string][] = [
    [Math.floor(s / 86400), 'day'],
    [Math.floor((s % 86400) / 3600), 'hour'],
    [Math.floor((s % 3600) / 60), 'minute'],
    [s >= 3600 ? 0 : s % 60, 'second'],
  ]
  const shown = parts.filter(([n]) => n > 0)
  const items = (shown.length ? shown : [[0, 'second'] as [number, string]]).map(([n, unit]) =>
    new Intl.NumberFormat(c.locale, { style: 'unit', unit, unitDisplay: 'short' }).format(n))
  const sep = c.locale.toLowerCase().startsWith('zh') ? '' : ', '
  return items.join(sep)
}

/** 1,234.5 in both locales (grouping per locale); `digits` fixes the fraction digits. */
export function formatNumber(c: FormatContext, n: number | null | undefined, digits?: number): string {
  if (n === null || n === undefined || !isFinite(n)) return '—'
  const opts: Intl.NumberFormatOptions = digits === undefined ? {} : { minimumFractionDigits: digits, maximumFractionDigits: digits }
  return new Intl.NumberFormat(c.locale, opts).format(n)
}

/** A ratio (0..1) or a percentage (>1) as a whole percentage: 87%. */
export function formatPercent(c: FormatContext, v: number | null | undefined): string {
  if (v === null || v === undefined || !isFinite(v)) return '—'
  const ratio = v <= 1 ? v : v / 100
  return new Intl.NumberFormat(c.locale, { style: 'percent', maximumFractionDigits: 0 }).format(ratio)
}

/** ¥1,234.50 — the narrow symbol in every locale (English would otherwise write CN¥). */
export function formatCurrency(c: FormatContext, amount: number | null | undefined, currency: string = DEFAULT_CURRENCY): string {
  if (amount === null || amount === undefined || !isFinite(amount)) return '—'
  return new Intl.NumberFormat(c.locale, { style: 'currency', currency, currencyDisplay: 'narrowSymbol' }).format(amount)
}

/** 512 B, 1.5 KB, 2.3 MB with the locale's decimal mark. */
export function formatFileSize(c: FormatContext, n: number): string {
  if (n < 1024) return `${formatNumber(c, n)} B`
  if (n < 1024 * 1024) return `${formatNumber(c, n / 1024, 1)} KB`
  return `${formatNumber(c, n / 1024 / 1024, 1)} MB`
}
