// The auditor's view: the audit chain's verdict (GET /v1/audit/verify),
// the log itself (GET /v1/audit, the time range asked of the server, actor
// and action filtered here), and who accessed what per period
// (GET /v1/reports/access). Text only: this view never fetches or shows an
// image, and has no element that could (the browser tests check).

import { api } from './api.js';
import { h, clear, isoUtc, hms, typingIn } from './dom.js';

// <input type="datetime-local"> value (read as UTC) <-> RFC 3339
function toIso(local) {
  return local ? `${local.length === 16 ? `${local}:00` : local}Z` : '';
}
function toLocal(date) {
  return isoUtc(date).slice(0, 16);
}

export function mountAuditor(root, { heading = 'Audit' } = {}) {
  let rows = [];
  let seq = 0;
  const now = new Date();
  const from = h('input', { type: 'datetime-local', id: 'aud-from', value: toLocal(new Date(now - 7 * 86400e3)) });
  const to = h('input', { type: 'datetime-local', id: 'aud-to', value: toLocal(new Date(+now + 3600e3)) });
  const actor = h('input', { type: 'search', id: 'aud-actor', placeholder: 'e.g. user:officer', autocomplete: 'off', spellcheck: 'false' });
  const action = h('select', { id: 'aud-action' }, h('option', { value: '' }, 'Any action'));
  const period = h('select', { id: 'aud-period' }, ['hour', 'day', 'week'].map((p) => h('option', { value: p, selected: p === 'day' }, p)));
  const verify = h('div', { id: 'aud-verify', role: 'status', class: 'verify' }, 'Checking the chain…');
  const shown = h('p', { class: 'hint', id: 'aud-shown', role: 'status' });
  const logBody = h('tbody', { id: 'aud-rows' });
  const access = h('div', { id: 'aud-access' });
  const form = h('form', { class: 'filters', id: 'aud-filters', 'aria-label': 'Filter the audit log' },
    h('label', { for: 'aud-from' }, 'From (UTC)'), from,
    h('label', { for: 'aud-to' }, 'To (UTC)'), to,
    h('label', { for: 'aud-actor' }, 'Actor'), actor,
    h('label', { for: 'aud-action' }, 'Action'), action,
    h('label', { for: 'aud-period' }, 'Access period'), period,
    h('button', { type: 'submit', id: 'aud-apply' }, 'Apply'));
  const view = h('div', { class: 'auditor', id: 'auditor-view' },
    h('div', { class: 'bar' }, h('h2', {}, heading), verify,
      h('p', { class: 'keys' }, h('kbd', {}, '/'), ' filter by actor · ', h('kbd', {}, 'Enter'), ' apply the range · ', h('kbd', {}, 'Tab'), ' next field')),
    form,
    h('div', { class: 'audit-cols' },
      h('section', { 'aria-labelledby': 'aud-log-h', class: 'log' },
        h('h3', { id: 'aud-log-h' }, 'Audit log'), shown,
        h('div', { class: 'scroll', tabindex: '0', 'aria-label': 'Audit log rows' },
          h('table', { class: 'grid-table', id: 'aud-table' },
            h('thead', {}, h('tr', {}, ['Seq', 'UTC', 'Actor', 'Role', 'Action', 'Object', 'Purpose']
              .map((c) => h('th', { scope: 'col' }, c)))),
            logBody))),
      h('section', { 'aria-labelledby': 'aud-acc-h', class: 'access' },
        h('h3', { id: 'aud-acc-h' }, 'Access per partner and period'),
        h('div', { class: 'scroll', tabindex: '0', 'aria-label': 'Access report rows' }, access))));
  root.append(view);
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  actor.addEventListener('input', render);
  action.addEventListener('change', render);
  document.addEventListener('keydown', keys);

  function keys(ev) {
    if (typingIn(ev) || !document.body.contains(view)) return;
    if (ev.key === '/') { ev.preventDefault(); actor.focus(); }
  }

  function render() {
    const a = actor.value.trim().toLowerCase();
    const act = action.value;
    const pick = rows.filter((r) => (!a || (r.actor || '').toLowerCase().includes(a)) && (!act || r.action === act));
    clear(logBody);
    for (const r of pick.slice(-500).reverse()) {
      logBody.append(h('tr', {},
        h('td', {}, r.seq), h('td', { class: 'nowrap' }, `${r.at.slice(0, 10)} ${hms(r.at)}`), h('td', {}, r.actor || ''), h('td', {}, r.role || ''),
        h('td', {}, r.action || ''), h('td', {}, r.object || ''), h('td', {}, r.purpose || '')));
    }
    shown.textContent = `Showing ${Math.min(pick.length, 500)} of ${pick.length} matching rows (${rows.length} loaded, newest first).`;
  }

  function renderActions() {
    const keep = action.value;
    const names = [...new Set(rows.map((r) => r.action).filter(Boolean))].sort();
    clear(action).append(h('option', { value: '' }, 'Any action'), ...names.map((n) => h('option', { value: n, selected: n === keep }, n)));
  }

  function renderAccess(rep) {
    const flat = [];
    for (const [start, actors] of Object.entries(rep.periods)) {
      for (const [who, actions] of Object.entries(actors)) {
        for (const [what, n] of Object.entries(actions)) flat.push({ start, who, what, n });
      }
    }
    flat.sort((x, y) => (x.start < y.start ? 1 : x.start > y.start ? -1 : x.who.localeCompare(y.who)));
    clear(access);
    if (!flat.length) { access.append(h('p', { class: 'hint' }, 'No access in this range.')); return; }
    access.append(h('table', { class: 'grid-table', id: 'aud-access-table' },
      h('thead', {}, h('tr', {}, ['Period from', 'Actor', 'Action', 'Count'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, flat.map((r) => h('tr', {}, h('td', { class: 'nowrap' }, `${r.start.slice(0, 10)} ${r.start.slice(11, 16)}`), h('td', {}, r.who), h('td', {}, r.what), h('td', {}, r.n))))));
  }

  async function load() {
    const my = ++seq;
    const q = `from=${encodeURIComponent(toIso(from.value))}&to=${encodeURIComponent(toIso(to.value))}`;
    api('/v1/audit/verify').then((v) => {
      verify.className = `verify ${v.ok ? 'ok' : 'bad'}`;
      verify.textContent = v.ok
        ? `Chain verified: ${v.verified} of ${v.rows} rows, last seq ${v.last_seq}.`
        : `Chain BROKEN at seq ${v.first_bad_seq} (${v.damage}): ${v.message}`;
    }).catch((e) => {
      verify.className = 'verify bad';
      verify.textContent = `Chain not checked: ${e.message}`;
    });
    shown.textContent = 'Loading…';
    try {
      const [log, acc] = await Promise.all([
        api(`/v1/audit?${q}&limit=10000`),
        api(`/v1/reports/access?${q}&period=${period.value}`),
      ]);
      if (my !== seq) return;
      rows = log.rows;
      renderActions();
      render();
      if (log.truncated) shown.textContent += ' The range holds more than 10000 rows: narrow it.';
      renderAccess(acc);
    } catch (e) {
      if (my === seq) shown.textContent = `Could not load: ${e.message}`;
    }
  }

  load();
  return {
    focus: () => from.focus(),
    unmount() {
      document.removeEventListener('keydown', keys);
      view.remove();
    },
  };
}
