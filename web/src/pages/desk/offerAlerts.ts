// Offers that cannot be missed (#19): the tab's title counts the offers ringing for the agent
// ("(2) Desk · Contact Hub"), each new one chimes (a short tone made here: no sound file), is
// announced to screen readers (an assertive live region) and, when the agent allowed it and the
// tab is not in front, shows a desktop notification.
import { onBeforeUnmount, ref, watch } from 'vue'
import type { Offer } from './useInbox'
import { channelLabel } from '../../util/format'
import { t } from '../../i18n'

const BADGE = /^\(\d+\) /

function badge(n: number) {
  const base = document.title.replace(BADGE, '')
  document.title = n > 0 ? `(${n}) ${base}` : base
}

let audio: AudioContext | null = null

function chime() {
  try {
    audio ??= new AudioContext()
    const now = audio.currentTime
    for (const [i, freq] of [880, 1175].entries()) {
      const osc = audio.createOscillator()
      const gain = audio.createGain()
      osc.frequency.value = freq
      gain.gain.setValueAtTime(0.12, now + i * 0.18)
      gain.gain.exponentialRampToValueAtTime(0.001, now + i * 0.18 + 0.3)
      osc.connect(gain).connect(audio.destination)
      osc.start(now + i * 0.18)
      osc.stop(now + i * 0.18 + 0.32)
    }
  } catch {
    // no audio output (or not allowed yet): the title and the card still show the offer
  }
}

/** Whether desktop notifications can be asked for (the browser has them and the agent has not
 * answered yet). */
export const canAskForNotifications = ref(typeof Notification !== 'undefined' && Notification.permission === 'default')

export async function askForNotifications() {
  if (typeof Notification === 'undefined') return
  await Notification.requestPermission()
  canAskForNotifications.value = Notification.permission === 'default'
}

function describe(o: Offer): string {
  const who = o.conversation.contact?.name ?? o.conversation.subject ?? ''
  return `${t('desk.offer.incoming', { channel: channelLabel(o.conversation.channel) })}${who ? ` — ${who}` : ''}`
}

/** Follow ``offers`` (the desk's ringing offers); returns the live region's text. */
export function useOfferAlerts(offers: () => Offer[]) {
  const announcement = ref('')
  const seen = new Set<string>()
  watch(offers, (list) => {
    badge(list.length)
    const fresh = list.filter((o) => !seen.has(o.conversation.id))
    for (const o of list) seen.add(o.conversation.id)
    for (const id of [...seen]) if (!list.some((o) => o.conversation.id === id)) seen.delete(id)
    if (!fresh.length) return
    chime()
    announcement.value = fresh.map(describe).join('; ')
    if (typeof Notification !== 'undefined' && Notification.permission === 'granted' && document.visibilityState !== 'visible') {
      for (const o of fresh) {
        try {
          const n = new Notification(describe(o), { tag: `offer-${o.conversation.id}`, body: o.conversation.last_message?.body ?? '' })
          n.onclick = () => window.focus()
        } catch {
          // some browsers allow notifications only from a service worker: the title still counts
        }
      }
    }
  }, { deep: true, immediate: true })
  // the route's title (set on navigation) gets the count again
  const reapply = window.setInterval(() => badge(offers().length), 1000)
  onBeforeUnmount(() => {
    window.clearInterval(reapply)
    badge(0)
  })
  return { announcement }
}
