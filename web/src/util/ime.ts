// Chinese (and any other) input methods: the Enter that picks the characters of a composition must
// never send a message, submit a form or run a search. One guard for the whole page, installed by
// the staff app (src/main.ts) and the widget (src/widget/main.ts), so every input is covered: the
// desk's reply box and notes, the widget, search boxes, forms.
//
// Browsers mark such a key as `isComposing` (keydown while composing) or keyCode 229 (the IME's
// key; Safari sends it after compositionend), and the keyup of that Enter arrives with keyCode 13
// once the composition ended (Chrome) — which would trigger `@keyup.enter`. The guard stops those
// events in the capture phase at the document, before any handler of the page sees them.

/** Whether this key belongs to an input method's composition (not a key for the page). */
export function isImeKey(e: KeyboardEvent): boolean {
  return e.isComposing || e.keyCode === 229
}

/** A plain Enter that should act (send, submit, search): not composing, no Shift. */
export function isActionEnter(e: KeyboardEvent): boolean {
  return e.key === 'Enter' && !e.shiftKey && !isImeKey(e)
}

/** Install the guard on a document (once); returns a function that removes it. */
export function installImeGuard(doc: Document = document): () => void {
  const composing = new WeakSet<EventTarget>()
  let swallowKeyup = false

  const onStart = (e: Event) => { if (e.target) composing.add(e.target) }
  const onEnd = (e: Event) => { if (e.target) composing.delete(e.target) }
  const onKeydown = (e: KeyboardEvent) => {
    const enterish = e.key === 'Enter' || e.key === 'Process' // 'Process': the IME's key (Windows)
    const inComposition = e.isComposing || (e.target !== null && composing.has(e.target))
    if (!enterish || !(inComposition || e.keyCode === 229)) {
      swallowKeyup = false // a key of the page: its keyup is the page's too
      return
    }
    swallowKeyup = true
    // after compositionend (keyCode 229, not composing) also stop the browser's implicit form
    // submission; during the composition the key is the IME's, so leave its default alone
    if (!inComposition) e.preventDefault()
    e.stopImmediatePropagation()
  }
  const onKeyup = (e: KeyboardEvent) => {
    if (!swallowKeyup) return
    if (e.key === 'Enter' || e.isComposing) {
      swallowKeyup = false
      e.stopImmediatePropagation()
    }
  }
  const opts = { capture: true }
  doc.addEventListener('compositionstart', onStart, opts)
  doc.addEventListener('compositionend', onEnd, opts)
  doc.addEventListener('keydown', onKeydown, opts)
  doc.addEventListener('keyup', onKeyup, opts)
  return () => {
    doc.removeEventListener('compositionstart', onStart, opts)
    doc.removeEventListener('compositionend', onEnd, opts)
    doc.removeEventListener('keydown', onKeydown, opts)
    doc.removeEventListener('keyup', onKeyup, opts)
  }
}
