// The conversation open in the middle column, with its contact and history for the screen pop.
import { ref } from 'vue'
import { api, errorText } from '../../api/client'
import type { Conversation, ConversationSummary, Message, ScreenPop } from '../../api/types'
import { byTime } from '../../util/format'

export function useConversation() {
  const conv = ref<Conversation | null>(null)
  const loading = ref(false)
  const error = ref('')
  const customerTyping = ref(false)
  let typingTimer: number | undefined
  let seq = 0

  async function load(id: string | null) {
    const mySeq = ++seq
    customerTyping.value = false
    if (!id) {
      conv.value = null
      return
    }
    loading.value = true
    error.value = ''
    try {
      const c = await api.get<Conversation>(`/api/conversations/${encodeURIComponent(id)}`)
      if (mySeq !== seq) return
      c.messages = [...(c.messages ?? [])].sort((a, b) => byTime(a.created_at, b.created_at))
      c.history = c.history ?? []
      conv.value = c
    } catch (e) {
      if (mySeq === seq) {
        error.value = errorText(e)
        conv.value = null
      }
    } finally {
      if (mySeq === seq) loading.value = false
    }
  }

  function reload() {
    return conv.value ? load(conv.value.id) : Promise.resolve()
  }

  function appendMessage(m: Message) {
    const c = conv.value
    if (!c || m.conversation_id !== c.id) return
    if (c.messages.some((x) => x.id === m.id)) return
    c.messages.push(m)
    if (m.sender === 'customer') customerTyping.value = false
  }

  function applySummary(s: ConversationSummary) {
    const c = conv.value
    if (!c || s.id !== c.id) return
    const { contact, ...rest } = s
    Object.assign(c, rest)
    if (contact && c.contact && contact.id === c.contact.id) c.contact.name = contact.name
    else if (contact && (!c.contact || contact.id !== c.contact.id)) void reload()
  }

  function applyScreenPop(p: ScreenPop) {
    const c = conv.value
    if (!c || p.conversation_id !== c.id) return
    c.contact = p.contact
    c.history = p.history ?? []
    if (p.new_customer !== undefined || p.prechat) {
      c.meta = { ...(c.meta ?? {}) }
      if (p.new_customer !== undefined) c.meta.contact_created = p.new_customer
      if (p.prechat) c.meta.prechat = p.prechat
    }
  }

  function typing(conversationId: string, sender: string) {
    if (!conv.value || conversationId !== conv.value.id || sender !== 'customer') return
    customerTyping.value = true
    window.clearTimeout(typingTimer)
    typingTimer = window.setTimeout(() => (customerTyping.value = false), 4000)
  }

  return { conv, loading, error, customerTyping, load, reload, appendMessage, applySummary, applyScreenPop, typing }
}
