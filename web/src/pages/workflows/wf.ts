// Types and small helpers of the workflows pages (tickets, work orders, rules, SLA, reports).
export interface WoHistory {
  id: string
  at: number
  kind: string
  action: string | null
  from_state: string | null
  to_state: string | null
  actor_name: string | null
  body: string | null
  attachments: { id: string; filename: string; content_type: string; size: number }[]
  data: Record<string, unknown>
}
export interface WorkOrder {
  id: string
  number: number
  state: string
  title: string
  description: string
  priority: string
  address: string | null
  contact_id: string | null
  contact_name?: string | null
  conversation_id: string | null
  department_id: string | null
  department_name?: string | null
  planned_start: number | null
  planned_end: number | null
  created_at: number
  late: boolean
  overdue: boolean
  result: string | null
  now: number
  history?: WoHistory[]
  allowed_actions?: string[]
  contact?: { name: string; phone?: string | null; email?: string | null } | null
  department?: { name: string } | null
}
export interface WoList {
  items: WorkOrder[]
  counts: Record<string, number>
  overdue: number
}
export interface Department {
  id: string
  name: string
  description: string | null
  members: string[]
}
export interface TicketHistory {
  id: string
  at: number
  kind: string
  actor_name: string | null
  from_status: string | null
  to_status: string | null
  body: string | null
  data: Record<string, unknown>
}
export interface Ticket {
  id: string
  number: number
  type: string
  category: string | null
  priority: string
  status: string
  subject: string
  description: string
  contact_name?: string | null
  created_at: number
  first_response_at: number | null
  sla: {
    policy_id: string | null
    policy_name?: string | null
    first_response_due: number | null
    resolution_due: number | null
    paused: boolean
    first_response_breached: boolean
    resolution_breached: boolean
    now: number
  }
  history?: TicketHistory[]
  conversations?: { id: string; channel: string; status: string }[]
  work_orders?: { id: string; number: number; state: string; title: string }[]
  contact?: { name: string } | null
}
export interface Notification {
  id: string
  kind: string
  title: string
  body: string
  link: string | null
  created_at: number
  read_at: number | null
  unread?: number
}

export const WO_STATES = ['new', 'dispatched', 'rejected', 'accepted', 'departed', 'arrived', 'fixed', 'completed', 'closed', 'cancelled']
export const TICKET_TYPES = ['complaint', 'repair', 'inquiry', 'request', 'feedback', 'other']
export const PRIORITIES = ['low', 'normal', 'high', 'urgent']
export const ACTION_LABELS: Record<string, string> = {
  dispatch: 'Confirm & dispatch',
  accept: 'Accept',
  reject: 'Reject',
  depart: 'Departed',
  arrive: 'Arrived',
  fix: 'Fixed',
  complete: 'Complete',
  close: 'Close',
  reopen: 'Reopen',
  cancel: 'Cancel',
}

export function ts(t: number | null | undefined): string {
  if (!t) return '—'
  const d = new Date(t * 1000)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

/** "2h 05m left" / "overdue 12m" for a deadline, from the server's clock offset. */
export function countdown(due: number | null, serverNow: number, localAtFetch: number, localNow: number): string {
  if (!due) return '—'
  const now = serverNow + (localNow - localAtFetch)
  let s = Math.round(due - now)
  const over = s < 0
  s = Math.abs(s)
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const txt = d ? `${d}d ${h}h` : h ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(s % 60).padStart(2, '0')}s`
  return over ? `overdue ${txt}` : `${txt} left`
}

export function toLocalInput(t: number): string {
  const d = new Date(t * 1000)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`
}
export function fromLocalInput(v: string): number {
  return new Date(v).getTime() / 1000
}
