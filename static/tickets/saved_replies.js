// The reply box's saved replies (templates/admin/tickets/ticket/change_form.html): a search
// above #id_reply asks the server as the agent types (tickets/admin_saved_replies.py) and a
// click inserts the chosen reply, already filled in for this ticket, at the cursor.
// SECURITY: replies are text written by staff in the admin: textContent only, never markup.
'use strict';

(() => {
  const source = document.getElementById('saved-replies');
  const reply = document.getElementById('id_reply');
  if (!source || !reply) return;
  const DEBOUNCE_MS = 250, MAX_QUERY = 100;
  let timer = null, asked = 0;

  const search = document.createElement('input');
  search.type = 'search';
  search.id = 'saved-reply-search';
  search.placeholder = 'Search saved replies…';
  search.autocomplete = 'off';
  search.maxLength = MAX_QUERY;
  search.setAttribute('aria-label', 'Search saved replies');
  const results = document.createElement('div');
  results.id = 'saved-reply-results';
  results.setAttribute('aria-live', 'polite');
  reply.before(search, results);

  function insert(text) {
    // The textarea keeps its selection while the button has focus: the reply goes where
    // the agent left the cursor (or replaces what they selected).
    reply.setRangeText(text, reply.selectionStart, reply.selectionEnd, 'end');
    reply.focus();
    // As if typed: live.js tells the customer the agent is typing.
    reply.dispatchEvent(new Event('input', { bubbles: true }));
  }

  function show(replies) {
    results.replaceChildren(...replies.map((found) => {
      const text = String(found?.text ?? '');
      const button = document.createElement('button');
      button.type = 'button'; // inside the ticket's form: never a submit
      button.className = 'saved-reply';
      button.textContent = String(found?.title ?? '');
      button.title = text;
      button.addEventListener('click', () => insert(text));
      return button;
    }));
  }

  async function find() {
    const mine = ++asked;
    const url = new URL(source.dataset.url, location.href);
    url.searchParams.set('q', search.value.slice(0, MAX_QUERY));
    let body;
    try {
      const response = await fetch(url, { credentials: 'same-origin' });
      if (!response.ok) return;
      body = await response.json();
    } catch {
      return;
    }
    if (mine !== asked) return; // a later search is on its way: this answer is stale
    show(Array.isArray(body?.replies) ? body.replies : []);
  }

  search.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(find, DEBOUNCE_MS);
  });
  // Enter in a text input would submit the ticket's form (and send the reply box).
  search.addEventListener('keydown', (e) => { if (e.key === 'Enter') e.preventDefault(); });
  // Before the agent types anything, focusing the search lists the first replies.
  search.addEventListener('focus', () => { if (!results.childElementCount) find(); });
})();
