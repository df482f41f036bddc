// Live call transcript (VOICE-6): GET /api/voice/conversations/{id}/transcript
// (voice/calls/schemas.py, from the generated schema.d.ts) and the `transcript` push on /desk.
import type { components } from '../../../api/schema'

type S = components['schemas']

export type TranscriptSegment = S['TranscriptSegment']
export type TranscriptLeg = TranscriptSegment['leg']
export type TranscriptWord = S['TranscriptWord']
export type Transcript = S['Transcript']
/** Whether one answered call was transcribed (also pushed as `transcript_status`). */
export type CallTranscription = S['CallTranscription']

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
