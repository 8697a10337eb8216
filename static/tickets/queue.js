// The agents' live queue (templates/admin/tickets/ticket/queue.html). Each `queue` frame
// from the staff socket fetches this page again and swaps its #queue in: the server draws
// the rows, with the agent's own permissions, and no frame carries customer data.
// SECURITY: the fetched page is parsed by DOMParser (its scripts never run) and its nodes
// adopted; nothing goes through innerHTML.
'use strict';

(() => {
  const live = document.getElementById('queue-live');
  if (!live) return;
  const connection = document.getElementById('queue-connection');
  const notify = document.getElementById('queue-notify');
  const me = Number(live.dataset.userId);
  const MAX_BACKOFF_MS = 10000, REFRESH_MS = 250;
  const SAID = { new: 'New ticket', reply: 'Customer replied', reopened: 'Reopened by the customer' };
  let attempts = 0, refreshTimer = null;

  function setCount(count) {
    document.title = document.title.replace(/^\(\d+\) /, '');
    if (count > 0) document.title = `(${count}) ${document.title}`;
  }

  async function refresh() {
    const response = await fetch(location.href, { credentials: 'same-origin' });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), 'text/html');
    const fresh = page.getElementById('queue');
    if (!fresh) return;
    document.getElementById('queue').replaceWith(document.adoptNode(fresh));
    setCount(Number(fresh.dataset.count) || 0);
  }

  function tell(msg) {
    const said = SAID[msg.reason];
    if (!said || !('Notification' in window) || Notification.permission !== 'granted') return;
    const mine = msg.assignee_id === me ? ' (assigned to you)' : '';
    new Notification(`${said}: ${String(msg.number ?? '')}${mine}`, { tag: String(msg.ticket_id) });
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    const ws = new WebSocket(scheme + location.host + live.dataset.socket);
    ws.addEventListener('open', () => {
      attempts = 0;
      connection.dataset.state = 'live';
      connection.textContent = 'live';
      refresh(); // anything that happened while we were away
    });
    ws.addEventListener('message', (e) => {
      let msg;
      try { msg = JSON.parse(e.data); } catch { return; }
      if (!msg || msg.type !== 'queue') return;
      tell(msg);
      clearTimeout(refreshTimer); // a burst of changes is one fetch
      refreshTimer = setTimeout(refresh, REFRESH_MS);
    });
    ws.addEventListener('close', (e) => {
      connection.dataset.state = 'offline';
      connection.textContent = 'live: reconnecting…';
      if (e.code === 4403) { connection.textContent = 'live: not allowed'; return; }
      attempts += 1;
      setTimeout(connect, Math.min(500 * 2 ** attempts, MAX_BACKOFF_MS));
    });
  }

  if ('Notification' in window && Notification.permission === 'default') {
    notify.hidden = false;
    notify.addEventListener('click', async () => {
      await Notification.requestPermission();
      notify.hidden = true;
    });
  }
  setCount(Number(document.getElementById('queue').dataset.count) || 0);
  connect();
})();
