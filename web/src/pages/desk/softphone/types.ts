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
