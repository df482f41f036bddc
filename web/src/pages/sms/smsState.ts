// Delivery state of the SMS behind the open conversation's messages, kept live from the
// `sms_status` desk event. Shared by the thread header and the per-message ticks.
import { reactive, ref } from 'vue'
import { api } from '../../api/client'
import { onDesk } from '../../api/socket'
import type { SmsConversation, SmsRecord, SmsStatus } from './types'

const RANK: Record<string, number> = { pending: 0, queued: 0, sent: 2, delivered: 3, failed: 3, skipped: 3, cancelled: 3 }

export const smsByMessage = reactive<Record<string, { status: SmsStatus; segments: number; error: string | null }>>({})
export const smsPhone = ref<string | null>(null)
export const smsMaxSegments = ref(10)
let loadedFor: string | null = null
let subscribed = false

function put(messageId: string, status: SmsStatus, segments?: number, error?: string | null) {
  const cur = smsByMessage[messageId]
  if (cur && (RANK[cur.status] ?? 0) > (RANK[status] ?? 0)) return // never backwards
  smsByMessage[messageId] = { status, segments: segments ?? cur?.segments ?? 1, error: error ?? null }
}

export async function loadSms(conversationId: string) {
  loadedFor = conversationId
  if (!subscribed) {
    subscribed = true
    onDesk('sms_status', (e) => {
      if (e.message_id) put(e.message_id, e.status, undefined, e.error)
    })
    onDesk('resync', () => loadedFor && void loadSms(loadedFor))
  }
  const data = await api.get<SmsConversation>(`/api/sms/conversations/${encodeURIComponent(conversationId)}`)
  if (loadedFor !== conversationId) return
  smsPhone.value = data.phone
  smsMaxSegments.value = data.max_segments
  for (const m of data.messages as SmsRecord[]) if (m.message_id) put(m.message_id, m.status, m.segments, m.error)
}

/** A just-sent reply: queued until the first report. */
export function noteQueued(messageId: string) {
  put(messageId, 'queued')
}
