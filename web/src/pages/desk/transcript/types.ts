// Live call transcript (VOICE-6): what /desk pushes as `transcript` and
// GET /api/voice/conversations/{id}/transcript returns.

export type TranscriptLeg = 'caller' | 'agent'

export interface TranscriptWord {
  text: string
  start_s: number
  end_s: number
  conf: number
}

/** A stored final utterance of one call leg (times: seconds since the call was answered). */
export interface TranscriptSegment {
  id: string
  conversation_id: string
  call_id: string
  leg: TranscriptLeg
  speaker: string
  agent_id: string | null
  text: string
  start_s: number
  end_s: number
  started_at: number
  ended_at: number
  confidence: number | null
  words: TranscriptWord[]
  late: boolean
}

/** Pushed live: a partial (final=false, replaced by the next partial or the final of its leg) or a final segment. */
export type TranscriptEvent =
  | (TranscriptSegment & { final: true })
  | {
      final: false
      conversation_id: string
      call_id: string
      leg: TranscriptLeg
      speaker: string
      text: string
      start_s: number
      late: boolean
    }
