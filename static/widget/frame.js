// The widget's frame: what the host page (static/widget/loader.js) and the chat (chat.js)
// say to each other. Loaded before chat.js.
// SECURITY: a message is read only from the parent window, and only from one of the site's
// origins (data-origins, from the server); the session token goes only to that origin.
'use strict';

(() => {
  const body = document.body;
  const origins = (body.dataset.origins || '').split(/\s+/).filter(Boolean);
  const framed = window.parent !== window;
  const STORE = 'helpdesk:' + body.dataset.site;
  const str = (v) => (typeof v === 'string' ? v : '');
  let host = null;  // the host page's origin, once it has said who it is
  let token = '';   // the session token: the host keeps it (no cookie reaches this frame)
  let identity = '';
  let page = { url: '', title: '' };
  let ready = false;

  // The site's colour (a checked #rrggbb): a CSSOM write, which the CSP allows.
  const colour = body.dataset.colour || '';
  if (/^#[0-9a-f]{6}$/i.test(colour)) {
    for (const name of ['--accent', '--accent-hover', '--user-bg']) document.documentElement.style.setProperty(name, colour);
  }

  // The socket's first frame, at every connect (chat.js).
  window.chatHello = () => ({ type: 'hello', token, identity, page_url: page.url, page_title: page.title });

  // chat.js runs after this script (both deferred), and the host's init may come before it
  // does: chat.js checks `chatReady` when it starts, and listens for chat:ready after.
  function start() {
    if (ready) return;
    ready = window.chatReady = true;
    document.dispatchEvent(new Event('chat:ready'));
  }

  const fromHost = {
    __proto__: null,
    init(data) {
      token = str(data.token);
      identity = str(data.identity);
      fromHost.page(data);
      start();
    },
    page(data) {
      const p = data.page && typeof data.page === 'object' ? data.page : {};
      page = { url: str(p.url).slice(0, 500), title: str(p.title).slice(0, 200) };
    },
  };

  window.addEventListener('message', (e) => {
    if (e.source !== window.parent || !framed || !origins.includes(e.origin)) return;
    if (host && e.origin !== host) return;
    const data = e.data;
    if (!data || typeof data !== 'object' || typeof data.helpdesk !== 'string') return;
    host = e.origin;
    fromHost[data.helpdesk]?.(data);
  });

  // Each `session` frame brings a new token: the host keeps it for the next visit.
  document.addEventListener('chat:frame', (e) => {
    if (e.detail.type !== 'session') return;
    token = str(e.detail.token);
    if (host) window.parent.postMessage({ helpdesk: 'token', token }, host);
    else if (!framed) { try { sessionStorage.setItem(STORE, token); } catch { /* private mode */ } }
  });

  if (framed) {
    // Nothing secret in it: the host answers with `init`, and is checked then.
    window.parent.postMessage({ helpdesk: 'ready' }, '*');
  } else {
    // Opened on its own (a new tab): its own storage keeps the session.
    try { token = sessionStorage.getItem(STORE) || ''; } catch { /* private mode */ }
    start();
  }
})();
