// Browser softphone (voice/webrtc): what the hub says about a call leg on this agent's softphone
// (voice/webrtc/schemas.py, voice/calls/schemas.py), from the generated schema.d.ts.
import type { components } from '../../../api/schema'

type S = components['schemas']

/** A leg as the REST answers give it; the `softphone_*` pushes may add `reason` and `consult_outcome`. */
export type SoftphoneLeg = S['SoftphoneLeg'] & {
  reason?: string
  consult_outcome?: string
}
export type ConsultInfo = S['ConsultInfo']
export type ConsultTargets = S['ConsultTargets']
export type SoftphoneStatus = S['SoftphoneStatus']
export type SdpAnswer = S['SdpAnswer']
/** A monitoring session; the `monitor_ended` push adds `reason`. */
export type MonitorInfo = S['MonitorInfo'] & { reason?: string }
export type MonitorCall = S['MonitorCall']
export type MonitorCalls = S['MonitorCalls']
export type MonitorAnswer = S['MonitorAnswer']
