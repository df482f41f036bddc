// Types for the objects of the hub contract (docs/API.md). Keep in sync with the backend.

export type Id = string
export type IsoTime = string

export type Role = 'agent' | 'supervisor' | 'dispatcher' | 'department' | 'knowledge_manager' | 'admin'
export const ROLES: Role[] = ['agent', 'supervisor', 'dispatcher', 'department', 'knowledge_manager', 'admin']

export type Permission =
  | 'desk' | 'wallboard' | 'supervise' | 'admin' | 'contacts' | 'contacts_import'
  | 'kb' | 'kb_edit' | 'kb_publish' | 'tickets' | 'dispatch' | 'department' | 'automation'
  | 'reports' | 'bulk_send'

// The contract does not enumerate channel names; these are the channels of the brief.
export type Channel = 'chat' | 'voice' | 'email' | 'sms' | 'fax' | string
export const CHANNELS: { value: string; label: string; icon: string }[] = [
  { value: 'chat', label: 'Chat', icon: 'chat' },
  { value: 'voice', label: 'Voice', icon: 'voice' },
  { value: 'email', label: 'Email', icon: 'email' },
  { value: 'sms', label: 'SMS', icon: 'sms' },
  { value: 'fax', label: 'Fax', icon: 'fax' },
]

export type AgentStateValue = 'logged_out' | 'ready' | 'not_ready' | 'busy' | 'wrap_up' | string

export interface AgentInfo {
  state: AgentStateValue
  reason: string | null
  since: IsoTime | null
}

export interface Me {
  id: Id
  username: string
  display_name: string
  roles: Role[]
  permissions: Permission[]
  agent: AgentInfo | null
}

export type ChannelCounts = Record<string, number>

export interface AgentState extends AgentInfo {
  load: ChannelCounts
  capacity: ChannelCounts
}

export interface CodeLabel {
  code: string
  label: string
}

// 'bot': the self-service widget bot has the chat (assist/); it is handed to the ACD when needed
export type ConversationStatus = 'bot' | 'queued' | 'offered' | 'assigned' | 'pending' | 'closed' | 'abandoned'
export type InboxView = 'mine' | 'queued' | 'offered' | 'pending' | 'closed' | 'all'

export interface ConversationSummary {
  id: Id
  channel: Channel
  status: ConversationStatus
  queue_id: Id | null
  queue_name: string | null
  assignee_id: Id | null
  assignee_name: string | null
  contact: { id: Id; name: string | null } | null
  subject: string | null
  priority: number | null
  created_at: IsoTime
  updated_at: IsoTime
  last_message: { body: string; sender: Sender; at: IsoTime } | null
  waiting_since: IsoTime | null
}

export interface Page<T> {
  items: T[]
  next_before: string | null
}

export type Sender = 'customer' | 'agent' | 'system' | 'bot'
export type MessageKind = 'message' | 'note' | 'system'

export interface Attachment {
  id: Id
  filename: string
  content_type: string
  size: number
}

export interface Message {
  id: Id
  conversation_id: Id
  kind: MessageKind
  sender: Sender
  sender_name: string | null
  body: string
  attachments: Attachment[]
  created_at: IsoTime
}

export interface Csat {
  rating: number
  comment: string | null
}

export interface Conversation extends ConversationSummary {
  messages: Message[]
  contact: (Contact & { name: string | null }) | null
  history: ConversationSummary[]
  csat: Csat | null
  disposition: string | null
  notes: string | null
  events?: unknown[]
  /** Not in the contract (backend extra): contact_created = new customer; prechat = what the widget collected. */
  meta?: ConversationMeta
}

export interface ConversationMeta {
  contact_created?: boolean
  prechat?: Partial<Record<string, string>>
  [k: string]: unknown
}

export type CustomValue = string | number | null

export interface Contact {
  id: Id
  name: string | null
  email: string | null
  phone: string | null
  company: string | null
  tags: string[]
  vip: boolean
  owner_agent_id: Id | null
  custom: Record<string, CustomValue>
  created_at: IsoTime
  updated_at: IsoTime
}

