// Call recordings (VOICE-5): GET /api/voice/recordings (voice/calls/schemas.py), from the
// generated schema.d.ts.
import type { components } from '../../api/schema'

type S = components['schemas']

export type Recording = S['Recording']
export type RecordingPage = S['RecordingPage']
export type QueueRecordingSetting = S['QueueRecordingSetting']
export type QueueRecordingSettings = S['QueueRecordingSettings']
