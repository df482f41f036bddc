// The widget's language: `lang` in the iframe's address (public/widget.js passes the script tag's
// data-lang, else the host page's <html lang>), else the browser's. The widget's own words come
// from the catalogues (src/i18n); a hub that writes customer texts per language (its config
// answers with `language`) is told the language for the pre-chat labels, the chat and the
// offline form.
import { api } from '../api/client'
import type { WidgetConfig } from '../api/types'
import { currentLocale, resolveLocale, setLocale, type Locale } from '../i18n'

/** Set the widget's language from its address (not remembered: the staff app's choice is not the
 * customer's). */
export function startWidgetLanguage(search: string = window.location.search): Locale {
  return setLocale(resolveLocale(new URLSearchParams(search).get('lang')), false)
}

/** Whether the hub writes the widget's texts in a language asked for (it answers with one). */
export function speaksWidgetLanguage(config: WidgetConfig): boolean {
  return typeof (config as { language?: unknown }).language === 'string'
}

/** The widget configuration, its texts in the widget's language where the hub has them. */
export async function loadConfig(queue: string): Promise<WidgetConfig> {
  const config = await api.get<WidgetConfig>('/api/widget/config', { queue })
  const language = (config as { language?: string }).language
  if (!speaksWidgetLanguage(config) || language === currentLocale()) return config
  return api.get<WidgetConfig>('/api/widget/config', { queue, lang: currentLocale() })
}

/** A body for a hub that takes the customer's language (`lang`), as it is for one that does not. */
export function withLanguage<B extends Record<string, unknown>>(config: WidgetConfig, body: B): B & { lang?: string } {
  return speaksWidgetLanguage(config) ? { ...body, lang: currentLocale() } : body
}
