// The agent's browser softphone: one module-level state shared by the Softphone panel and the
// desk (an "Incoming call" offer card answers through here too).
import { reactive, watch } from 'vue'
import { api, ApiError, errorText } from '../../../api/client'
import { deskStatus, onDesk } from '../../../api/socket'
import { connect, inboundAudio, microphone } from './rtc'
import type { SoftphoneLeg, SoftphoneStatus } from './types'
import { t, te } from '../../../i18n'

const ENABLED_KEY = 'hub.softphone.enabled'

export const softphone = reactive({
  /** the agent wants calls in the browser (remembered per browser) */
  enabled: localStorage.getItem(ENABLED_KEY) !== 'off',
  online: false,
  /** false when the hub has no softphone (voice off) or this user takes no calls */
  available: true,
  error: '',
  busy: false,
  ringing: [] as SoftphoneLeg[],
  active: null as SoftphoneLeg | null,
  /** audio received from the hub: energy (sum of level² × seconds), current level 0..1 */
  energy: 0,
  level: 0,
  packets: 0,
  dialled: '',
  /** what became of the last consultation (no_answer, declined, cancelled, …) */
  consultNote: '',
  /** a call connected to this agent's softphone in another page or device, not this one */
  elsewhere: null as SoftphoneLeg | null,
})

let pc: RTCPeerConnection | null = null
let mic: MediaStream | null = null
let audioEl: HTMLAudioElement | null = null
let leaseTimer: number | undefined
let statsTimer: number | undefined
let iceServers: string[] = []
let users = 0
const offs: (() => void)[] = []

async function renew() {
  window.clearTimeout(leaseTimer)
  if (!softphone.enabled) return
  try {
    const st = await api.post<SoftphoneStatus>('/api/voice/softphone')
    softphone.online = st.online
    iceServers = st.ice_servers
    softphone.error = ''
    // not online yet (the desk socket is still connecting): ask again soon
    window.clearTimeout(leaseTimer) // a concurrent renewal may have set one
    leaseTimer = window.setTimeout(renew, (st.online ? Math.max(5, st.lease_s / 3) : 2) * 1000)
  } catch (e) {
    softphone.online = false
    if (e instanceof ApiError && (e.status === 503 || e.status === 403 || e.status === 404)) {
      softphone.available = false // voice is off, or not an agent: no softphone, no retries
      return
    }
    softphone.error = errorText(e)
    window.clearTimeout(leaseTimer)
    leaseTimer = window.setTimeout(renew, 15_000)
  }
}

async function resync() {
  try {
    const st = await api.get<SoftphoneStatus>('/api/voice/softphone')
    softphone.ringing = st.legs.filter((l) => l.state === 'ringing')
    const act = st.legs.find((l) => l.state === 'connected')
    if (pc || softphone.busy) {
      if (act && softphone.active?.leg_id === act.leg_id) softphone.active = act
      return
    }
    // a call this page is not connected to: after a reload of this page the hub lost the old
    // connection (reconnecting) and the call is taken back at once; otherwise it is connected in
    // another page or device, which the agent may take it over from
    softphone.active = null
    softphone.elsewhere = act ?? null
    if (act?.reconnecting && softphone.enabled) void attach(act, 'reconnect')
  } catch {
    /* voice may be off: the panel says so on renew */
  }
}

function release() {
  window.clearInterval(statsTimer)
  pc?.close()
  pc = null
  mic?.getTracks().forEach((t) => t.stop())
  mic = null
  if (audioEl) audioEl.srcObject = null
}

function ended(leg: SoftphoneLeg) {
  softphone.ringing = softphone.ringing.filter((l) => l.leg_id !== leg.leg_id)
  if (softphone.elsewhere?.leg_id === leg.leg_id) softphone.elsewhere = null
  if (softphone.active?.leg_id === leg.leg_id) {
    softphone.active = null
    release()
  }
}

/** Start when the desk mounts (counted: the panel and the desk page both call it). */
export function useSoftphone() {
  users++
  if (users === 1) {
    offs.push(
      onDesk('softphone_ring', (leg) => {
        softphone.ringing = [leg, ...softphone.ringing.filter((l) => l.leg_id !== leg.leg_id)]
      }),
      onDesk('softphone_state', (leg) => {
        if (softphone.active?.leg_id === leg.leg_id) softphone.active = leg
        if (leg.consult_outcome) softphone.consultNote = consultOutcome(leg.consult_outcome)
      }),
      onDesk('softphone_ended', ended),
      onDesk('resync', () => {
        void renew()
        void resync()
      }),
      // presence needs the desk socket: renew as soon as it is connected
      watch(deskStatus, (s) => {
        if (s === 'online') void renew()
      }),
    )
    void renew().finally(() => void resync()) // the ICE servers first: resync may reconnect a call
  }
  return softphone
}

export function stopSoftphone() {
  users = Math.max(0, users - 1)
  if (users) return
  offs.splice(0).forEach((f) => f())
  window.clearTimeout(leaseTimer)
  release()
}

