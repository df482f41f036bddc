// The widget token lives in the iframe's localStorage (hub origin).
const KEY = 'hub_widget_token'

export function loadToken(): string | null {
  try {
    return window.localStorage.getItem(KEY)
  } catch {
    return null
  }
}
export function saveToken(token: string) {
  try {
    window.localStorage.setItem(KEY, token)
  } catch {
    /* storage blocked: the chat still works until the page is reloaded */
  }
}
export function clearToken() {
  try {
    window.localStorage.removeItem(KEY)
  } catch {
    /* ignore */
  }
}

/** Ask the page that embeds us (widget.js) to minimise the panel. */
export function minimise() {
  if (window.parent !== window) window.parent.postMessage({ type: 'hub-widget', action: 'minimise' }, '*')
}
