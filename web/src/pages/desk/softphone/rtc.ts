// WebRTC plumbing shared by the agent softphone and the supervisor's call monitor: the browser
// offers (G.711 preferred, no trickle ICE), the hub answers over REST.
import { api } from '../../../api/client'
import { t } from '../../../i18n'

export function iceConfig(servers: string[] = []): RTCConfiguration {
  return { iceServers: servers.map((urls) => ({ urls })) }
}

/** Put PCMU/PCMA first (the hub answers G.711 only, so the call audio passes unchanged). */
function preferG711(t: RTCRtpTransceiver) {
  const caps = RTCRtpReceiver.getCapabilities?.('audio')?.codecs
  if (!caps || !t.setCodecPreferences) return
  const g711 = caps.filter((c) => /^audio\/(PCMU|PCMA)$/i.test(c.mimeType))
  if (g711.length) t.setCodecPreferences(g711)
}

export interface Connected {
  pc: RTCPeerConnection
  remote: MediaStream
}

/**
 * Open a connection: `mic` (or receive-only without one), offer, wait for ICE candidates (at
 * most 3 s), POST the offer to `path` and apply the answer. Returns the hub's JSON too.
 */
export async function connect<T extends { sdp: string }>(
  path: string,
  body: Record<string, unknown>,
  mic: MediaStream | null,
  servers: string[] = [],
): Promise<Connected & { reply: T }> {
  const pc = new RTCPeerConnection(iceConfig(servers))
  const remote = new MediaStream()
  pc.ontrack = (ev) => remote.addTrack(ev.track)
  try {
    const t = pc.addTransceiver('audio', { direction: mic ? 'sendrecv' : 'recvonly' })
    if (mic) await t.sender.replaceTrack(mic.getAudioTracks()[0])
    preferG711(t)
    await pc.setLocalDescription(await pc.createOffer())
    await new Promise<void>((resolve) => {
      if (pc.iceGatheringState === 'complete') return resolve()
      const done = () => pc.iceGatheringState === 'complete' && resolve()
      pc.addEventListener('icegatheringstatechange', done)
      window.setTimeout(resolve, 3000)
    })
    const reply = await api.post<T>(path, { ...body, sdp: pc.localDescription!.sdp, type: 'offer' })
    await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp })
    return { pc, remote, reply }
  } catch (e) {
    pc.close()
    throw e
  }
}

/** Energy of the audio received so far (inbound-rtp totalAudioEnergy) and packets. */
export async function inboundAudio(pc: RTCPeerConnection): Promise<{ energy: number; level: number; packets: number }> {
  let energy = 0
  let level = 0
  let packets = 0
  ;(await pc.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      energy += s.totalAudioEnergy ?? 0
      level = Math.max(level, s.audioLevel ?? 0)
      packets += s.packetsReceived ?? 0
    }
  })
  return { energy, level, packets }
}

export async function microphone(): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error(t('desk.phone.noMicrophone'))
  return navigator.mediaDevices.getUserMedia({ audio: true, video: false })
}
