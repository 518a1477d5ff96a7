// Small DOM helpers shared by the views: element builders that only ever
// set text (never HTML, so data from the API cannot inject markup), time
// and number formatting, and the polite live region for announcements.

// h('p', {class: 'x', 'aria-label': 'y', onclick: fn}, 'text', child, ...)
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function $(sel, root = document) {
  return root.querySelector(sel);
}

// "2026-11-23T10:00:05Z" -> "10:00:05" (UTC: every time in the console is UTC)
export function hms(iso) {
  return typeof iso === 'string' && iso.length >= 19 ? iso.slice(11, 19) : String(iso ?? '');
}

// "2026-11-23T10:00:05Z" -> "2026-11-23 10:00 UTC"
export function dateTime(iso) {
  return typeof iso === 'string' && iso.length >= 16 ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : String(iso ?? '');
}

export function pct(x, digits = 1) {
  return x === null || x === undefined || Number.isNaN(x) ? '–' : `${(x * 100).toFixed(digits)}%`;
}

export function ms(x) {
  return x === null || x === undefined ? '–' : `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`;
}

// RFC 3339 UTC without milliseconds, as the API wants it
export function isoUtc(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

let announceTimer = 0;
// Say msg to screen readers through the page's polite live region.
export function announce(msg) {
  const el = document.getElementById('announce');
  if (!el) return;
  el.textContent = '';
  clearTimeout(announceTimer);
  announceTimer = setTimeout(() => { el.textContent = msg; }, 50);
}

// True when a key press belongs to a field (typing) rather than a shortcut.
export function typingIn(ev) {
  const t = ev.target;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return true;
  if (!(t instanceof Element)) return false;
  if (t.closest('dialog[open]')) return true;
  const tag = t.tagName;
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || t.isContentEditable;
}

// A list of shortcuts shown on screen: [[key, what], ...]
export function shortcutList(label, keys) {
  return h('section', { class: 'shortcuts', 'aria-label': label },
    h('h3', {}, 'Keyboard'),
    h('dl', {}, keys.map(([k, what]) => [h('dt', {}, h('kbd', {}, k)), h('dd', {}, what)])));
}
