// Knowledge-base objects (docs/API.md, "Knowledge base").
export type KbStatus = 'draft' | 'published' | 'archived'

export interface KbStats {
  helpful: number
  not_helpful: number
  viewed: number
  suggested: number
  inserted: number
  bot_answered: number
}

export interface KbArticle {
  id: string
  question: string
  alternatives: string[]
  answer_html: string
  answer_text: string
  category: string
  product: string
  keywords: string[]
  language: string
  status: KbStatus
  owner_id: string | null
  version: number
  created_at: number
  updated_at: number
  published_at: number | null
  stats?: KbStats
  favourite?: boolean
}

export interface KbHit {
  article_id: string
  question: string
  answer_text: string
  answer_html: string
  category: string
  product: string
  status: KbStatus
  score: number
  confidence: number
  mode: 'hybrid' | 'lexical'
  highlights: Record<string, string>
}

export interface KbVersion {
  version: number
  action: string
  note: string | null
  author_id: string | null
  created_at: number
  status: KbStatus
  question: string
}

export interface KbChange {
  field: string
  before: string | string[]
  after: string | string[]
  ops?: [string, string][]
  added?: string[]
  removed?: string[]
}

export interface KbJob {
  id: string
  status: 'running' | 'done' | 'failed'
  format: string
  filename: string
  total: number
  processed: number
  created: number
  updated: number
  errors: { row: number | string; reason: string; question?: string }[]
  detail: string | null
}

export interface KbGap {
  id: string
  question: string
  count: number
  channels: Record<string, number>
  last_at: number
  status: 'open' | 'resolved' | 'dismissed'
  article_id: string | null
}

export interface KbFacets {
  categories: string[]
  products: string[]
  statuses: Record<KbStatus, number>
}

export function when(epoch: number | null | undefined): string {
  return epoch ? new Date(epoch * 1000).toLocaleString() : ''
}
