// The ticket page's live conversation (templates/admin/tickets/ticket/change_form.html).
// SECURITY: the customer's and the model's text is untrusted: textContent only.
'use strict';

(() => {
  const live = document.getElementById('live');
  if (!live) return;
  const list = document.getElementById('live-messages');
  const customer = document.getElementById('live-customer');
  const reply = document.getElementById('id_reply');
  const TYPING_EVERY_MS = 2000, MAX_BACKOFF_MS = 10000;
  let ws = null, bot = null, typedAt = 0, attempts = 0;

  function line(who, text) {
    const item = document.createElement('li');
    const name = document.createElement('strong');
    name.textContent = who + ': ';
    const body = document.createElement('span');
    body.textContent = text;
    item.append(name, body);
    list.append(item);
    return body;
  }

  const handlers = {
    __proto__: null,
    customer(msg) {
      const online = msg.online === true;
      customer.dataset.online = String(online);
      customer.textContent = online ? 'customer: online' : 'customer: offline';
    },
    asked(msg) { bot = null; line('Customer', String(msg.text ?? '')); },
    token(msg) { bot = bot || line('Bot', ''); bot.textContent += String(msg.text ?? ''); },
    refusal(msg) { line('Bot', String(msg.text ?? '')); bot = null; },
    fallback(msg) { line('Bot', String(msg.text ?? '')); bot = null; },
    done() { bot = null; },
  };

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    ws = new WebSocket(scheme + location.host + live.dataset.socket);
    ws.addEventListener('open', () => { attempts = 0; });
    ws.addEventListener('message', (e) => {
      let msg;
      try { msg = JSON.parse(e.data); } catch { return; }
      if (msg && typeof msg === 'object') handlers[msg.type]?.(msg);
    });
    ws.addEventListener('close', (e) => {
      if (e.code === 4403) return; // not allowed: coming back would be refused again
      attempts += 1;
      setTimeout(connect, Math.min(500 * 2 ** attempts, MAX_BACKOFF_MS));
    });
  }

  reply?.addEventListener('input', () => {
    const now = Date.now();
    if (now - typedAt < TYPING_EVERY_MS || !ws || ws.readyState !== WebSocket.OPEN) return;
    typedAt = now;
    ws.send(JSON.stringify({ type: 'typing' }));
  });
  connect();
})();
