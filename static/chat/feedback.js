// Thumbs up/down under each stored answer, for chat.js (`window.chatFeedback`); the server
// keeps the latest choice. Drawn as inline SVG, not emoji: a browser without an emoji font
// shows emoji as empty boxes.
'use strict';

(() => {
  const gettext = window.gettext || ((s) => s);
  const SVG = 'http://www.w3.org/2000/svg';
  const THUMB_PATH = 'M2 10h4v11H2zM8 21h9.5a2 2 0 0 0 2-1.6l1.4-7A2 2 0 0 0 19 10h-5.2l.8-4.1A2 2 0 0 0 12.6 3L8 9z';

  function thumbIcon(value) {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '16');
    svg.setAttribute('height', '16');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', THUMB_PATH);
    path.setAttribute('fill', 'currentColor');
    if (value === 'down') path.setAttribute('transform', 'rotate(180 12 12)');
    svg.append(path);
    return svg;
  }

  // `send(frame)`: chat.js sends it, and returns true, when the socket is open.
  window.chatFeedback = (b, messageId, chosen, send) => {
    if (b.querySelector('.feedback')) return;
    const row = document.createElement('div');
    row.className = 'feedback';
    for (const [value, title] of [['up', gettext('Helpful')], ['down', gettext('Not helpful')]]) {
      const button = document.createElement('button');
      button.className = `thumb thumb-${value}`;
      button.append(thumbIcon(value));
      Object.assign(button, { type: 'button', title });
      button.setAttribute('aria-label', title);
      button.setAttribute('aria-pressed', String(value === chosen));
      button.addEventListener('click', () => {
        if (!send({ type: 'feedback', message_id: Number(messageId), value })) return;
        for (const other of row.querySelectorAll('button')) other.setAttribute('aria-pressed', String(other === button));
      });
      row.append(button);
    }
    b.append(row);
  };
})();
