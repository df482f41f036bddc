// Shapes of the email channel's API (channels/email, docs/API.md "Email").
export interface EmailView {
  message_id: string
  conversation_id: string
  direction: 'in' | 'out'
  rfc_message_id: string
  subject: string | null
  from: string | null
  to: string[]
  cc: string[]
  date: string | null
  html: string | null
  remote_images: string[]
  remote_images_shown: boolean
  auto: string | null
  status: 'received' | 'queued' | 'sent' | 'failed'
  attempts: number
  last_error: string | null
  quarantined: { attachment_id: string; filename: string; reason: string }[]
}

export interface EmailTemplate {
  id: string
  name: string
  subject: string
  body: string
  html: string | null
  placeholders: string[]
}

export interface RenderedTemplate {
  template_id: string
  subject: string
  body: string
  html: string | null
}

export interface EmailBulkJob {
  id: string
  name: string
  template_id: string | null
  template_name: string | null
  subject: string
  status: 'scheduled' | 'running' | 'done' | 'cancelled'
  rate_per_s: number
  created_by: string | null
  total: number
  scheduled_at: number | null
  created_at: number
  started_at: number | null
  finished_at: number | null
  source: string | null
  counts: { waiting: number; sent: number; failed: number; cancelled: number }
  progress: number
}
