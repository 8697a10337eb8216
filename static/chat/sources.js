// The links of an answer, for chat.js and markdown.js (`window.chatSources`).
// SECURITY: links only to this site (the KB) and the configured docs domains (DOCS_DOMAINS,
// which the server also enforces); anything else (javascript:, data:, //host, other hosts,
// user@host) becomes plain text. Built with createElement + textContent only.
'use strict';

(() => {
  const gettext = window.gettext || ((s) => s);
  const str = (v) => (typeof v === 'string' ? v : v == null ? '' : String(v));

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  const docsDomains = str(document.body.dataset.docsDomains).toLowerCase().split(/\s+/).filter(Boolean);
  const allowedHost = (host) => docsDomains.some((d) =>
    host === d.replace(/^\./, '') || (d.startsWith('.') && host.endsWith(d)));

  function safeHref(url) {
    const u = str(url).trim();
    if (!u || /[\s\\]/.test(u) || /[\u0000-\u001f]/.test(u)) return null;
    let parsed;
    try { parsed = new URL(u, location.href); } catch { return null; }
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return null;
    if (parsed.username || parsed.password) return null;
    if (parsed.origin === location.origin) return u.startsWith('/') ? u : parsed.href;
    return allowedHost(parsed.hostname.toLowerCase()) ? parsed.href : null;
  }

  // The `sources` frame's list: a link where one may be followed, the title as text if not.
  function sourcesList(sources) {
    const list = el('ul', 'sources');
    list.setAttribute('aria-label', gettext('Sources'));
    for (const s of sources) {
      if (!s || typeof s !== 'object') continue;
      const title = str(s.title) || str(s.slug) || str(s.url) || gettext('Untitled');
      const href = safeHref(s.url);
      const item = el('li');
      const label = el(href ? 'a' : 'span', href ? null : 'source-text', title);
      if (href) Object.assign(label, { href, target: '_blank', rel: 'noopener' });
      item.append(label);
      if (s.section) item.append(el('span', 'section', str(s.section)));
      list.append(item);
    }
    return list;
  }

  window.chatSources = { safeHref, sourcesList };
})();
