export interface FaxPage {
  page_no: number
  width: number
  height: number
  ocr_text: string | null
  image_url: string
  thumb_url: string
}

export interface Fax {
  id: string
  direction: 'in' | 'out'
  source: string
  status: string
  from_number: string | null
  to_number: string | null
  page_count: number
  original_type: string
  ocr_status: string
  conversation_id: string | null
  created_at: number
  original_url: string
  pages?: FaxPage[]
  match?: string | null
  jobs?: { to: string; status: string }[]
  job_count?: number
}

export interface FaxBulk {
  id: string
  name: string
  document_id: string
  status: string
  total: number
  created_by: string | null
  created_at: number
  finished_at: number | null
  counts: { queued: number; sending: number; sent: number; failed: number; cancelled: number }
}

// The fax-on-demand library (GET/POST /api/fax/library, PATCH/DELETE /api/fax/library/{key})
export interface LibraryItem {
  id: string
  code: string
  title: string
  description: string
  document_id: string
  page_count: number
  created_at: number
  updated_at: number
}

export interface FaxJob {
  id: string
  document_id: string
  bulk_id: string | null
  to_number: string
  status: 'queued' | 'sending' | 'sent' | 'failed' | 'cancelled'
  attempts: number
  error: string | null
  created_at: number
  updated_at: number
}
