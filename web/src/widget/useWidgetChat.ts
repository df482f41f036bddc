// Customer-side chat state: server history, optimistic messages with acks, status, typing.
import { computed, ref } from 'vue'
import { t } from '../i18n'
import type { Socket } from 'socket.io-client'
import type {
  Attachment,
  ConversationStatus,
  CustomerMessage,
  Epoch,
  IsoTime,
  Message,
  WidgetAck,
  WidgetConversation,
} from '../api/types'
import { uuid } from '../util/misc'

export interface WMessage {
  key: string
  id: string | null
  client_id: string | null
  sender: Message['sender']
  sender_name: string | null
  body: string
  attachments: Attachment[]
  /** the server's time, or the browser's while it is being sent */
  created_at: Epoch | IsoTime
  state: 'sending' | 'sent' | 'failed'
  error?: string
}

const ACK_TIMEOUT_MS = 15000

function fromServer(m: CustomerMessage | Message): WMessage {
  return {
    key: `s:${m.id}`,
    id: m.id,
    client_id: null,
    sender: m.sender,
    sender_name: m.sender_name,
    body: m.body,
    attachments: m.attachments ?? [],
    created_at: m.created_at,
    state: 'sent',
  }
}

export function useWidgetChat() {
  const messages = ref<WMessage[]>([])
  const status = ref<ConversationStatus>('queued')
  const agentName = ref<string | null>(null)
  const agentTyping = ref(false)
  const csatRequested = ref(false)
  let socket: Socket | null = null
  let typingTimer: number | undefined

  const ended = computed(() => status.value === 'closed' || status.value === 'abandoned')

  function setSocket(s: Socket | null) {
    socket = s
  }

  /** Merge the server's view (initial load or after a reconnect) with local unsent messages. */
  function applyConversation(c: WidgetConversation) {
    const local = messages.value.filter((m) => m.state !== 'sent' && !m.id)
    const server = (c.messages ?? []).filter((m) => m.kind !== 'note').map(fromServer)
    const ids = new Set(server.map((m) => m.id))
    // Pushed over the socket after the server read this view: keep them.
    const pushed = messages.value.filter((m) => m.id && !ids.has(m.id))
    // Keep client keys stable for messages we already show, so the list does not flicker.
    for (const m of messages.value) if (m.id && ids.has(m.id)) {
      const s = server.find((x) => x.id === m.id)!
      s.key = m.key
      s.client_id = m.client_id
    }
    messages.value = [...server, ...pushed, ...local]
    status.value = c.status
    agentName.value = c.agent_name
  }

  function receive(m: Message) {
    if (m.kind === 'note') return
    if (messages.value.some((x) => x.id === m.id)) return
    if (m.sender === 'customer') {
      // Our own message echoed before its ack: attach the id, keep waiting for the ack.
      const mine = messages.value.find((x) => !x.id && x.state === 'sending' && x.body === m.body)
      if (mine) {
        mine.id = m.id
        return
      }
    }
    if (m.sender === 'agent') agentTyping.value = false
    messages.value.push(fromServer(m))
  }

  function typing() {
    agentTyping.value = true
    window.clearTimeout(typingTimer)
    typingTimer = window.setTimeout(() => (agentTyping.value = false), 4000)
  }

  function setStatus(s: ConversationStatus, name: string | null | undefined) {
    status.value = s
    if (name !== undefined) agentName.value = name
  }

  function emitMessage(m: WMessage) {
    m.state = 'sending'
    m.error = undefined
    if (!socket) {
      m.state = 'failed'
      m.error = t('widget.notConnected')
      return
    }
    const payload: { body: string; client_id: string; attachment_ids?: string[] } = { body: m.body, client_id: m.client_id! }
    if (m.attachments.length) payload.attachment_ids = m.attachments.map((a) => a.id)
    socket.timeout(ACK_TIMEOUT_MS).emit('message', payload, (err: Error | null, ack: WidgetAck | undefined) => {
      const target = messages.value.find((x) => x.key === m.key)
      if (!target) return
      if (err || !ack) {
        target.state = 'failed'
        target.error = t('widget.notDelivered')
      } else if (!ack.ok) {
        target.state = 'failed'
        target.error = ack.detail || ack.code
      } else {
        target.id = ack.message.id
        target.created_at = ack.message.created_at
        target.attachments = ack.message.attachments ?? target.attachments
        target.state = 'sent'
        // Drop a duplicate that arrived by the broadcast with a different body match.
        messages.value = messages.value.filter((x) => x === target || x.id !== target.id)
      }
    })
  }

  function send(body: string, attachments: Attachment[]) {
    const m: WMessage = {
      key: `c:${uuid()}`,
      id: null,
      client_id: uuid(),
      sender: 'customer',
      sender_name: null,
      body,
      attachments,
      created_at: new Date().toISOString(),
      state: 'sending',
    }
    messages.value.push(m)
    emitMessage(messages.value[messages.value.length - 1])
  }

  function retry(key: string) {
    const m = messages.value.find((x) => x.key === key)
    if (m) emitMessage(m)
  }

  return { messages, status, agentName, agentTyping, csatRequested, ended, setSocket, applyConversation, receive, typing, setStatus, send, retry }
}
