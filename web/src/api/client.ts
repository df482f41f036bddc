// One small typed fetch wrapper for the hub REST API.
import type { Problem, ProblemError } from './types'
import { currentLocale, t, te } from '../i18n'

export class ApiError extends Error {
  status: number
  code: string
  detail: string
  errors: ProblemError[]
  /** The whole problem document: members some codes add (e.g. unknown_placeholder's `placeholder`). */
  problem: Record<string, unknown>
  constructor(status: number, code: string, detail: string, errors: ProblemError[] = [], problem: Record<string, unknown> = {}) {
    super(detail || code)
    this.status = status
    this.code = code
    this.detail = detail
    this.errors = errors
    this.problem = problem
  }
  /** Errors for one body field, keyed by the first loc element after "body" (or "query", "path"),
   * each in the user's language when its `type` has a message in the catalogue (errors.field.*). */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {}
    for (const e of this.errors) {
      if (!Array.isArray(e.loc)) continue // other entries (e.g. a bulk send's row errors) name no field
      const loc = e.loc[0] === 'body' || e.loc[0] === 'query' || e.loc[0] === 'path' ? e.loc.slice(1) : e.loc
      const key = loc.length ? String(loc[0]) : '_'
      const extra = loc.length > 1 ? ` (${loc.slice(1).join('.')})` : ''
      const msg = fieldMessage(e)
      out[key] = out[key] ? `${out[key]}; ${msg}${extra}` : `${msg}${extra}`
    }
    return out
  }
}

/** One field's error in the user's language: by its type (pydantic's, or the hub's code) from the
 * catalogue (errors.field.<type>, errors.<code>); in English, and for a type without a message, the
 * API's own text (it is English and more specific than a type's general message). */
export function fieldMessage(e: ProblemError): string {
  if (currentLocale() === 'en' || !e.type) return e.msg
  if (te(`errors.field.${e.type}`)) return t(`errors.field.${e.type}`, e.ctx ?? {})
  if (te(`errors.${e.type}`)) return t(`errors.${e.type}`)
  return e.msg
}

/** The message of a problem in the user's language: `errors.<code>` from the catalogue. In English
 * the API's own detail is shown when it has one (it is written for people and says more than the
 * code's general message); a code without a catalogue entry shows the detail in any language. */
export function problemMessage(code: string, detail: string): string {
  const key = `errors.${code}`
  if (!te(key)) return detail || code
  if (currentLocale() === 'en' && detail) return detail
  return t(key)
}

type UnauthorizedHandler = () => void
let onUnauthorized: UnauthorizedHandler | null = null
/** Called on any 401 (except the login call itself). */
export function setUnauthorizedHandler(fn: UnauthorizedHandler | null) {
  onUnauthorized = fn
}

let bearer: string | null = null
/** Widget pages authenticate with a Bearer token instead of the cookie. */
export function setBearerToken(token: string | null) {
  bearer = token
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | null | undefined>
  body?: unknown
  form?: FormData
  /** Do not trigger the global 401 handler (login form, session probe). */
  quiet401?: boolean
  signal?: AbortSignal
}

export function buildUrl(path: string, query?: RequestOptions['query']): string {
  const params = new URLSearchParams()
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v))
  }
  const qs = params.toString()
  return qs ? `${path}?${qs}` : path
}

async function toApiError(res: Response): Promise<ApiError> {
  let p: Partial<Problem> = {}
  try {
    const text = await res.text()
    p = text ? (JSON.parse(text) as Partial<Problem>) : {}
  } catch {
    p = {}
  }
  const detail = p.detail || p.title || res.statusText || `HTTP ${res.status}`
  return new ApiError(p.status ?? res.status, p.code ?? `http_${res.status}`, detail, p.errors ?? [], p as Record<string, unknown>)
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  let body: BodyInit | undefined
  if (opts.form) {
    body = opts.form
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(opts.body)
  }
  if (bearer) headers.Authorization = `Bearer ${bearer}`
  let res: Response
  try {
    res = await fetch(buildUrl(path, opts.query), {
      method,
      headers,
      body,
      credentials: 'same-origin',
      signal: opts.signal,
    })
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e
    throw new ApiError(0, 'network_error', t('errors.network_error'))
  }
  if (!res.ok) {
    const err = await toApiError(res)
    if (res.status === 401 && !opts.quiet401 && onUnauthorized) onUnauthorized()
    throw err
  }
  if (res.status === 204) return undefined as T
  const ct = res.headers.get('Content-Type') || ''
  if (ct.includes('json')) return (await res.json()) as T
  return (await res.text()) as unknown as T
}

export const api = {
  get: <T>(path: string, query?: RequestOptions['query'], o: RequestOptions = {}) =>
    request<T>('GET', path, { ...o, query }),
  post: <T>(path: string, body?: unknown, o: RequestOptions = {}) => request<T>('POST', path, { ...o, body }),
  patch: <T>(path: string, body?: unknown) => request<T>('PATCH', path, { body }),
  del: (path: string) => request<void>('DELETE', path),
  upload: <T>(path: string, file: File | Blob, filename?: string) => {
    const form = new FormData()
    if (filename) form.append('file', file, filename)
    else form.append('file', file)
    return request<T>('POST', path, { form })
  },
}

/** True when the error is about form fields only and every one of them is among `fields` (each
 * shown next to its input by FieldError), so a form-level box would only repeat them. */
export function onlyFieldErrors(e: unknown, fields: string[]): boolean {
  if (!(e instanceof ApiError)) return false
  const keys = Object.keys(e.fieldErrors())
  return keys.length > 0 && keys.every((k) => fields.includes(k))
}

/** Human text for any thrown value, in the user's language. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    const general = e.errors.length && !e.detail ? e.errors.map((x) => fieldMessage(x)).join('; ') : ''
    return problemMessage(e.code, e.detail || general)
  }
  if (e instanceof Error) return e.message
  return String(e)
}
