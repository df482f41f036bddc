import type { Contact, ContactIn, CustomValue } from '../api/types'

export interface ContactDraft {
  name: string
  email: string
  phone: string
  company: string
  tags: string[]
  vip: boolean
  owner_agent_id: string
  custom: Record<string, CustomValue>
  /** the customer's language for automatic texts (zh-CN, en); '': not known */
  language: string
}

export function draftFrom(c?: Partial<Contact> | null): ContactDraft {
  return {
    name: c?.name ?? '',
    email: c?.email ?? '',
    phone: c?.phone ?? '',
    company: c?.company ?? '',
    tags: [...(c?.tags ?? [])],
    vip: !!c?.vip,
    owner_agent_id: c?.owner_agent_id ?? '',
    custom: { ...(c?.custom ?? {}) },
    language: c?.language ?? '',
  }
}

export function draftToIn(d: ContactDraft): ContactIn {
  const custom: Record<string, CustomValue> = {}
  for (const [k, v] of Object.entries(d.custom)) custom[k] = v === '' ? null : v
  return {
    name: d.name.trim() || null,
    email: d.email.trim() || null,
    phone: d.phone.trim() || null,
    company: d.company.trim() || null,
    tags: d.tags.map((t) => t.trim()).filter(Boolean),
    vip: d.vip,
    owner_agent_id: d.owner_agent_id || null,
    custom,
    language: (d.language || null) as ContactIn['language'],
  }
}