export type ContactIn = Partial<Omit<Contact, 'id' | 'created_at' | 'updated_at'>>

export interface ContactList {
  items: Contact[]
  total: number
}

export interface ImportResult {
  created: number
  updated: number
  errors: { row: number; message: string }[]
}

export type CustomFieldType = 'text' | 'number' | 'date' | 'choice'
export interface CustomField {
  key: string
  label: string
  type: CustomFieldType
  choices?: string[] | null
}

export interface ScreenPop {
  conversation_id: Id
  contact: Contact | null
  history: ConversationSummary[]
  /** Not in the contract (backend extras). */
  new_customer?: boolean
  prechat?: Partial<Record<string, string>>
}

// Supervisor
export interface WallboardQueue {
  id: Id
  name: string
  waiting: number
  longest_wait_s: number
  offered_today: number
  answered_today: number
  abandoned_today: number
  service_level_today: number | null
  agents_ready: number
}

export interface WallboardAgent {
  id: Id
  display_name: string
  state: AgentStateValue
  reason: string | null
  since: IsoTime | null
  load: ChannelCounts
}

export interface Wallboard {
  queues: WallboardQueue[]
  agents: WallboardAgent[]
}

// Admin
export interface User {
  id: Id
  username: string
  display_name: string
  roles: Role[]
  skills: Record<string, number>
  capacity: ChannelCounts
  active: boolean
}
export interface UserIn extends Omit<User, 'id'> {
  password?: string
}

// The contract does not list the strategy identifiers; these follow ACD-1 of the brief.
export const STRATEGIES: { value: string; label: string }[] = [
  { value: 'longest_idle', label: 'Longest idle agent' },
  { value: 'round_robin', label: 'Round robin (hunting)' },
  { value: 'ring_all', label: 'Ring all' },
  { value: 'least_talk_time', label: 'Least talk time' },
  { value: 'fewest_contacts', label: 'Fewest contacts' },
  { value: 'linear', label: 'Linear / top-down' },
  { value: 'random', label: 'Random' },
  { value: 'skills_best_match', label: 'Skills best match' },
]

/** `overflow` is not typed by the contract; the backend takes {kind, queue_id?}. */
export type OverflowKind = 'queue' | 'voicemail' | 'callback' | 'offline_form' | 'reject'
export interface OverflowTarget {
  kind: OverflowKind
  queue_id?: Id | null
}

export interface OverflowStep {
  after_s: number
  relax_skills: string[]
  level_delta: number
}

export interface Queue {
  id: Id
  name: string
  strategy: string
  required_skills: Record<string, number>
  members: Id[]
  offer_timeout_s: number | null
  max_wait_s: number | null
  max_length: number | null
  overflow: OverflowTarget | null
  /** Not in the contract (backend extra): where contacts go while the calendar is closed. */
  closed_target?: OverflowTarget | null
  wrapup_s: number | null
  service_level_s: number | null
  calendar_id: Id | null
  overflow_steps: OverflowStep[]
}
export type QueueIn = Omit<Queue, 'id'>

export interface Skill {
  id: Id
  name: string
  label: string
}

export type Interval = [string, string]
export interface CalendarDef {
  id: Id
  name: string
  tz: string
  weekly: Record<string, Interval[]>
  holidays: string[]
}

// Socket.IO /desk payloads
export interface OfferEvent {
  conversation: ConversationSummary
  expires_at: IsoTime
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

// Widget
export interface WidgetConfig {
  online: boolean
  queues: { id: Id; name: string }[]
  prechat: { key: string; label: string; required: boolean }[]
  max_upload_bytes: number
  allowed_types: string[]
}
export interface WidgetSession {
  token: string
  conversation_id: Id
}
export interface WidgetConversation {
  id: Id
  status: ConversationStatus
  messages: Message[]
  agent_name: string | null
  csat: Csat | null
}
export type WidgetAck = { ok: true; message: Message } | { ok: false; code: string; detail: string }

// Problem document
export interface ProblemError {
  loc: (string | number)[]
  msg: string
}
export interface Problem {
  status: number
  code: string
  title?: string
  detail?: string
  errors?: ProblemError[]
}
