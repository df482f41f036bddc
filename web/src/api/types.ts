// Types of the hub contract (docs/API.md). The API objects are the backend's response models,
// generated from /api/openapi.json into ./schema.d.ts by `npm run gen:api` (run by `npm run build`):
// change them in the Python code (hub/api/responses.py, a component's schemas.py), never here.
// What stays hand-written below is UI-only: labels, form inputs, and the Socket.IO payloads
// (not part of the OpenAPI document).
import type { components, paths } from './schema'

type S = components['schemas']

export type Id = string
/** An ISO 8601 date-time string (fields the API gives as text). */
export type IsoTime = string
/** Seconds since the epoch (UTC): how the API gives points in time. */
export type Epoch = number

export type Role = S['UserPublic']['roles'][number]
export const ROLES: Role[] = ['agent', 'supervisor', 'dispatcher', 'department', 'knowledge_manager', 'admin']

export type Permission = S['UserPublic']['permissions'][number]

export type Channel = S['ConversationSummary']['channel']
export const CHANNELS: { value: Channel; label: string; icon: string }[] = [
  { value: 'chat', label: 'Chat', icon: 'chat' },
  { value: 'voice', label: 'Voice', icon: 'voice' },
  { value: 'email', label: 'Email', icon: 'email' },
  { value: 'sms', label: 'SMS', icon: 'sms' },
  { value: 'fax', label: 'Fax', icon: 'fax' },
]

export type AgentState = S['AgentState']
export type AgentStateValue = AgentState['state']
/** An agent's presence without the load figures (what the desk's state bar shows). */
export type AgentInfo = Pick<AgentState, 'state' | 'reason' | 'since'>

export type Me = S['Me']
export type Directory = S['Directory']

export type ChannelCounts = Record<string, number>

export type CodeLabel = S['CodeLabel']

export type ConversationStatus = S['ConversationSummary']['status']
/** The inbox's `view` query parameter. */
export type InboxView = NonNullable<NonNullable<paths['/api/conversations']['get']['parameters']['query']>['view']>

export type ConversationSummary = S['ConversationSummary']
export type InboxItem = S['InboxItem']
export type Inbox = S['Inbox']

export type Sender = S['Message']['sender']
export type MessageKind = S['Message']['kind']
export type Attachment = S['Attachment']
export type Message = S['Message']
export type Csat = S['Csat']
/** A conversation with its messages, contact and history; `meta` read through the keys the desk knows. */
export type Conversation = Omit<S['ConversationDetail'], 'meta'> & { meta: ConversationMeta }

/** The keys of a conversation's `meta` the desk reads: contact_created = new customer; prechat =
 * what the widget collected. */
export interface ConversationMeta {
  contact_created?: boolean
  prechat?: Partial<Record<string, string>>
  [k: string]: unknown
}

export type Contact = S['Contact']
/** A conversation's contact: ``verified`` false for the one a chat customer only claimed to be */
export type LinkedContact = S['LinkedContact']
export type CustomValue = Contact['custom'][string]
/** A contact form's values (create / edit): the edit's request body. */
export type ContactIn = S['ContactPatch']
export type ContactList = S['ContactList']
/** a data subject's erasure (POST /api/contacts/{id}/erase) */
export type Erasure = S['Erasure']
export type ImportResult = S['ImportResult']

export type CustomField = S['CustomField']
export type CustomFieldType = CustomField['type']

// Supervisor
export type WallboardQueue = S['WallboardQueue']
export type WallboardAgent = S['WallboardAgent']
export type Wallboard = S['Wallboard']

// Admin
export type User = S['UserPublic']
export type UserBrief = S['UserBrief']
/** The user form's values. */
export interface UserIn extends Omit<User, 'id' | 'permissions'> {
  password?: string
}

export const STRATEGIES: { value: Queue['strategy']; label: string }[] = [
  { value: 'longest_idle', label: 'Longest idle agent' },
  { value: 'round_robin', label: 'Round robin (hunting)' },
  { value: 'ring_all', label: 'Ring all' },
  { value: 'least_talk_time', label: 'Least talk time' },
  { value: 'fewest_contacts', label: 'Fewest contacts' },
  { value: 'linear', label: 'Linear / top-down' },
  { value: 'random', label: 'Random' },
  { value: 'skills_best_match', label: 'Skills best match' },
]

export type OverflowTarget = S['OverflowTarget']
export type OverflowKind = OverflowTarget['kind']
export type OverflowStep = S['OverflowStep']
export type Queue = S['Queue']
/** The queue form's values. */
export type QueueIn = Omit<Queue, 'id' | 'priority'>

export type Skill = S['Skill']
export type TextEntry = S['TextEntry']
export type TextList = S['TextList']

export type Interval = [string, string]
export type CalendarDef = S['CalendarDef']

// Socket.IO /desk payloads (not in the OpenAPI document)
export interface OfferEvent {
  conversation: ConversationSummary
  expires_at: Epoch
}
export interface OfferRevokedEvent {
  conversation_id: Id
  reason: string
}
export interface TypingEvent {
  conversation_id: Id
  sender: Sender
}
export interface AgentStateEvent extends AgentInfo {
  agent_id: Id
}
export interface ScreenPop {
  conversation_id: Id
  contact: LinkedContact | null
  history: ConversationSummary[]
  new_customer: boolean
  prechat: Partial<Record<string, string>>
}

// Widget
export type WidgetConfig = S['WidgetConfig']
export type WidgetSession = S['WidgetSession']
export type WidgetConversation = S['WidgetConversation']
export type CustomerMessage = S['CustomerMessage']
// the /widget namespace's acknowledgement of a sent message (Socket.IO, not in the OpenAPI document)
export type WidgetAck = { ok: true; message: Message } | { ok: false; code: string; detail: string }

// Problem document
export interface ProblemError {
  loc: (string | number)[]
  msg: string
  /** pydantic's error type (string_too_short, missing, …) or the hub's code: the UI's message key */
  type?: string
  /** the type's values (min_length, …) for the message */
  ctx?: Record<string, string | number | boolean>
}
export interface Problem {
  status: number
  code: string
  title?: string
  detail?: string
  errors?: ProblemError[]
}
