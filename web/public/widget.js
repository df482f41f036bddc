/*
 * Contact Hub chat widget loader — the one tag a company puts on its site:
 *   <script src="https://HUB/widget.js" data-queue="QUEUE_ID" data-lang="zh-CN" async></script>
 * data-lang (optional) is the chat's language (zh-CN or en); without it the page's <html lang>,
 * else the visitor's browser language.
 * It adds a "Chat with us" button; the chat itself runs in an iframe served by the hub
 * (HUB/widget.html), so all API and Socket.IO calls are same-origin with the hub.
 * Plain ES5-style JavaScript, no dependencies, not bundled.
 */
(function () {
  'use strict'
  if (window.__hubWidgetLoaded) return
  window.__hubWidgetLoaded = true

  var script = document.currentScript
  if (!script) {
    var all = document.getElementsByTagName('script')
    for (var i = all.length - 1; i >= 0; i--) {
      if (/\/widget\.js(\?|#|$)/.test(all[i].src)) { script = all[i]; break }
    }
  }
  if (!script || !script.src) return

  var origin = new URL(script.src, window.location.href).origin
  var queue = script.getAttribute('data-queue') || ''
  var color = script.getAttribute('data-color') || '#0b6bcb'
  var OPEN_KEY = 'hub_widget_open'
  // the chat's language: the tag's data-lang, else the page's lang, else the browser's
  var lang = script.getAttribute('data-lang') || document.documentElement.getAttribute('lang') ||
    (navigator.languages && navigator.languages[0]) || navigator.language || ''
  var WORDS = {
    'zh-CN': { open: '在线客服', close: '关闭会话', chat: '在线客服' },
    en: { open: 'Chat with us', close: 'Close chat', chat: 'Chat' },
  }
  var words = /^zh\b/i.test(lang) ? WORDS['zh-CN'] : WORDS.en

  var css =
    '#hub-widget-launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;display:flex;align-items:center;gap:8px;' +
    'padding:12px 18px;border:0;border-radius:999px;background:' + color + ';color:#fff;font:600 15px/1 system-ui,sans-serif;' +
    'box-shadow:0 6px 20px rgba(0,0,0,.25);cursor:pointer}' +
    '#hub-widget-launcher:hover{filter:brightness(1.08)}' +
    '#hub-widget-panel{position:fixed;right:20px;bottom:84px;z-index:2147483000;width:380px;height:580px;' +
    'max-width:calc(100vw - 24px);max-height:calc(100vh - 110px);border-radius:14px;overflow:hidden;background:#fff;' +
    'box-shadow:0 12px 40px rgba(0,0,0,.3);display:none}' +
    '#hub-widget-panel.open{display:block}' +
    '#hub-widget-frame{width:100%;height:100%;border:0;display:block}' +
    // a phone: the chat fills the screen (the dynamic viewport: the browser's bars do not hide
    // the reply box) and the launcher steps aside while it is open (it covered Send); the chat's
    // own header minimises it
    '@media (max-width:480px){#hub-widget-panel{right:0;bottom:0;width:100vw;height:100vh;height:100dvh;' +
    'max-height:none;max-width:100vw;border-radius:0}' +
    '#hub-widget-launcher[aria-expanded="true"]{display:none}}'

  function el(tag, attrs) {
    var e = document.createElement(tag)
    for (var k in attrs) if (Object.prototype.hasOwnProperty.call(attrs, k)) e.setAttribute(k, attrs[k])
    return e
  }

  function mount() {
    var style = el('style', {})
    style.textContent = css
    document.head.appendChild(style)

    var button = el('button', { id: 'hub-widget-launcher', type: 'button', 'data-testid': 'widget-launcher', 'aria-expanded': 'false' })
    button.innerHTML =
      '<svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" ' +
      'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"/></svg>' +
      '<span></span>'
    button.lastChild.textContent = words.open
    var panel = el('div', { id: 'hub-widget-panel', role: 'dialog', 'aria-label': words.chat })
    var frame = null

    function setOpen(open) {
      if (open && !frame) {
        frame = el('iframe', {
          id: 'hub-widget-frame',
          title: words.open,
          src: origin + '/widget.html?queue=' + encodeURIComponent(queue) + (lang ? '&lang=' + encodeURIComponent(lang) : ''),
          allow: 'clipboard-write',
        })
        panel.appendChild(frame)
      }
      panel.className = open ? 'open' : ''
      button.setAttribute('aria-expanded', open ? 'true' : 'false')
      button.lastChild.textContent = open ? words.close : words.open
      try { window.sessionStorage.setItem(OPEN_KEY, open ? '1' : '0') } catch (e) { /* ignore */ }
    }

    button.addEventListener('click', function () { setOpen(panel.className !== 'open') })
    window.addEventListener('message', function (ev) {
      if (ev.origin !== origin || !ev.data || ev.data.type !== 'hub-widget') return
      if (ev.data.action === 'minimise') setOpen(false)
    })

    document.body.appendChild(panel)
    document.body.appendChild(button)
    var wasOpen = false
    try { wasOpen = window.sessionStorage.getItem(OPEN_KEY) === '1' } catch (e) { /* ignore */ }
    if (wasOpen) setOpen(true)
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', mount)
  else mount()
})()
