// The logged-in user (GET /api/me), shared by the router and the pages.
import { ref, computed } from 'vue'
import { api } from './api/client'
import type { Me, Permission } from './api/types'
import { connectDesk, disconnectDesk } from './api/socket'
import { defaultLocale, setLocale } from './i18n'

export const me = ref<Me | null>(null)
let loaded = false

/** Who this browser is signed in as: ``/api/auth/session`` answers null for nobody (no 401 in the
 * console of the login page). */
async function signedIn(): Promise<Me | null> {
  return (await api.get<{ user: Me | null }>('/api/auth/session')).user
}

export async function loadMe(): Promise<Me | null> {
  try {
    me.value = await signedIn()
  } finally {
    loaded = true
  }
  applyLanguage(me.value)
  if (me.value) connectDesk(probe)
  return me.value
}

/** The UI speaks the user's language from the profile; none chosen yet: the one last chosen on
 * this browser, else the browser's own. */
function applyLanguage(m: Me | null) {
  if (m) setLocale(m.language ?? defaultLocale(), !!m.language)
}

/** The user picks a language (top bar): the UI switches now and the profile keeps it. */
export async function chooseLanguage(language: string) {
  setLocale(language)
  if (!me.value) return
  me.value = await api.patch<Me>('/api/me', { language })
  applyLanguage(me.value)
}

async function probe(): Promise<boolean> {
  let user: Me | null
  try {
    user = await signedIn() // roles may have changed
  } catch {
    return true // the hub is unreachable: the socket retries
  }
  if (user) {
    me.value = user
    return true
  }
  forgetSession()
  window.location.assign('/login')
  return false
}

/** Whether a part of the hub runs (``voice``, ``softphone``, ``sms`` …): the UI does not call what
 * is off. */
export function enabled(feature: string): boolean {
  return !!me.value?.features[feature]
}

export async function ensureMe(): Promise<Me | null> {
  if (!loaded) return loadMe()
  return me.value
}

export function forgetSession() {
  me.value = null
  loaded = true
  disconnectDesk()
}

export async function logout() {
  try {
    await api.post('/api/auth/logout', undefined, { quiet401: true })
  } finally {
    forgetSession()
  }
}

export function can(p: Permission): boolean {
  return !!me.value?.permissions.includes(p)
}

export const isSupervisor = computed(() => can('supervise'))

/** The first page the user's permissions allow: desk → wallboard → admin → contacts. */
export function homePath(m: Me | null = me.value): string {
  const p = m?.permissions ?? []
  if (p.includes('desk')) return '/desk'
  if (p.includes('wallboard')) return '/wallboard'
  if (p.includes('admin')) return '/admin/users'
  if (p.includes('dispatch')) return '/workorders'
  if (p.includes('department')) return '/workorders'
  if (p.includes('kb_edit')) return '/kb'
  if (p.includes('contacts')) return '/contacts'
  return '/no-access'
}
