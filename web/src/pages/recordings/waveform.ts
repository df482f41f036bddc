// Waveform of a decoded recording: min/max per pixel column, one lane per channel (caller on top,
// what the caller heard below), and a play-head line.

import { t } from '../../i18n'

export interface Peaks {
  /** per channel: [min0, max0, min1, max1, ...] in -1..1, one pair per column */
  lanes: Float32Array[]
  columns: number
  duration: number
  /** drawing gain: quiet recordings are scaled up (at most 8x) so their shape is visible */
  gain: number
}

export function computePeaks(buffer: AudioBuffer, columns: number): Peaks {
  const lanes: Float32Array[] = []
  const n = buffer.length
  let peak = 0
  for (let ch = 0; ch < buffer.numberOfChannels; ch++) {
    const data = buffer.getChannelData(ch)
    const out = new Float32Array(columns * 2)
    for (let c = 0; c < columns; c++) {
      const start = Math.floor((c * n) / columns)
      const end = Math.max(start + 1, Math.floor(((c + 1) * n) / columns))
      let lo = 1
      let hi = -1
      for (let i = start; i < end && i < n; i++) {
        const v = data[i]
        if (v < lo) lo = v
        if (v > hi) hi = v
      }
      if (lo > hi) lo = hi = 0
      peak = Math.max(peak, -lo, hi)
      out[2 * c] = lo
      out[2 * c + 1] = hi
    }
    lanes.push(out)
  }
  return { lanes, columns, duration: buffer.duration, gain: peak > 0 ? Math.min(8, 0.95 / peak) : 1 }
}

const COLOURS = ['#2563eb', '#16a34a']

export function drawPeaks(canvas: HTMLCanvasElement, peaks: Peaks, position: number): void {
  const ctx = canvas.getContext('2d')
  if (!ctx) return
  const { width, height } = canvas
  ctx.clearRect(0, 0, width, height)
  ctx.fillStyle = '#f8fafc'
  ctx.fillRect(0, 0, width, height)
  const laneH = height / Math.max(1, peaks.lanes.length)
  peaks.lanes.forEach((lane, i) => {
    const mid = laneH * i + laneH / 2
    ctx.fillStyle = COLOURS[i % COLOURS.length]
    for (let c = 0; c < peaks.columns && c < width; c++) {
      const top = mid - lane[2 * c + 1] * peaks.gain * (laneH / 2 - 1)
      const bottom = mid - lane[2 * c] * peaks.gain * (laneH / 2 - 1)
      ctx.fillRect(c, top, 1, Math.max(1, bottom - top))
    }
  })
  if (peaks.duration > 0) {
    const x = Math.round((position / peaks.duration) * width)
    ctx.fillStyle = '#dc2626'
    ctx.fillRect(Math.min(width - 2, Math.max(0, x)), 0, 2, height)
  }
}

/** Fetch the WAV once: the bytes feed both the waveform and the player (a blob URL), so opening a
 * recording is one request (one audit entry) and seeking needs no further requests. */
export async function load(url: string, signal?: AbortSignal): Promise<{ buffer: AudioBuffer; blob: Blob }> {
  const res = await fetch(url, { credentials: 'same-origin', signal })
  if (!res.ok) throw new Error(res.status === 404 ? t('recordings.player.gone') : `HTTP ${res.status}`)
  const blob = await res.blob()
  // An offline context decodes without a user gesture and at the file's own rate (no resampling).
  const ctx = new OfflineAudioContext(1, 1, 8000)
  const buffer = await ctx.decodeAudioData(await blob.arrayBuffer())
  return { buffer, blob }
}
