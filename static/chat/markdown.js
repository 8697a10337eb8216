// An answer's Markdown, drawn as DOM for chat.js (window.drawMarkdown). Plain ES2020.
// The model writes Markdown: paragraphs, lists, code blocks, bold, italics, inline code and
// links. They are drawn with createElement + textContent from a small subset, re-drawn as
// tokens arrive. Nothing the model writes is ever parsed as HTML, so <img onerror>,
// <script> and the like stay text; an image is shown as its alt text; a link goes only
// where the page's safeHref allows, otherwise its text stays.
'use strict';

(() => {
  const ITEM = /^\s*(?:([-*+])|\d{1,3}[.)])\s+(.*)$/;
  const FENCE = /^\s*```/;
  // Images first, so "![x](u)" is never read as a link; "_" only around whole words, so
  // snake_case stays as written.
  const INLINE = /!\[([^\]\n]*)\]\([^)\n]*\)|\*\*([^*\n]+)\*\*|__([^_\n]+)__|\*([^*\n]+)\*|(?<!\w)_([^_\n]+)_(?!\w)|`([^`\n]+)`|\[([^\]\n]+)\]\(([^)\s]+)\)/;

  function el(tag, text) {
    const node = document.createElement(tag);
    if (text) node.textContent = text;
    return node;
  }

  // Draw `text` into `target`, replacing what it held; `safeHref(url)` is a link's href, or null.
  function drawMarkdown(target, text, safeHref) {
    const blocks = document.createDocumentFragment();
    const lines = String(text ?? '').split('\n');
    const inline = (parent, line) => inlineInto(parent, line, safeHref);
    let para = [];
    const endParagraph = () => {
      if (para.length) blocks.append(inline(el('p'), para.join('\n')));
      para = [];
    };
    for (let i = 0; i < lines.length;) {
      if (FENCE.test(lines[i])) {
        endParagraph();
        const code = [];
        for (i += 1; i < lines.length && !FENCE.test(lines[i]); i += 1) code.push(lines[i]);
        i += 1; // the closing fence, or the end while the answer still streams
        const pre = el('pre');
        pre.append(el('code', code.join('\n')));
        blocks.append(pre);
      } else if (ITEM.test(lines[i])) {
        endParagraph();
        const ordered = !lines[i].match(ITEM)[1];
        const list = el(ordered ? 'ol' : 'ul');
        for (let m; i < lines.length && (m = lines[i].match(ITEM)) && !m[1] === ordered; i += 1) {
          list.append(inline(el('li'), m[2]));
        }
        blocks.append(list);
      } else {
        if (lines[i].trim()) para.push(lines[i]);
        else endParagraph();
        i += 1;
      }
    }
    endParagraph();
    target.replaceChildren(blocks);
  }

  function inlineInto(parent, text, safeHref) {
    let rest = text;
    for (let m; rest && (m = rest.match(INLINE));) {
      if (m.index) parent.append(rest.slice(0, m.index));
      if (m[1] !== undefined) parent.append(m[1]);
      else if (m[2] || m[3]) parent.append(el('strong', m[2] || m[3]));
      else if (m[4] || m[5]) parent.append(el('em', m[4] || m[5]));
      else if (m[6]) parent.append(el('code', m[6]));
      else parent.append(link(m[7], safeHref(m[8])));
      rest = rest.slice(m.index + m[0].length);
    }
    if (rest) parent.append(rest);
    return parent;
  }

  function link(text, href) {
    if (!href) return text;
    const a = el('a', text);
    Object.assign(a, { href, target: '_blank', rel: 'noopener nofollow' });
    return a;
  }

  window.drawMarkdown = drawMarkdown;
})();
