// Call records (issue 18, item 7): GET /api/voice/calls (a page), /api/voice/calls/{id} (one call
// with its per-leg history), from the generated schema.d.ts (voice/calls/schemas.py).
import type { components } from '../../api/schema'

type S = components['schemas']

export type CallRecord = S['CallRecord']
export type CallSegment = S['CallSegment']
export type VoiceCalls = S['VoiceCalls']
