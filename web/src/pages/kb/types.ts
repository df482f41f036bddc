// Knowledge-base objects (kb/schemas.py), from the generated schema.d.ts.
import type { components } from '../../api/schema'

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

export function when(epoch: number | null | undefined): string {
  return epoch ? new Date(epoch * 1000).toLocaleString() : ''
}
