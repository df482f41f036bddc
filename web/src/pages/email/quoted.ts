// Splitting an email into what the sender wrote and the quoted history below it (blockquotes,
// Gmail/Outlook quote containers, an "On … wrote:" line, "-----Original Message-----", `>` lines).
const WROTE = /^\s*(On\s[\s\S]{1,300}\swrote:|-{2,}\s*Original Message\s*-{2,}|在[\s\S]{1,200}写道[:：])\s*$/i
const QUOTE_CLASSES = ['gmail_quote', 'yahoo_quoted', 'moz-cite-prefix', 'OutlookMessageHeader']

export interface Split {
  main: string
  quoted: string
}

function isMarker(n: Node): boolean {
  if (n.nodeType === Node.TEXT_NODE) return WROTE.test(n.textContent || '')
  if (n.nodeType !== Node.ELEMENT_NODE) return false
  const el = n as Element
  if (el.tagName === 'BLOCKQUOTE') return true
  if (QUOTE_CLASSES.some((c) => el.classList.contains(c))) return true
  if (['P', 'DIV', 'SPAN'].includes(el.tagName)) {
    const t = el.textContent || ''
    return t.length < 400 && WROTE.test(t)
  }
  return false
}

/** Split sanitised HTML; `quoted` is '' when the mail quotes nothing. */
export function splitHtml(html: string): Split {
  const doc = new DOMParser().parseFromString(html, 'text/html')
  const body = doc.body
  const walker = doc.createTreeWalker(body, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT)
  let marker: Node | null = null
  while (walker.nextNode()) {
    if (isMarker(walker.currentNode)) {
      marker = walker.currentNode
      break
    }
  }
  if (!marker || !body.lastChild) return { main: html, quoted: '' }
  const range = doc.createRange()
  range.setStartBefore(marker)
  range.setEndAfter(body.lastChild)
  const frag = range.extractContents()
  const holder = doc.createElement('div')
  holder.appendChild(frag)
  const main = body.innerHTML
  // nothing of the sender's own before the quote: show everything, there is nothing to fold
  if (!(body.textContent || '').trim() && !body.querySelector('img')) return { main: html, quoted: '' }
  return { main, quoted: holder.innerHTML }
}

/** Split a plain-text body at the first "On … wrote:" or `>` line. */
export function splitText(text: string): Split {
  const lines = text.split('\n')
  const i = lines.findIndex((l) => WROTE.test(l) || /^\s*>/.test(l))
  if (i <= 0) return { main: text, quoted: '' }
  return { main: lines.slice(0, i).join('\n').trimEnd(), quoted: lines.slice(i).join('\n') }
}
