// Shapes of the SMS channel's API (channels/sms, docs/API.md "SMS").
export type SmsStatus =
  | 'received' | 'routed' | 'answered' | 'pending' | 'queued' | 'sent' | 'delivered' | 'failed' | 'skipped' | 'cancelled'

export interface SmsRecord {
  id: string
  direction: 'in' | 'out'
  phone: string
  body: string
  encoding: 'gsm7' | 'ucs2'
  segments: number
  status: SmsStatus
  kind: string
  conversation_id: string | null
  message_id: string | null
  attempts: number
  error: string | null
  created_at: number
}

export interface SmsConversation {
  conversation_id: string
  phone: string | null
  max_segments: number
  messages: SmsRecord[]
}

export interface SmsStatusEvent {
  sms_id: string
  conversation_id: string
  message_id: string | null
  status: SmsStatus
  error: string | null
}

export interface BulkCounts {
  waiting: number
  sent: number
  delivered: number
  failed: number
  skipped: number
  cancelled: number
}

export interface BulkJob {
  id: string
  name: string
  template: string
  status: 'scheduled' | 'running' | 'done' | 'cancelled'
  total: number
  duplicates: number
  scheduled_at: number | null
  created_at: number
  started_at: number | null
  finished_at: number | null
  counts: BulkCounts
}

// Keyword self-service (SMS-1): GET/PUT/DELETE /api/sms/keywords, GET /api/sms/optouts, /api/sms/status
export type KeywordAction = 'reply' | 'balance' | 'stop' | 'start'

export interface KeywordRule {
  keyword: string
  action: KeywordAction
  reply: string
  fallback: string | null
  enabled: boolean
}

export interface OptOut {
  phone: string
  keyword: string | null
  source: string
  created_at: number
}

export interface SmsGatewayStatus {
  gateway: string
  url?: string
  smsc?: string
  bound?: boolean
  last_error?: string | null
  counts: { in: Record<string, number>; out: Record<string, number> }
}

export interface SmsLogEntry extends SmsRecord {
  keyword: string | null
}
