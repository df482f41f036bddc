// Knowledge-base objects (kb/schemas.py), from the generated schema.d.ts.
import type { components } from '../../api/schema'
import { formatDateTime, t, te } from '../../i18n'

type S = components['schemas']

export type KbStatus = S['KbArticle']['status']
export type KbStats = S['KbStats']
/** An article; `favourite` only when read one by one. */
export type KbArticle = S['KbArticle'] & Partial<Pick<S['KbArticleView'], 'favourite'>>
export type KbArticles = S['KbArticles']
export type KbHit = S['KbHit']
export type KbSearch = S['KbSearch']
export type KbVersion = S['KbVersion']
export type KbChange = S['KbChange']
export type KbDiff = S['KbDiff']
export type KbJob = S['KbImportJob']
export type KbGap = S['KbGap']
export type KbFacets = S['KbFacets']
export type KbHot = S['KbHot']
export type KbFeedbackReport = S['KbFeedbackReport']

/** A hub time (epoch seconds) as a date and time in the user's language and time zone. */
export function when(epoch: number | null | undefined): string {
  return epoch ? formatDateTime(epoch) : ''
}

/** An article status (draft, published, archived) in the user's language. */
export function statusLabel(s: string | null | undefined): string {
  if (!s) return ''
  return te(`kb.status.${s}`) ? t(`kb.status.${s}`) : s
}

/** Counts by kind ({chat: 2, email: 1} or {viewed: 3, …}) as "聊天 2、邮件 1" / "chat 2, email 1". */
export function countsText(counts: Record<string, number>, label: (k: string) => string): string {
  return Object.entries(counts).map(([k, n]) => `${label(k)} ${n}`).join(t('common.listSep'))
}
