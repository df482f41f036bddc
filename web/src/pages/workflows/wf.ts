// Types and small helpers of the workflows pages (tickets, work orders, rules, SLA, reports).
// The API objects come from the generated schema.d.ts (workflows/schemas.py).
import type { components } from '../../api/schema'
import { formatDateTime, formatNumber, t, te } from '../../i18n'

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

/** A catalogue name for a code (`workflows.<group>.<code>`), else the code as the API sends it. */
function named(group: string, code: string | null | undefined): string {
  if (!code) return ''
  return te(`workflows.${group}.${code}`) ? t(`workflows.${group}.${code}`) : code
}
/** A work-order state (new, dispatched, …) in the user's language. */
export const woStateLabel = (s: string | null | undefined) => named('state', s)
/** A ticket status (new, open, pending, …) in the user's language. */
export const ticketStatusLabel = (s: string | null | undefined) => named('ticketStatus', s)
export const priorityLabel = (p: string | null | undefined) => named('priority', p)
export const ticketTypeLabel = (x: string | null | undefined) => named('ticketType', x)
/** The button of a work-order action (dispatch → "Confirm & dispatch"). */
export const actionLabel = (a: string) => named('action', a)
/** A step of the repair loop as the history and the report name it (dispatch, accept, …). */
export const stepLabel = (a: string | null | undefined) => named('step', a)
/** A history entry's kind (note, sla_reminder, customer_notified, …). */
export const historyKindLabel = (k: string) => (te(`workflows.historyKind.${k}`) ? t(`workflows.historyKind.${k}`) : k.replace('_', ' '))
/** A rule event (ticket.created) by name. */
export const eventLabel = (e: string) => named('event', e.replace(/\./g, '_')) || e

/** A hub time (epoch seconds) as date and time in the user's language and time zone; none: —. */
export function ts(at: number | null | undefined): string {
  if (!at) return '—'
  return formatDateTime(at)
}

/** "2h 05m left" / "剩余 2小时05分" / "overdue 12m" for a deadline, from the server's clock offset. */
export function countdown(due: number | null, serverNow: number, localAtFetch: number, localNow: number): string {
  if (!due) return '—'
  const now = serverNow + (localNow - localAtFetch)
  let s = Math.round(due - now)
  const over = s < 0
  s = Math.abs(s)
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  const pad = (n: number) => String(n).padStart(2, '0')
  const txt = d
    ? t('workflows.countdown.days', { d, h })
    : h
      ? t('workflows.countdown.hours', { h, m: pad(m) })
      : t('workflows.countdown.minutes', { m, s: pad(s % 60) })
  return over ? t('workflows.countdown.overdue', { time: txt }) : t('workflows.countdown.left', { time: txt })
}

/** A duration of a repair step: 45 s, 12 min, 2.5 h (per locale). */
export function stepDuration(s: number | null | undefined): string {
  if (s === null || s === undefined) return '—'
  if (s < 120) return t('workflows.dur.s', { n: formatNumber(Math.round(s)) })
  if (s < 7200) return t('workflows.dur.min', { n: formatNumber(Math.round(s / 60)) })
  return t('workflows.dur.h', { n: formatNumber(s / 3600, 1) })
}

/** For a datetime-local input (the browser's own format, not shown as text). */
export function toLocalInput(at: number): string {
  const d = new Date(at * 1000)
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`
}
export function fromLocalInput(v: string): number {
  return new Date(v).getTime() / 1000
}
