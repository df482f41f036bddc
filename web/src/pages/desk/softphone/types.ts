// Browser softphone (voice/webrtc): what the hub sends about a call leg on this agent's softphone.
export interface SoftphoneLeg {
  leg_id: string
  call_id: string
  conversation_id: string | null
  caller: string
  caller_name: string | null
  callee: string
  queue_id: string | null
  state: 'new' | 'ringing' | 'connected' | 'ended'
  on_hold: boolean
  muted: boolean
  /** hub clock, seconds */
  expires_at: number | null
  reason?: string
  /** the consultation this agent started on the call (voice/calls/consult.py) */
  consult?: ConsultInfo | null
  /** set on a leg ringing for a colleague's consultation: that colleague's id */
  consulted_by?: string | null
  call_ended?: boolean
  consult_outcome?: string
  /** the hub lost this leg's browser connection and waits for the page to reconnect */
  reconnecting?: boolean
}

export interface ConsultInfo {
  consult_id: string
  call_id: string
  kind: 'agent' | 'queue' | 'external'
  target: string
  label: string
  state: 'ringing' | 'talking' | 'conference' | 'ended'
  party_agent_id: string | null
}

export interface ConsultTargets {
  agents: { id: string; name: string; reachable: 'softphone' | 'desk_phone' | null; busy: boolean; state: string }[]
  queues: { id: string; name: string }[]
  external: boolean
  external_pattern: string | null
}

export interface SoftphoneStatus {
  online: boolean
  lease_s: number
  expires_in: number
  ice_servers: string[]
  legs: SoftphoneLeg[]
}

export interface MonitorInfo {
  monitor_id: string
  call_id: string
  conversation_id: string | null
  mode: 'listen' | 'whisper' | 'barge'
  agent_id: string | null
  reason?: string
}

export interface MonitorCall {
  id: string
  state: string
  caller: string
  caller_name: string | null
  callee: string
  conversation_id: string | null
  queue_id: string | null
  agent_id: string | null
  connected_at: number | null
  softphone: boolean
  monitors: MonitorInfo[]
}
