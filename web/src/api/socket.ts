// The one Socket.IO connection of the staff SPA: namespace /desk.
import { io, type Socket } from 'socket.io-client'
import { ref } from 'vue'
import type {
  AgentStateEvent,
  ConversationSummary,
  Message,
  OfferEvent,
  OfferRevokedEvent,
  ScreenPop,
  TypingEvent,
  Wallboard,
} from './types'

export interface DeskEvents {
  offer: OfferEvent
  offer_revoked: OfferRevokedEvent
  conversation: ConversationSummary
  message: Message
  typing: TypingEvent
  agent_state: AgentStateEvent
  wallboard: Wallboard
  screen_pop: ScreenPop
  /** workflows: a stored notification for the bell (with the new unread count) */
  notification: { id: string; kind: string; title: string; body: string; link: string | null; created_at: number; unread: number }
  // SMS channel (web/src/pages/sms)
  sms_status: import('../pages/sms/types').SmsStatusEvent
  sms_bulk: import('../pages/sms/types').BulkJob
  // email channel (web/src/pages/email)
  email_bulk: import('../pages/email/types').EmailBulkJob
  // fax channel (web/src/pages/fax)
  fax_bulk: import('../pages/fax/types').FaxBulk
  fax_updated: { fax_id: string; conversation_id: string | null; ocr_status: string }
  // browser softphone and call monitoring (web/src/pages/desk/softphone)
  softphone_ring: import('../pages/desk/softphone/types').SoftphoneLeg
  softphone_state: import('../pages/desk/softphone/types').SoftphoneLeg
  softphone_ended: import('../pages/desk/softphone/types').SoftphoneLeg
  monitor_ended: import('../pages/desk/softphone/types').MonitorInfo
  // assist (web/src/pages/desk/assist): live FAQ suggestions for a conversation
  assist: import('../pages/desk/assist/types').AssistSuggestions
  // live call transcript (web/src/pages/desk/transcript): partials and finals of both legs
  transcript: import('../pages/desk/transcript/types').TranscriptEvent
  // whether an answered call is transcribed (not when every transcription stream is in use)
  transcript_status: import('../pages/desk/transcript/types').CallTranscription
  /** Synthetic: emitted after a reconnect so views refetch their state. */
  resync: void
}
type Handler<K extends keyof DeskEvents> = (payload: DeskEvents[K]) => void

/** 'connecting' | 'online' | 'offline' for the connection indicator in the top bar. */
export const deskStatus = ref<'connecting' | 'online' | 'offline'>('offline')

let socket: Socket | null = null
let everConnected = false
let retryTimer: number | undefined
const handlers = new Map<string, Set<(p: unknown) => void>>()
let authProbe: (() => Promise<boolean>) | null = null

function dispatch(event: string, payload: unknown) {
  handlers.get(event)?.forEach((h) => {
    try {
      h(payload)
    } catch (e) {
      console.error(`desk handler for ${event} failed`, e)
    }
  })
}

const FORWARDED: (keyof DeskEvents)[] = [
  'offer',
  'offer_revoked',
  'conversation',
  'message',
  'typing',
  'agent_state',
  'wallboard',
  'screen_pop',
  'assist',
  'transcript',
  'transcript_status',
  'notification',
  'sms_status',
  'sms_bulk',
  'fax_bulk',
  'fax_updated',
  'softphone_ring',
  'softphone_state',
  'softphone_ended',
  'monitor_ended',
]

/**
 * Connect once after login. `stillAuthenticated` is asked when the server refuses the
 * connection (middleware error): if it says false, the app goes to /login.
 */
export function connectDesk(stillAuthenticated: () => Promise<boolean>) {
  authProbe = stillAuthenticated
  if (socket) return
  deskStatus.value = 'connecting'
  socket = io('/desk', { withCredentials: true, transports: ['websocket'] })
  for (const ev of FORWARDED) socket.on(ev, (p: unknown) => dispatch(ev, p))
  socket.on('connect', () => {
    deskStatus.value = 'online'
    if (everConnected) dispatch('resync', undefined)
    everConnected = true
  })
  socket.on('disconnect', async (reason: string) => {
    deskStatus.value = 'offline'
    // Closed by the server: this session ended (logout elsewhere, an administrator) or the user's
    // access changed. The probe goes to /login if the session is gone; otherwise reconnect, with
    // the rooms the new access allows.
    if (reason === 'io server disconnect' && socket) {
      const ok = authProbe ? await authProbe() : true
      if (!ok) return
      window.clearTimeout(retryTimer)
      retryTimer = window.setTimeout(() => socket?.connect(), 300)
    }
  })
  socket.on('connect_error', async () => {
    deskStatus.value = 'offline'
    // socket.active is false when the server refused us: no automatic reconnection then.
    if (socket && !socket.active) {
      const ok = authProbe ? await authProbe() : true
      if (!ok) return
      window.clearTimeout(retryTimer)
      retryTimer = window.setTimeout(() => socket?.connect(), 3000)
    }
  })
}

export function disconnectDesk() {
  window.clearTimeout(retryTimer)
  socket?.removeAllListeners()
  socket?.disconnect()
  socket = null
  everConnected = false
  deskStatus.value = 'offline'
}

export function onDesk<K extends keyof DeskEvents>(event: K, handler: Handler<K>): () => void {
  let set = handlers.get(event)
  if (!set) handlers.set(event, (set = new Set()))
  const h = handler as (p: unknown) => void
  set.add(h)
  return () => set!.delete(h)
}

export function emitDesk(event: 'typing', payload: { conversation_id: string }) {
  socket?.emit(event, payload)
}
