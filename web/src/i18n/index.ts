// The UI's translations (vue-i18n, composition mode) and locale-bound formatting, shared by the
// staff app (src/main.ts) and the chat widget (src/widget/main.ts).
//
// Catalogues: src/i18n/locales/<locale>/<area>.json, one file per area of the UI, merged as
// { [locale]: { [area]: {...} } }, so a key reads `area.key` (e.g. `desk.reply.send`).
// `npm run build` runs scripts/check-i18n.mjs: every key used exists in every locale, the locales
// have the same keys, and no .vue template holds raw text outside t().
import { ref } from 'vue'
import { createI18n } from 'vue-i18n'
import * as F from './format'
import type { Stamp } from './format'

export type { Stamp } from './format'
export { DEFAULT_TIME_ZONE, DEFAULT_CURRENCY, toMillis, formatClock } from './format'

export const SUPPORTED_LOCALES = ['zh-CN', 'en'] as const
export type Locale = (typeof SUPPORTED_LOCALES)[number]
export const FALLBACK_LOCALE: Locale = 'en'
const STORAGE_KEY = 'hub.lang'

type Messages = Record<string, Record<string, unknown>>

function loadMessages(): Record<string, Messages> {
  const files = import.meta.glob<Record<string, unknown>>('./locales/*/*.json', { eager: true, import: 'default' })
  const out: Record<string, Messages> = {}
  for (const [path, data] of Object.entries(files)) {
    const m = /\.\/locales\/([^/]+)\/([^/]+)\.json$/.exec(path)
    if (!m) continue
    const [, locale, area] = m
    ;(out[locale] ??= {})[area] = data
  }
  return out
}

/** The supported locale a language tag asks for (zh, zh-Hans, zh-TW → zh-CN; en-US → en), or null. */
export function matchLocale(tag: string | null | undefined): Locale | null {
  const t = (tag ?? '').trim().toLowerCase().replace('_', '-')
  if (!t) return null
  if (t === 'zh' || t.startsWith('zh-')) return 'zh-CN'
  if (t === 'en' || t.startsWith('en-')) return 'en'
  return null
}

/** The first of the candidates that names a supported locale, else the browser's languages, else English. */
export function resolveLocale(...candidates: (string | null | undefined)[]): Locale {
  const browser = typeof navigator === 'undefined' ? [] : [...(navigator.languages ?? []), navigator.language]
  for (const c of [...candidates, ...browser]) {
    const l = matchLocale(c)
    if (l) return l
  }
  return FALLBACK_LOCALE
}

/** The browser's language, as the default for a user with no language in the profile. */
export function browserLocale(): Locale {
  return resolveLocale()
}

function remembered(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY)
  } catch {
    return null
  }
}

export const i18n = createI18n({
  legacy: false,
  locale: resolveLocale(remembered()),
  fallbackLocale: FALLBACK_LOCALE,
  messages: loadMessages(),
  missingWarn: false,
  fallbackWarn: false,
})

/** t() for code outside components (toasts, stores, lists built in script). */
export const t = i18n.global.t
/** Whether a key exists (e.g. `errors.<code>` from the API). */
export const te = i18n.global.te

export function currentLocale(): Locale {
  return i18n.global.locale.value as Locale
}

/** Switch the UI language now (and remember it on this browser for the login page). */
export function setLocale(locale: string | null | undefined, remember = true): Locale {
  const l = matchLocale(locale) ?? browserLocale()
  i18n.global.locale.value = l
  if (typeof document !== 'undefined') document.documentElement.lang = l
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, l)
    } catch {
      /* storage may be off (private mode, sandboxed iframe): the choice lasts for this page */
    }
  }
  return l
}

const zone = ref<string>(F.DEFAULT_TIME_ZONE)
/** The user's time zone (none set: Asia/Shanghai). */
export function setTimeZone(tz: string | null | undefined) {
  zone.value = tz || F.DEFAULT_TIME_ZONE
}
export function currentTimeZone(): string {
  return zone.value
}

function ctx(): F.FormatContext {
  return { locale: currentLocale(), timeZone: zone.value }
}

// Formatting in the user's locale and time zone (reactive: a template re-renders on a switch).
export const formatDate = (t: Stamp) => F.formatDate(ctx(), t)
export const formatTime = (t: Stamp) => F.formatTime(ctx(), t)
export const formatDateTime = (t: Stamp) => F.formatDateTime(ctx(), t)
export const formatShortTime = (t: Stamp, now?: number) => F.formatShortTime(ctx(), t, now)
export const formatDuration = (seconds: number | null | undefined) => F.formatDuration(ctx(), seconds)
export const formatNumber = (n: number | null | undefined, digits?: number) => F.formatNumber(ctx(), n, digits)
export const formatPercent = (v: number | null | undefined) => F.formatPercent(ctx(), v)
export const formatCurrency = (amount: number | null | undefined, currency?: string) => F.formatCurrency(ctx(), amount, currency)
export const formatFileSize = (n: number) => F.formatFileSize(ctx(), n)

if (typeof document !== 'undefined') document.documentElement.lang = currentLocale()
