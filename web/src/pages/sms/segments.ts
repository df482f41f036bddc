// SMS segment arithmetic, the same rules as channels/sms/segments.py (GSM 03.38 / TS 23.040):
// GSM-7 160 septets (153 per part when concatenated, extension characters take two);
// UCS-2 70 UTF-16 code units (67 per part, a surrogate pair is never split).
const GSM7_BASIC = new Set(
  Array.from(
    '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
      '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
  ),
)
const GSM7_EXTENDED = new Set(Array.from('\f^{}\\[~]|€'))
const SINGLE = { gsm7: 160, ucs2: 70 } as const
const MULTI = { gsm7: 153, ucs2: 67 } as const

export type SmsEncoding = 'gsm7' | 'ucs2'
export interface SegmentInfo {
  encoding: SmsEncoding
  units: number
  segments: number
  per_segment: number
  remaining: number
}

export function isGsm7(text: string): boolean {
  for (const ch of text) if (!GSM7_BASIC.has(ch) && !GSM7_EXTENDED.has(ch)) return false
  return true
}

function sizes(text: string, encoding: SmsEncoding): number[] {
  // for…of walks code points, like Python's str
  const out: number[] = []
  for (const ch of text) {
    if (encoding === 'gsm7') out.push(GSM7_EXTENDED.has(ch) ? 2 : 1)
    else out.push((ch.codePointAt(0) ?? 0) > 0xffff ? 2 : 1)
  }
  return out
}

export function countSegments(text: string): SegmentInfo {
  const encoding: SmsEncoding = isGsm7(text) ? 'gsm7' : 'ucs2'
  const each = sizes(text, encoding)
  const units = each.reduce((a, b) => a + b, 0)
  if (units <= SINGLE[encoding]) {
    return { encoding, units, segments: units ? 1 : 0, per_segment: SINGLE[encoding], remaining: SINGLE[encoding] - units }
  }
  const cap = MULTI[encoding]
  let parts = 1
  let used = 0
  for (const size of each) {
    if (used + size > cap) {
      parts += 1
      used = 0
    }
    used += size
  }
  return { encoding, units, segments: parts, per_segment: cap, remaining: cap - used }
}
