// Types and small helpers of the workflows pages (tickets, work orders, rules, SLA, reports).
// The API objects come from the generated schema.d.ts (workflows/schemas.py).
import type { components } from '../../api/schema'

type S = components['schemas']

export type WoHistory = S['WorkOrderHistory']
/** A work order as the pages show it: the list's names, the detail's history and actions. */
export type WorkOrder = S['WorkOrder'] &
  Partial<Pick<S['WorkOrderListItem'], 'department_name' | 'contact_name'>> &
  Partial<Pick<S['WorkOrderDetail'], 'history' | 'allowed_actions' | 'contact' | 'department'>>
export type WorkOrderDetail = S['WorkOrderDetail']
export type WoList = S['WorkOrders']
export type Department = S['Department']
export type TicketHistory = S['TicketHistory']
/** A ticket as the pages show it: the list's contact name, the detail's history and links. */
export type Ticket = Omit<S['TicketDetail'], 'history' | 'conversations' | 'work_orders' | 'contact'> &
  Partial<Pick<S['TicketDetail'], 'history' | 'conversations' | 'work_orders' | 'contact'>> &
  Partial<Pick<S['TicketListItem'], 'contact_name'>>
export type TicketDetail = S['TicketDetail']
export type Notification = S['Notification']
export type Notifications = S['Notifications']
export type SlaPolicy = S['SlaPolicy']
export type Rule = S['Rule']
export type WorkOrderReport = S['WorkOrderReport']

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