export async function setEnabled(on: boolean) {
  softphone.enabled = on
  localStorage.setItem(ENABLED_KEY, on ? 'on' : 'off')
  if (on) return renew()
  window.clearTimeout(leaseTimer)
  try {
    await api.del('/api/voice/softphone')
  } finally {
    softphone.online = false
  }
}

export function ringingFor(conversationId: string): SoftphoneLeg | undefined {
  return softphone.ringing.find((l) => l.conversation_id === conversationId)
}

export function bindAudio(el: HTMLAudioElement | null) {
  audioEl = el
}

export const answer = (leg: SoftphoneLeg) => attach(leg, 'answer')
/** Move the call connected in another page or device to this one. */
export const takeOver = (leg: SoftphoneLeg) => attach(leg, 'reconnect')

/** Connect this page's microphone and speaker to a call: answer a ringing one, or reconnect to
 * the connected one after a reload (the hub keeps the call waiting for a while). */
async function attach(leg: SoftphoneLeg, how: 'answer' | 'reconnect'): Promise<boolean> {
  if (softphone.busy) return false
  softphone.busy = true
  softphone.error = ''
  try {
    release()
    mic = await microphone()
    const c = await connect<{ sdp: string; leg: SoftphoneLeg }>(
      `/api/voice/softphone/legs/${encodeURIComponent(leg.leg_id)}/${how}`, {}, mic, iceServers)
    pc = c.pc
    const mine = c.pc
    mine.addEventListener('connectionstatechange', () => {
      // the hub closed it (the call was taken over elsewhere) or the network is gone for good
      if (pc === mine && (mine.connectionState === 'failed' || mine.connectionState === 'closed')) {
        release()
        void resync()
      }
    })
    if (audioEl) {
      audioEl.srcObject = c.remote
      void audioEl.play().catch(() => undefined)
    }
    softphone.ringing = softphone.ringing.filter((l) => l.leg_id !== leg.leg_id)
    softphone.elsewhere = null
    softphone.active = c.reply.leg
    softphone.energy = 0
    softphone.level = 0
    statsTimer = window.setInterval(async () => {
      if (!pc) return
      const s = await inboundAudio(pc)
      softphone.energy = s.energy
      softphone.level = s.level
      softphone.packets = s.packets
    }, 250)
    return true
  } catch (e) {
    release()
    softphone.error = how === 'reconnect' ? t('desk.phone.reconnectFailed', { error: errorText(e) }) : errorText(e)
    softphone.ringing = softphone.ringing.filter((l) => l.leg_id !== leg.leg_id)
    return false
  } finally {
    softphone.busy = false
  }
}

async function legAction(leg: SoftphoneLeg, action: string, body?: unknown) {
  try {
    const res = await api.post<SoftphoneLeg>(`/api/voice/softphone/legs/${encodeURIComponent(leg.leg_id)}/${action}`, body)
    if (softphone.active?.leg_id === res.leg_id && res.state !== 'ended') softphone.active = { ...softphone.active, ...res }
    softphone.error = ''
    return res
  } catch (e) {
    softphone.error = errorText(e)
    return null
  }
}

export async function decline(leg: SoftphoneLeg) {
  softphone.ringing = softphone.ringing.filter((l) => l.leg_id !== leg.leg_id)
  await legAction(leg, 'decline')
}
export const hangup = (leg: SoftphoneLeg) => legAction(leg, 'hangup')
export const hold = (leg: SoftphoneLeg, on: boolean) => legAction(leg, 'hold', { on })
export async function mute(leg: SoftphoneLeg, on: boolean) {
  mic?.getAudioTracks().forEach((t) => (t.enabled = !on))
  return legAction(leg, 'mute', { on })
}
export async function dtmf(leg: SoftphoneLeg, digits: string) {
  const res = await legAction(leg, 'dtmf', { digits })
  if (res) softphone.dialled = (softphone.dialled + digits).slice(-20)
}

// -- consulted transfer and conference (voice/calls/consult.py) -----------------------------------

function consultOutcome(o: string): string {
  const key = `desk.phone.outcome.${o}`
  return te(key) ? t(key) : t('desk.phone.outcome.other', { reason: o.replace(/_/g, ' ') })
}

/** Start a consultation (throws the API error for the dialog to show). */
export async function consult(leg: SoftphoneLeg, kind: 'agent' | 'queue' | 'external', target: string) {
  const res = await api.post<SoftphoneLeg>(`/api/voice/softphone/legs/${encodeURIComponent(leg.leg_id)}/consult`, { kind, target })
  softphone.consultNote = ''
  if (softphone.active?.leg_id === res.leg_id) softphone.active = { ...softphone.active, ...res }
  return res
}
export const completeTransfer = (leg: SoftphoneLeg) => legAction(leg, 'consult/complete')
export const conference = (leg: SoftphoneLeg) => legAction(leg, 'consult/conference')
export const cancelConsult = (leg: SoftphoneLeg) => legAction(leg, 'consult/cancel')
