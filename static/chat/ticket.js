// The ticket on the support page: its status, live, and the rating once it is resolved.
// Frames come from chat.js (`chat:frame`); the rating goes out through it (`chat:send`).
// SECURITY: the server's text is untrusted: textContent only.
'use strict';

(() => {
  const status = document.getElementById('ticket-status');
  const form = document.getElementById('rating');
  if (!status || !form) return;
  // The page's strings, in its language (/jsi18n/); in English without the catalog.
  const gettext = window.gettext || ((s) => s);
  const interpolate = window.interpolate ||
    ((fmt, obj) => fmt.replace(/%\((\w+)\)s/g, (_, key) => String(obj[key])));
  const str = (v) => (typeof v === 'string' ? v : v == null ? '' : String(v));
  const button = form.querySelector('button');

  function showStatus(msg) {
    status.dataset.status = str(msg.status);
    const label = document.createElement('strong');
    label.textContent = LABELS[msg.status] || str(msg.label);
    status.replaceChildren(interpolate(gettext('Ticket %(number)s:'), { number: str(msg.number) }, true), ' ', label);
    status.hidden = false;
    form.hidden = msg.rate !== true;
  }

  function thank(text) {
    const note = document.createElement('p');
    note.className = 'rating-thanks';
    note.textContent = text;
    form.replaceWith(note);
  }

  // Ticket.CUSTOMER_LABELS, in the page's language (the server sends English).
  const LABELS = {
    __proto__: null,
    new: gettext('Waiting for a person'),
    open: gettext('A person is on it'),
    pending: gettext('Waiting for your reply'),
    resolved: gettext('Resolved'),
    closed: gettext('Closed'),
  };

  const handlers = {
    __proto__: null,
    ticket_status: showStatus,
    rated: () => thank(gettext('Thank you for your rating.')),
    error(msg) {
      if (msg.code === 'cannot_rate' || msg.code === 'bad_rating') button.disabled = false;
    },
  };
  document.addEventListener('chat:frame', (e) => handlers[e.detail.type]?.(e.detail));

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const score = Number(new FormData(form).get('score'));
    if (!(score >= 1 && score <= 5)) return;
    button.disabled = true;
    const comment = form.elements.comment.value.trim();
    document.dispatchEvent(new CustomEvent('chat:send', { detail: { type: 'rate', score, comment } }));
  });
})();
