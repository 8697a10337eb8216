// The support chat page. Plain ES2020, no dependencies.
// SECURITY: everything the server sends (model output included) is untrusted.
// The DOM is built with createElement + textContent only; never innerHTML.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  // The page's strings, in its language, from Django's catalog (/jsi18n/, loaded first);
  // without it (it failed to load) the page still works, in English.
  const gettext = window.gettext || ((s) => s);
  const interpolate = window.interpolate ||
    ((fmt, obj) => fmt.replace(/%\((\w+)\)s/g, (_, key) => String(obj[key])));
  const [log, composer, question, sendBtn, stopBtn, statusEl, escalateBtn, emailInput, ticketEl] =
    ['log', 'composer', 'question', 'send', 'stop', 'status', 'escalate', 'email', 'ticket'].map($);
  const escalation = escalateBtn.closest('.escalation') || escalateBtn;

  // The widget's frame (templates/chat/widget.html) has a socket of its own.
  const SOCKET_URL = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host +
    (document.body.dataset.socketPath || '/ws/chat/');
  const MAX_BACKOFF_MS = 10000, ESCALATE_COOLDOWN_MS = 3000, LIMITED_RETRY_MS = 30000;

  let ws = null, retryTimer = null;
  let attempts = 0;       // consecutive failed connects, drives the backoff
  let busy = false;       // an answer is in flight: from send until done/refusal/fallback/error
  let current = null;     // bot bubble currently receiving tokens
  let last = null;        // most recent finished answer, so a late `sources`/`done` still lands on it
  let pending = null;     // this tab's question, drawn at once, until its answer starts
  // The last `seq` of the conversation's stream shown here: a reconnect resumes after it, and
  // a frame at or below it (sent twice around a reconnect) is dropped. The page starts where
  // its transcript ends (chat/views.py).
  let lastSeq = Number(document.body.dataset.resumeAfter) || 0;

  // ---------- DOM helpers ----------
  const str = (v) => (typeof v === 'string' ? v : v == null ? '' : String(v));

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  // A bubble's text: the bot's is Markdown, drawn by markdown.js; people's is plain text.
  function bubble(classes, text, who) {
    const b = el('div', 'msg ' + classes);
    b.body = el('div', 'text');
    if (who) b.append(el('span', 'who', who));
    b.append(b.body);
    setText(b, str(text));
    return b;
  }

  function setText(b, text) {
    b.raw = text;
    if (b.classList.contains('bot')) window.drawMarkdown(b.body, text, safeHref); // markdown.js
    else b.body.textContent = text;
  }

  const agentTyping = el('div', 'msg system agent-typing');
  const AGENT_TYPING_MS = 5000;
  let agentTypingTimer = null;

  const typing = el('div', 'typing');
  typing.setAttribute('aria-hidden', 'true');
  typing.append(el('span'), el('span'), el('span'));

  // Only follow new content if the reader is already near the bottom,
  // so scrolling up to re-read an earlier answer isn't yanked away.
  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  const scrollDown = () => { log.scrollTop = log.scrollHeight; };

  function append(node, force) {
    const stick = force || nearBottom();
    if (typing.isConnected) log.insertBefore(node, typing); // typing dots always stay last
    else log.append(node);
    if (stick) scrollDown();
    return node;
  }

  const line = (classes, text) => append(el('div', 'msg ' + classes, text));
  const errorLine = (text) => line('error', text);

  const showTyping = () => { const stick = nearBottom(); log.append(typing); if (stick) scrollDown(); };
  const hideTyping = () => typing.remove();

  function setBusy(value) {
    busy = value;
    sendBtn.disabled = value;
    stopBtn.hidden = !value; // Stop only while an answer is on its way
    // aria-busy makes screen readers wait for the finished answer instead of reading every token.
    log.setAttribute('aria-busy', String(value));
  }

  const STATUS = { connected: gettext('connected'), offline: gettext('offline') };
  const setStatus = (state, label = STATUS[state] || state) => { statusEl.dataset.state = state; statusEl.textContent = label; };

  // ---------- answer lifecycle ----------
  function currentAnswer() {
    if (!current) {
      hideTyping();
      current = append(bubble('bot streaming'));
    }
    return current;
  }

  const shown = (role, id) => log.querySelector(`.msg.${role}[data-message-id="${Number(id)}"]`);

  function finishAnswer(messageId) {
    hideTyping();
    pending = null;
    // `done` right after a refusal/fallback has no streaming bubble: tag the answer just shown.
    let b = current || (last && !last.dataset.messageId ? last : null);
    const copy = messageId != null && messageId !== '' ? shown('bot', messageId) : null;
    if (b && copy && copy !== b) {
      // The page's transcript has this answer already (it ended while the page loaded).
      b.remove();
      b = copy;
    }
    if (b) {
      b.classList.remove('streaming');
      if (messageId != null && messageId !== '') {
        b.dataset.messageId = str(messageId);
        addFeedback(b, messageId);
      }
      last = b;
    }
    current = null;
    setBusy(false);
  }

  // Thumbs under an answer (feedback.js); its frame goes out here, if connected.
  const addFeedback = (b, messageId, chosen) => window.chatFeedback(b, messageId, chosen, (frame) => {
    if (!isOpen()) return void errorLine(gettext('Not connected: feedback not sent.'));
    ws.send(JSON.stringify(frame));
    return true;
  });

  // Which links may be followed, and the list of an answer's sources (sources.js).
  const { safeHref, sourcesList } = window.chatSources;

  function renderSources(target, sources) {
    if (!target || !Array.isArray(sources) || sources.length === 0) return;
    const stick = nearBottom();
    target.querySelector('ul.sources')?.remove(); // a repeated `sources` replaces, never duplicates
    const list = sourcesList(sources);
    if (list.children.length) target.append(list);
    if (stick) scrollDown();
  }

  // refusal / fallback: the server has overruled any partial streamed text, so replace it.
  function specialAnswer(kind, msg, fallbackText) {
    hideTyping();
    pending = null;
    const text = str(msg.text) || fallbackText;
    const b = current || append(bubble('bot'));
    setText(b, text);
    b.classList.remove('streaming');
    b.classList.add(kind);
    if (msg.reason) b.dataset.reason = str(msg.reason);
    current = null;
    last = b;
    renderSources(b, msg.sources);
    setBusy(false);
    escalation.classList.add('suggested'); // nudge the customer towards a human
  }

  function interruptAnswer() {
    hideTyping();
    const note = gettext('(connection lost — answer interrupted)');
    if (current) {
      const stick = nearBottom();
      current.classList.replace('streaming', 'interrupted');
      current.append(el('div', 'note', note));
      if (stick) scrollDown();
    } else {
      errorLine(note);
    }
    current = null;
    last = null; // a fresh connection will never send `done` for the old answer
    setBusy(false);
  }

  // ---------- incoming messages ----------
  // Null prototype: a crafted type like "constructor" or "toString" can't reach Object.prototype.
  const handlers = {
    __proto__: null,
    // A question from another tab of this session (or this tab's, replayed after a drop).
    asked(msg) {
      const text = str(msg.text);
      if (shown('user', msg.message_id)) return;
      if (pending && pending.raw === text) {
        pending.dataset.messageId = str(Number(msg.message_id));
        return;
      }
      append(bubble('user', text), true).dataset.messageId = str(Number(msg.message_id));
      current = null;
      last = null;
      setBusy(true);
      showTyping();
    },
    token(msg) {
      pending = null;
      if (!busy) setBusy(true); // an answer to another tab's question: Stop works here too
      const stick = nearBottom();
      const b = currentAnswer();
      setText(b, b.raw + str(msg.text));
      if (stick) scrollDown();
    },
    sources: (msg) => renderSources(current || last || (busy ? currentAnswer() : null), msg.sources),
    done: (msg) => finishAnswer(msg.message_id),
    // After our `stop`: the server kept what was generated; `done` follows.
    stopped() {
      const b = current;
      if (!b) return;
      b.classList.replace('streaming', 'stopped');
      b.append(el('div', 'note', gettext('(stopped)')));
    },
    refusal: (msg) => specialAnswer('refusal', msg, gettext("Sorry, I can't help with that here.")),
    fallback: (msg) => specialAnswer('fallback', msg, gettext("I couldn't find a confident answer.")),
    feedback_saved() {},
    // After our `resume`: every missed frame is in. No answer running while we still wait
    // for one means its rest is gone (the stream expired, or Redis was down).
    session(msg) {
      // Drawn afresh, after a reconnect too: an answer on its way is replayed from the stream.
      hideTyping();
      current = last = pending = null;
      setBusy(false);
      drawTranscript(msg.transcript);
      lastSeq = Number(msg.resume_after) || 0;
      if (msg.ticket && typeof msg.ticket === 'object') {
        document.dispatchEvent(new CustomEvent('chat:frame', { detail: { ...msg.ticket, type: 'ticket_status' } }));
      }
      if (isOpen()) resume(ws);
    },
    resumed(msg) {
      if (busy && msg.answering !== true) interruptAnswer();
      setStatus('connected');
    },
    ticket(msg) {
      // The server says when a person will reply (business hours); older servers did not.
      const text = interpolate(gettext('Ticket %(number)s created. %(next)s'), {
        number: str(msg.number), next: str(msg.message) || gettext('A human agent will follow up.'),
      }, true);
      ticketEl.textContent = text;
      line('system', text);
      escalation.classList.remove('suggested');
    },
    agent(msg) {
      agentTyping.remove();
      append(bubble('agent', msg.text, str(msg.name) || gettext('Support agent')));
    },
    // Sent every few seconds while the agent types: shown until a pause, or their message.
    agent_typing(msg) {
      agentTyping.textContent = interpolate(gettext('%(name)s is typing…'),
        { name: str(msg.name) || gettext('A support agent') }, true);
      if (!agentTyping.isConnected) append(agentTyping);
      clearTimeout(agentTypingTimer);
      agentTypingTimer = setTimeout(() => agentTyping.remove(), AGENT_TYPING_MS);
    },
    agent_joined: (msg) => line('agent joined', interpolate(gettext('%(name)s joined the conversation.'),
      { name: str(msg.name) || gettext('A support agent') }, true)),
    agent_left: (msg) => line('agent left', str(msg.text) || gettext('You are talking to our assistant again.')),
    error(msg) {
      const code = str(msg.code);
      if (pending && (code === 'busy' || code === 'rate_limited')) {
        // Not asked after all: the question goes back into the box, not lost.
        if (!question.value) { question.value = pending.raw; autosize(); }
        pending.remove();
        pending = null;
      }
      if (busy) finishAnswer();
      let text = str(msg.message) || gettext('Something went wrong. Please try again.');
      const wait = Number(msg.retry_after);
      if (Number.isFinite(wait) && wait > 0) {
        text += ' ' + interpolate(gettext('(try again in %(seconds)s s)'), { seconds: Math.ceil(wait) }, true);
      }
      errorLine(text).dataset.code = str(msg.code);
    },
  };

  function handle(raw) {
    let msg;
    try { msg = JSON.parse(raw); } catch { return; }
    // Unknown types are ignored so an older page survives a newer server.
    if (!msg || typeof msg !== 'object') return;
    if (typeof msg.seq === 'number') {
      if (msg.seq <= lastSeq) return; // seen before the reconnect
      lastSeq = msg.seq;
    }
    handlers[msg.type]?.(msg);
    // The ticket's status and its rating are ticket.js's.
    document.dispatchEvent(new CustomEvent('chat:frame', { detail: msg }));
  }

  // ---------- connection ----------
  const isOpen = () => ws !== null && ws.readyState === WebSocket.OPEN;

  function connect() {
    clearTimeout(retryTimer);
    if (ws && ws.readyState <= WebSocket.OPEN) return; // already connecting/open
    const sock = new WebSocket(SOCKET_URL);
    ws = sock;
    // Handlers check `ws === sock` so events from a stale socket can't touch the UI.
    sock.addEventListener('open', () => {
      if (ws !== sock) return;
      attempts = 0;
      setStatus('connected');
      // In the widget, no cookie names the session: its first frame does (static/widget/frame.js),
      // and `session` answers with the conversation so far. The page resumes at once.
      const hello = window.chatHello?.();
      if (hello) sock.send(JSON.stringify(hello));
      else resume(sock);
    });
    sock.addEventListener('message', (e) => { if (ws === sock) handle(e.data); });
    // 4429: too many sockets from this address, or frames past the budget. Coming straight
    // back would only be refused again (and 'open' resets the backoff), so wait longer.
    sock.addEventListener('close', (e) => {
      if (ws === sock) { ws = null; scheduleReconnect(e.code === 4429 ? LIMITED_RETRY_MS : 0); }
    });
    // 'error' is always followed by 'close', which does the real work.
  }

  // What was missed while away (or while the page loaded), then the live rest.
  const resume = (sock) => sock.send(JSON.stringify({ type: 'resume', after: lastSeq }));

  // The widget's conversation so far (chat.selectors.transcript_frames), drawn as live ones are.
  function drawTranscript(messages) {
    for (const node of log.querySelectorAll('.msg:not(.greeting)')) node.remove();
    for (const m of Array.isArray(messages) ? messages : []) {
      if (!m || typeof m !== 'object') continue;
      const id = str(Number(m.id));
      if (m.role === 'user') append(bubble('user', m.text)).dataset.messageId = id;
      else if (m.role === 'agent') append(bubble('agent', m.text, str(m.name) || gettext('Support agent')));
      else {
        const kind = ['refusal', 'fallback'].includes(m.kind) ? ' ' + m.kind : '';
        const b = append(bubble('bot' + kind, m.text));
        b.dataset.messageId = id;
        const note = { stopped: gettext('(stopped)'), interrupted: gettext('(answer interrupted)') }[m.note];
        if (note) b.append(el('div', 'note', note));
        renderSources(b, m.sources);
        addFeedback(b, id, str(m.feedback));
      }
    }
    scrollDown();
  }

  // An answer streaming now goes on at the server: the next socket resumes it (`resumed`).
  function scheduleReconnect(atLeast) {
    if (navigator.onLine === false) setStatus('offline');
    else setStatus('reconnecting', gettext('reconnecting…'));
    // 0.5s, 1s, 2s … 10s
    const delay = Math.max(atLeast || 0, Math.min(500 * 2 ** attempts, MAX_BACKOFF_MS));
    attempts += 1;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
  }

  // The browser knows when the network is back: don't wait out a long backoff.
  window.addEventListener('online', () => { if (!isOpen()) { attempts = 0; connect(); } });
  window.addEventListener('offline', () => { if (!isOpen()) setStatus('offline'); });

  // ---------- outgoing ----------
  function sendQuestion() {
    const text = question.value.trim();
    if (!text || busy) return;
    if (!isOpen()) {
      // Keep the draft: losing typed text on a flaky connection is infuriating.
      errorLine(gettext("You're not connected right now, so your message wasn't sent. It's still in the box — try again in a moment."));
      return;
    }
    ws.send(JSON.stringify({ type: 'message', text }));
    pending = append(bubble('user', text), true);
    question.value = '';
    autosize();
    last = null;
    setBusy(true);
    showTyping();
  }

  function escalate() {
    if (!emailInput.checkValidity()) { emailInput.reportValidity(); return; }
    if (!isOpen()) return void errorLine(gettext("You're not connected right now, so we couldn't escalate. Try again in a moment."));
    const email = emailInput.value.trim();
    ws.send(JSON.stringify(email ? { type: 'escalate', email } : { type: 'escalate' }));
    escalation.classList.remove('suggested');
    // Brief cooldown against double clicks; the server de-duplicates too.
    escalateBtn.disabled = true;
    setTimeout(() => { escalateBtn.disabled = false; }, ESCALATE_COOLDOWN_MS);
  }

  function autosize() {
    question.style.height = 'auto'; // CSSOM writes are allowed under a strict CSP
    question.style.height = Math.min(question.scrollHeight, 160) + 'px';
  }

  composer.addEventListener('submit', (e) => { e.preventDefault(); sendQuestion(); });
  question.addEventListener('keydown', (e) => {
    // isComposing: Enter confirms an IME candidate (e.g. Japanese input) rather than sending.
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendQuestion(); }
  });
  question.addEventListener('input', autosize);
  escalateBtn.addEventListener('click', escalate);
  stopBtn.addEventListener('click', () => { if (isOpen() && busy) ws.send(JSON.stringify({ type: 'stop' })); });
  // Frames from the page's other scripts (ticket.js: a rating).
  document.addEventListener('chat:send', (e) => {
    if (!isOpen()) return void errorLine(gettext("You're not connected right now. Try again in a moment."));
    ws.send(JSON.stringify(e.detail));
  });
  emailInput.addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.isComposing) { e.preventDefault(); escalate(); } });

  // ---------- start ----------
  // The page came with the greeting and the conversation so far (templates/chat/message.html):
  // the stored answers get their thumbs, showing the choice already made.
  for (const b of log.querySelectorAll('.msg.bot')) {
    b.body = b.querySelector('.text');
    setText(b, b.body.textContent);
    if (b.dataset.messageId) addFeedback(b, b.dataset.messageId, b.dataset.feedback);
  }
  scrollDown();
  setBusy(false);
  // The widget's frame connects once its host page has handed over the session (frame.js).
  // (frame.js sets chatReady if that happened before this script ran.)
  if (!('widget' in document.body.dataset) || window.chatReady) connect();
  else document.addEventListener('chat:ready', connect, { once: true });
})();
