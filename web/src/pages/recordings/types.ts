// Call recordings (VOICE-5): the rows of GET /api/voice/recordings (voice/calls/recordings.py).
export interface Recording {
  id: string
  call_id: string
  conversation_id: string | null
  attachment_id: string | null
  duration_s: number
  channels: number
  sample_rate: number
  created_at: number
  size: number | null
  filename: string | null
  caller: string
  callee: string
  direction: string
  source: string
  queue_id: string | null
  queue_name: string | null
  agent_id: string | null
  agent_name: string | null
  started_at: number
  connected_at: number | null
  ended_at: number | null
  end_reason: string | null
  wait_s: number | null
  talk_s: number | null
  audio_url: string
}

export interface RecordingPage {
  items: Recording[]
  total: number
  limit: number
  offset: number
}

export interface QueueRecordingSetting {
  queue_id: string
  name: string
  record: boolean | null
  effective: boolean
}
