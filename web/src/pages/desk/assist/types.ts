// assist/ (ASSIST-1): live FAQ suggestions, entities, summary, category suggestions.
import type { Id, Sender } from '../../../api/types'

export interface AssistSuggestion {
  article_id: Id
  question: string
  answer: string
  answer_html: string
  snippet: string
  score: number
  confidence: number
  confident: boolean
  category: string
  mode: string
}
export interface AssistSuggestions {
  conversation_id: Id
  query: string | null
  at: number | null
  suggestions: AssistSuggestion[]
}
export interface AssistEntity {
  kind: 'email' | 'account' | 'date' | 'amount' | 'phone' | 'address'
  text: string
  value: string
  start: number
  end: number
  message_id: Id
  sender: Sender
}
export interface AssistPanelData {
  conversation_id: Id
  kb: boolean
  suggestions: AssistSuggestions
  entities: AssistEntity[]
  summary: { text: string; sentences: { sender: Sender; text: string; score: number }[] }
  categories: { category: string; score: number; neighbours: number }[]
}
export interface InsertResult {
  article_id: Id
  question: string
  text: string
  html: string
}
