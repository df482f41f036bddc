// Texts the server writes for staff as a stable code and its parameters (notifications, the hub's
// own history lines, a rule's dry run: workflows/staff_texts.py), shown in the reader's language
// from the `staff` catalogue (`staff.<code>`; a notification's `staff.<code>.title` / `.body`).
// Parameters are data: those that are codes themselves (a work-order state, an SLA's `which`, a
// callback's `reason`, …) are named from the catalogues too, times are formatted by locale.
// A text without a code (a row written before the codes) or with a code this build does not know
// shows the server's English, as stored.
import { formatDateTime, t, te } from './index'

export interface StaffText {
  code: string
  params: Record<string, unknown>
}

/** `group.value` from the catalogues when there is such a name, else the value as sent. */
function named(key: string, value: unknown, params: Record<string, unknown> = {}): unknown {
  return typeof value === 'string' && te(`${key}.${value}`) ? t(`${key}.${value}`, params) : value
}

/** One channel's outcome of the customer notice: "短信：已发送", "email: skipped (…)". */
function result(r: { channel?: string; status?: string; detail?: string }): string {
  const said = t('staff.result', { channel: named('staff.channel', r.channel), status: named('staff.delivery', r.status) })
  return r.detail ? `${said} (${r.detail})` : said
}

/** The parameters as the reader sees them. */
function shown(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...params }
  for (const [k, v] of Object.entries(params)) {
    if (k === 'which' || k === 'target' || k === 'reason') out[k] = named(`staff.${k}`, v, params)
    else if (k === 'state') out[k] = named('workflows.state', v)
    else if (k === 'priority') out[k] = named('workflows.priority', v)
    else if (k === 'ticket_type') out[k] = named('workflows.ticketType', v)
    else if ((k === 'due' || k === 'at') && typeof v === 'number') out[k] = formatDateTime(v)
    else if (k === 'phone' && v === '') out[k] = t('staff.noPhone')
    else if (k === 'results' && Array.isArray(v)) out[k] = v.map(result).join(t('staff.resultsSep'))
  }
  return out
}

/** A staff text in the reader's language (`part`: a notification's title or body), else `fallback`. */
export function staffText(text: StaffText | null | undefined, fallback: string | null | undefined, part?: 'title' | 'body'): string {
  if (!text) return fallback ?? ''
  const key = `staff.${text.code}${part ? `.${part}` : ''}`
  return te(key) ? t(key, shown(text.params ?? {})).trim() : fallback ?? ''
}

/** Who wrote a history line: its actor, or "the system" in the reader's language. */
export function actorName(h: { actor_id?: string | null; actor_name?: string | null }): string {
  return !h.actor_id && (!h.actor_name || h.actor_name === 'system') ? t('staff.system') : h.actor_name ?? ''
}
