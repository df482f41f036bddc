// Inbox state for the agent desktop: the list for the current tab plus live offers.
import { reactive, ref } from 'vue'
import { api, errorText } from '../../api/client'
import type { ConversationSummary, Epoch, Inbox, InboxView, Message, OfferEvent } from '../../api/types'

export type InboxTab = Extract<InboxView, 'mine' | 'queued' | 'pending' | 'closed' | 'all'>

export interface Offer {
  conversation: ConversationSummary
  /** From the offer event, or the inbox's offered view (`offer_expires_at`); null when unknown. */
  expires_at: Epoch | null
}

/** Client-side guess of whether a live update belongs to a tab; the server list stays authoritative. */
export function belongsTo(s: ConversationSummary, tab: InboxTab, myId: string): boolean {
  switch (tab) {
    case 'mine':
      return s.assignee_id === myId && s.status === 'assigned'
    case 'queued':
      return s.status === 'queued' || s.status === 'offered'
    case 'pending':
      return s.status === 'pending'
    case 'closed':
      return s.status === 'closed' || s.status === 'abandoned'
    case 'all':
      return true
  }
}

export function useInbox(myId: () => string) {
  const filters = reactive({ tab: 'mine' as InboxTab, channel: '', q: '' })
  const items = ref<ConversationSummary[]>([])
  const nextBefore = ref<Epoch | null>(null)
  const loading = ref(false)
  const error = ref('')
  const offers = ref<Offer[]>([])
  let seq = 0

  async function load(more = false) {
    const mySeq = ++seq
    loading.value = true
    error.value = ''
    try {
      const page = await api.get<Inbox>('/api/conversations', {
        view: filters.tab,
        channel: filters.channel,
        q: filters.q.trim(),
        limit: 50,
        before: more ? nextBefore.value : undefined,
      })
      if (mySeq !== seq) return
      items.value = more ? [...items.value, ...page.items.filter((i) => !items.value.some((x) => x.id === i.id))] : page.items
      nextBefore.value = page.next_before
    } catch (e) {
      if (mySeq === seq) error.value = errorText(e)
    } finally {
      if (mySeq === seq) loading.value = false
    }
  }

  async function loadOffers() {
    try {
      const page = await api.get<Inbox>('/api/conversations', { view: 'offered', limit: 20 })
      const known = new Map(offers.value.map((o) => [o.conversation.id, o]))
      offers.value = page.items
        .filter((c) => c.status === 'offered')
        .map((c) => ({
          conversation: c,
          expires_at:
            known.get(c.id)?.expires_at ?? c.offer_expires_at ?? null,
        }))
    } catch {
      /* the list keeps what the socket told us */
    }
  }

  function applyConversation(s: ConversationSummary) {
    const idx = items.value.findIndex((x) => x.id === s.id)
    const fits = belongsTo(s, filters.tab, myId()) && (!filters.channel || s.channel === filters.channel)
    if (idx >= 0) {
      if (fits || filters.q) items.value[idx] = { ...items.value[idx], ...s }
      else items.value.splice(idx, 1)
    } else if (fits && !filters.q) {
      if (filters.tab === 'queued') items.value.push(s)
      else items.value.unshift(s)
    }
    // An offer that is no longer "offered" to us is gone.
    if (s.status !== 'offered') offers.value = offers.value.filter((o) => o.conversation.id !== s.id)
  }

  function applyMessage(m: Message) {
    if (m.kind === 'note') return
    const idx = items.value.findIndex((x) => x.id === m.conversation_id)
    if (idx < 0) return
    const row = {
      ...items.value[idx],
      last_message: { body: m.body || (m.attachments.length ? `[file] ${m.attachments[0].filename}` : ''), sender: m.sender, at: m.created_at },
      updated_at: m.created_at,
    }
    items.value.splice(idx, 1)
    if (filters.tab === 'queued') items.value.splice(idx, 0, row)
    else items.value.unshift(row)
  }

  function addOffer(ev: OfferEvent) {
    offers.value = [
      { conversation: ev.conversation, expires_at: ev.expires_at },
      ...offers.value.filter((o) => o.conversation.id !== ev.conversation.id),
    ]
  }
  function removeOffer(id: string) {
    offers.value = offers.value.filter((o) => o.conversation.id !== id)
  }

  return { filters, items, nextBefore, loading, error, offers, load, loadOffers, applyConversation, applyMessage, addOffer, removeOffer }
}
