// Words for a call record's codes (segment kinds, why a segment began, why the call ended) in the
// user's language, with the code itself for one the catalogues do not know yet.
import { i18n } from '../../i18n'

const { t, te } = i18n.global

function label(area: string, code: string | null | undefined): string {
  if (!code) return ''
  const key = `calls.${area}.${code}`
  return te(key) ? t(key) : code.replace(/_/g, ' ')
}

export const kindLabel = (code: string) => label('kinds', code)
export const reasonLabel = (code: string | null | undefined) => label('reasons', code)
export const endLabel = (code: string | null | undefined) => label('endReasons', code)

/** Seconds as m:ss (h:mm:ss past an hour); '—' for none. */
export function duration(s: number | null | undefined): string {
  if (s === null || s === undefined) return '—'
  const total = Math.round(s)
  const h = Math.floor(total / 3600)
  const m = Math.floor((total % 3600) / 60)
  const sec = String(total % 60).padStart(2, '0')
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`
}
