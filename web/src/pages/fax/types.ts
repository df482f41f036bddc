// Shapes of the fax channel's API (channels/fax/schemas.py), from the generated schema.d.ts.
import type { components } from '../../api/schema'

type S = components['schemas']

export type FaxPage = S['FaxPage']
/** A fax as a page shows it: the detail has its pages, a search hit its match and jobs. */
export type Fax = Omit<S['FaxDetail'], 'pages'> &
  Partial<Pick<S['FaxDetail'], 'pages'>> &
  Partial<Pick<S['FaxSearchHit'], 'match' | 'jobs' | 'job_count'>>
export type FaxDetail = S['FaxDetail']
export type FaxSearchHit = S['FaxSearchHit']
export type FaxBulk = S['FaxBulk']
export type LibraryItem = S['LibraryItem']
export type FaxJob = S['FaxJob']
export type FaxJobs = S['FaxJobs']
