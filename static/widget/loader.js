// The help desk's widget: the one script a site embeds.
//   <script src="https://desk.example.com/widget.js" data-site="KEY" async></script>
// It draws a launcher in a shadow root (the page's CSS cannot reach it), and opens the chat
// in a frame on the desk's origin at the first click, so the page pays for nothing more.
// The host page may call HelpdeskWidget.open() / .close() / .toggle() / .page({url, title})
// / .identify(jwt), or post the same as {helpdesk: 'open'} etc. to its own window.
// SECURITY: messages are read only from the desk's frame (its origin and window) and from
// this page itself; the session token is posted only to the desk's origin.
(() => {
  'use strict';
  const me = document.currentScript;
  if (!me || window.HelpdeskWidget) return;
  const key = me.dataset.site || '';
  const desk = new URL(me.src).origin;
  const STORE = 'helpdesk:' + key;
  const str = (v) => (typeof v === 'string' ? v : '');
  const store = (name, value) => {
    try {
      if (value === undefined) return sessionStorage.getItem(STORE + name) || '';
      sessionStorage.setItem(STORE + name, value);
    } catch { return ''; } // storage blocked: the chat still works, a reload starts afresh
  };
  let identity = str(me.dataset.identity);
  let page = null; // what the host said of itself; else where it is now
  let root, button, panel, frame, opened = false;

  const context = () => page || { url: location.href, title: document.title };
  const toFrame = (data) => frame && frame.contentWindow.postMessage(data, desk);

  const CSS = (c, side) => `
:host{all:initial}
button{position:fixed;${side}:20px;bottom:20px;z-index:2147483647;width:56px;height:56px;border:0;border-radius:50%;background:${c};color:#fff;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);font:600 24px/56px system-ui,sans-serif;padding:0}
button:focus-visible{outline:3px solid ${c};outline-offset:3px}
div{position:fixed;${side}:20px;bottom:88px;z-index:2147483647;width:min(400px,calc(100vw - 40px));height:min(640px,calc(100vh - 120px));border-radius:16px;overflow:hidden;box-shadow:0 8px 30px rgba(0,0,0,.3);background:#fff}
div[hidden]{display:none}
iframe{border:0;width:100%;height:100%}`;

  function draw(config) {
    const colour = /^#[0-9a-f]{6}$/i.test(config.colour) ? config.colour : '#1f6feb';
    const side = config.position === 'left' ? 'left' : 'right';
    const host = document.createElement('div');
    host.setAttribute('data-helpdesk-widget', '');
    root = host.attachShadow({ mode: 'open' });
    try {
      const sheet = new CSSStyleSheet(); // not inline markup: a host's CSP allows it
      sheet.replaceSync(CSS(colour, side));
      root.adoptedStyleSheets = [sheet];
    } catch {
      root.append(Object.assign(document.createElement('style'), { textContent: CSS(colour, side) }));
    }
    button = document.createElement('button');
    button.type = 'button';
    button.textContent = '?';
    button.setAttribute('aria-label', str(config.title) || 'Help');
    button.setAttribute('aria-expanded', 'false');
    button.addEventListener('click', () => toggle());
    panel = document.createElement('div');
    panel.hidden = true;
    root.append(panel, button);
    document.body.append(host);
    // Open again after a reload, if it was open: the conversation is still there.
    if (store(':open') === '1') toggle(true, config);
    button.config = config;
  }

  function toggle(want = !opened, config = button && button.config) {
    if (!panel) return;
    opened = want;
    if (opened && !frame) {
      const src = new URL(str(config.frame), desk);
      if (src.origin !== desk) return; // the frame is the desk's, never elsewhere
      frame = document.createElement('iframe');
      frame.title = str(config.title) || 'Help';
      frame.src = src.href;
      panel.append(frame);
    }
    panel.hidden = !opened;
    button.setAttribute('aria-expanded', String(opened));
    button.textContent = opened ? '×' : '?';
    store(':open', opened ? '1' : '0');
  }

  const fromFrame = {
    __proto__: null,
    ready: () => toFrame({ helpdesk: 'init', token: store(''), identity, page: context() }),
    token: (d) => store('', str(d.token)),
    close: () => toggle(false),
  };
  const fromHost = {
    __proto__: null,
    open: () => toggle(true),
    close: () => toggle(false),
    toggle: () => toggle(),
    page(d) {
      const p = d.page && typeof d.page === 'object' ? d.page : {};
      page = { url: str(p.url), title: str(p.title) };
      toFrame({ helpdesk: 'page', page });
    },
    identify: (d) => { identity = str(d.identity); },
  };

  window.addEventListener('message', (e) => {
    const d = e.data;
    if (!d || typeof d !== 'object' || typeof d.helpdesk !== 'string') return;
    if (frame && e.source === frame.contentWindow && e.origin === desk) fromFrame[d.helpdesk]?.(d);
    else if (e.source === window && e.origin === location.origin) fromHost[d.helpdesk]?.(d);
  });

  window.HelpdeskWidget = {
    open: () => fromHost.open(),
    close: () => fromHost.close(),
    toggle: () => fromHost.toggle(),
    page: (p) => fromHost.page({ page: p }),
    identify: (jwt) => fromHost.identify({ identity: jwt }),
  };

  // Only the site's own origins get its settings (CORS): elsewhere nothing is drawn.
  fetch(desk + '/widget/sites/' + encodeURIComponent(key) + '.json', { credentials: 'omit' })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error('widget: ' + r.status))))
    .then(draw)
    .catch((err) => console.warn(err));
})();
