// The supervisor's view: how the system performs over time, per port and
// per mode, and whether it keeps its retention promises. Time series come
// from GET /v1/reports/timeseries (one call per scope), the per-port
// comparison from GET /v1/reports/summary over the same range, retention
// from GET /v1/reports/retention. Charts are SVG (chart.js). Refreshes
// every 30 s; no images, no identities: only counts.

import { api } from './api.js';
import { h, clear, pct, isoUtc, dateTime, typingIn } from './dom.js';
import { lineChart, barChart } from './chart.js';

const RANGES = [
  { id: '1h', label: 'Last hour, per minute', span: 3600, bucket: 'minute', step: 60 },
  { id: '24h', label: 'Last 24 hours, per hour', span: 86400, bucket: 'hour', step: 3600 },
  { id: '7d', label: 'Last 7 days, per day', span: 7 * 86400, bucket: 'day', step: 86400 },
  { id: '30d', label: 'Last 30 days, per day', span: 30 * 86400, bucket: 'day', step: 86400 },
];

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function label(start, bucket) {
  return bucket === 'day' ? start.slice(5, 10) : start.slice(11, 16);
}

export function mountSupervisor(root, { heading = 'Performance' } = {}) {
  let timer = 0;
  let seq = 0;
  const rangeSel = h('select', { id: 'sup-range' }, RANGES.map((r) => h('option', { value: r.id, selected: r.id === '24h' }, r.label)));
  const scopeSel = h('select', { id: 'sup-scope' }, h('option', { value: '' }, 'All ports and modes'));
  const status = h('p', { class: 'hint', role: 'status', id: 'sup-status' });
  const charts = h('div', { class: 'charts', id: 'sup-charts' });
  const ports = h('div', { class: 'charts', id: 'sup-ports' });
  const retention = h('div', { id: 'sup-retention' });
  const view = h('div', { class: 'supervisor', id: 'supervisor-view' },
    h('div', { class: 'bar controls' },
      h('h2', {}, heading),
      h('label', { for: 'sup-range' }, 'Range'), rangeSel,
      h('label', { for: 'sup-scope' }, 'Scope'), scopeSel,
      h('button', { type: 'button', id: 'sup-refresh', 'aria-keyshortcuts': 'U', onclick: () => load() }, h('kbd', {}, 'U'), ' Update'),
      status,
      h('p', { class: 'keys' }, h('kbd', {}, 'U'), ' update · ', h('kbd', {}, 'Tab'), ' next control')),
    h('section', { 'aria-labelledby': 'sup-time-h' }, h('h3', { id: 'sup-time-h' }, 'Over time'), charts),
    h('section', { 'aria-labelledby': 'sup-port-h' }, h('h3', { id: 'sup-port-h' }, 'Per port and mode'), ports),
    h('section', { 'aria-labelledby': 'sup-ret-h' }, h('h3', { id: 'sup-ret-h' }, 'Retention status'), retention));
  root.append(view);
  rangeSel.addEventListener('change', () => load());
  scopeSel.addEventListener('change', () => load());
  document.addEventListener('keydown', keys);

  function keys(ev) {
    if (typingIn(ev) || !document.body.contains(view)) return;
    if (ev.key === 'u' || ev.key === 'U') { ev.preventDefault(); load(); }
  }

  async function loadScopes() {
    try {
      const { ports: list } = await api('/v1/ports');
      const modes = [...new Set(list.map((p) => p.mode))];
      for (const m of modes) scopeSel.append(h('option', { value: `mode=${m}` }, `Mode: ${m}`));
      for (const p of list) scopeSel.append(h('option', { value: `port=${p.code}` }, `Port: ${p.code} ${p.name} (${p.mode})`));
    } catch { /* the charts still work for all ports */ }
  }

  function drawSeries(r, range) {
    const s = r.series;
    const labels = s.map((b) => label(b.start, range.bucket));
    const v = (k) => s.map((b) => b[k]);
    const total = (k) => s.reduce((a, b) => a + (b[k] || 0), 0);
    const decided = total('match') + total('no_match') + total('impostor_suspected');
    clear(charts).append(
      lineChart({
        title: 'Match rate, capture rate and no-matches confirmed manually', labels, max: 1, fmt: (x) => pct(x, 0),
        series: [{ name: 'match rate', values: v('match_rate') }, { name: 'capture rate', values: v('capture_rate') },
          { name: 'no-matches confirmed manually (FNMR proxy)', values: v('fnmr_proxy') }],
        note: `Whole range: ${total('captures')} captures, match rate ${pct(decided ? total('match') / decided : null)}, ` +
          `${plural(total('confirmed_manually'), 'no-match', 'no-matches')} later confirmed by a document check.`,
      }),
      lineChart({
        title: 'Opt-out rate', labels, fmt: (x) => pct(x, 0),
        series: [{ name: 'opt-outs / encounters', values: v('opt_out_rate'), colour: 3 }],
        note: `Whole range: ${plural(total('opt_out'), 'opt-out', 'opt-outs')}.`,
      }),
      lineChart({
        title: 'Capture latency', labels, fmt: (x) => `${Math.round(x)} ms`,
        series: [{ name: 'p50', values: v('latency_p50_ms'), colour: 4 }, { name: 'p99', values: v('latency_p99_ms'), colour: 5 }],
        note: 'Decode to commit, per bucket (nearest rank). The goal is 150 ms at p99.',
      }),
      (labels.length > 24 ? lineChart : barChart)({
        title: 'Impostors flagged and no-matches', labels, categories: labels, integer: true, fmt: (x) => String(Math.round(x)),
        series: [{ name: 'impostor suspected', values: v('impostor_suspected'), colour: 2 }, { name: 'no match', values: v('no_match'), colour: 1 }],
        note: `Whole range: ${plural(total('impostor_suspected'), 'impostor', 'impostors')} flagged, ${plural(total('no_match'), 'no-match', 'no-matches')}, ${plural(total('retake'), 'retake', 'retakes')}.`,
      }));
  }

  function drawPorts(rows) {
    clear(ports);
    if (!rows.length) { ports.append(h('p', { class: 'hint' }, 'No encounters in this range.')); return; }
    const cats = rows.map((r) => `${r.port} (${r.mode})`);
    const capRate = (r) => (r.captures ? (r.match + r.no_match + r.impostor_suspected) / r.captures : null);
    ports.append(
      barChart({
        title: 'Rates per port', categories: cats, max: 1, fmt: (x) => pct(x, 0),
        series: [{ name: 'match rate', values: rows.map((r) => r.match_rate) }, { name: 'capture rate', values: rows.map(capRate) },
          { name: 'opt-out rate', values: rows.map((r) => r.opt_out_rate), colour: 3 }],
      }),
      h('table', { class: 'grid-table', id: 'sup-port-table' },
        h('caption', { class: 'sr-only' }, 'Counts per port and mode'),
        h('thead', {}, h('tr', {}, ['Port', 'Mode', 'Captures', 'Match', 'No match', 'Impostor', 'Retake', 'Opt-out', 'Resolved', 'Match rate']
          .map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows.map((r) => h('tr', {},
          h('th', { scope: 'row' }, r.port), h('td', {}, r.mode), h('td', {}, r.captures), h('td', {}, r.match),
          h('td', {}, r.no_match), h('td', {}, r.impostor_suspected), h('td', {}, r.retake), h('td', {}, r.opt_out),
          h('td', {}, r.resolved), h('td', {}, pct(r.match_rate)))))));
  }

  function drawRetention(r) {
    clear(retention).append(h('p', {}, `Rule set in force: ${r.rule_set}.`));
    if (!r.categories.length) { retention.append(h('p', { class: 'hint' }, 'Nothing held.')); return; }
    retention.append(h('table', { class: 'grid-table', id: 'sup-retention-table' },
      h('thead', {}, h('tr', {}, ['Category', 'Encounters', 'With photo', 'Oldest photo', 'Photo due', 'Overdue', 'Next record purge']
        .map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, r.categories.map((c) => h('tr', { class: c.overdue ? 'overdue' : '' },
        h('th', { scope: 'row' }, c.category || 'uncategorised'), h('td', {}, c.encounters), h('td', {}, c.with_biometrics),
        h('td', {}, c.oldest_biometrics ? dateTime(c.oldest_biometrics) : '–'),
        h('td', {}, c.held_until_resolved ? 'held until resolved' : c.oldest_biometrics_purge_at ? dateTime(c.oldest_biometrics_purge_at) : '–'),
        h('td', {}, c.overdue ? h('strong', {}, `${c.overdue} overdue`) : '0'),
        h('td', {}, c.next_record_purge_at ? dateTime(c.next_record_purge_at) : 'kept'))))));
  }

  async function load() {
    const my = ++seq;
    const range = RANGES.find((r) => r.id === rangeSel.value) || RANGES[1];
    const now = Math.floor(Date.now() / 1000);
    const to = (Math.floor(now / range.step) + 1) * range.step;
    const from = to - range.span;
    const q = `from=${isoUtc(new Date(from * 1000))}&to=${isoUtc(new Date(to * 1000))}`;
    status.textContent = 'Updating…';
    try {
      const [series, summary, ret] = await Promise.all([
        api(`/v1/reports/timeseries?${q}&bucket=${range.bucket}${scopeSel.value ? `&${scopeSel.value}` : ''}`),
        api(`/v1/reports/summary?${q}`),
        api('/v1/reports/retention'),
      ]);
      if (my !== seq) return;
      drawSeries(series, range);
      drawPorts(summary.ports);
      drawRetention(ret);
      status.textContent = `Updated ${new Date().toISOString().slice(11, 19)} UTC.`;
    } catch (e) {
      if (my === seq) status.textContent = `Could not update: ${e.message}`;
    }
  }

  loadScopes();
  load();
  timer = setInterval(load, 30000);
  return {
    focus: () => rangeSel.focus(),
    unmount() {
      clearInterval(timer);
      document.removeEventListener('keydown', keys);
      view.remove();
    },
  };
}
