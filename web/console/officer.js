// The officer's view: the live stream of encounters at the officer's
// locations (GET /v1/events, read over fetch), the selected encounter's
// live capture beside the reference portrait, one-key resolutions, and the
// gallery status of each departure.
//
// The list is loaded after the stream is open (GET /v1/encounters), and
// the two are merged by id, so nothing that happens in between is missed.
// Images are fetched only for the encounter on screen, each with a stated
// purpose that the server audits, and drawn onto canvases; switching to
// another encounter wipes them.

import { api, imageBitmap, currentSession, ApiError } from './api.js';
import { EventStream } from './events.js';
import { h, clear, hms, dateTime, announce, typingIn, shortcutList } from './dom.js';

const WITH_IMAGES = new Set(['MATCH', 'NO_MATCH', 'IMPOSTOR_SUSPECTED']);
const LOC_KEY = 'tvs.officer.locations';
const LIST_MAX = 200;

// one-key resolutions: outcome sent to POST /v1/encounters/{id}/resolve
const ACTIONS = [
  { key: 'V', outcome: 'verified', label: 'Document check confirmed', note: 'manual document check confirmed' },
  { key: 'R', outcome: 'referred', label: 'Referred to secondary', note: 'referred to secondary inspection' },
  { key: 'I', outcome: 'denied', label: 'Impostor suspected', note: 'impostor suspected by the officer' },
  { key: 'O', outcome: 'optout', label: 'Opt-out recorded', note: null },
];

const DECISION_TEXT = {
  MATCH: 'Match', NO_MATCH: 'No match', IMPOSTOR_SUSPECTED: 'Impostor suspected', RETAKE: 'Retake', OPT_OUT: 'Opt-out',
};

function badge(decision) {
  return h('span', { class: `badge d-${(decision || '').toLowerCase()}` }, DECISION_TEXT[decision] || decision || '?');
}

function statusText(e) {
  if (e.status === 'resolved') return e.outcome ? `resolved: ${e.outcome}` : 'resolved';
  if (e.status === 'pending') return 'pending';
  return 'closed';
}

export function mountOfficer(root) {
  const st = {
    locations: new Map(), notices: new Map(), enc: new Map(), order: [],
    selected: null, detail: null, detailCtl: null, mine: new Set(), stream: null, timers: [],
  };
  try {
    for (const id of JSON.parse(localStorage.getItem(LOC_KEY) || '[]')) st.mine.add(Number(id));
  } catch { /* none saved */ }

  const conn = h('span', { class: 'conn', role: 'status', id: 'conn' }, 'connecting…');
  const counts = h('p', { class: 'counts', id: 'counts' });
  const list = h('ol', {
    id: 'enc-list', role: 'listbox', tabindex: '0', 'aria-label': 'Encounters, newest first',
    onkeydown: listKeys,
  });
  const detail = h('section', { class: 'detail', id: 'detail', 'aria-labelledby': 'detail-h' },
    h('h2', { id: 'detail-h' }, 'No encounter selected'),
    h('p', { class: 'hint' }, 'Encounters appear here as the cameras post them. Select one with J and K or the arrow keys.'));
  const gallery = h('tbody', { id: 'gallery-rows' });
  const locBox = h('fieldset', { class: 'locs', id: 'my-locations' }, h('legend', {}, 'My locations'));
  const view = h('div', { class: 'officer', id: 'officer-view' },
    h('section', { class: 'stream', 'aria-labelledby': 'stream-h' },
      h('div', { class: 'bar' }, h('h2', { id: 'stream-h' }, 'Live encounters'), conn),
      counts, list),
    detail,
    h('aside', { class: 'side', 'aria-label': 'Gallery status and settings' },
      h('section', { 'aria-labelledby': 'gallery-h' },
        h('h2', { id: 'gallery-h' }, 'Departures: gallery status'),
        h('table', { class: 'grid-table', id: 'gallery-table' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Departure'), h('th', { scope: 'col' }, 'Leaves'),
            h('th', { scope: 'col' }, 'Gallery'))),
          gallery)),
      locBox,
      shortcutList('Keyboard shortcuts', [
        ['J / ↓', 'next encounter'], ['K / ↑', 'previous encounter'],
        ...ACTIONS.map((a) => [a.key, a.label]), ['Esc', 'close the opt-out notice'],
      ])));
  root.append(view);
  document.addEventListener('keydown', globalKeys);

  // ---- data ----

  function inMine(locId) {
    return st.mine.size === 0 || st.mine.has(Number(locId));
  }

  function locName(id) {
    const l = st.locations.get(Number(id));
    return l ? `${l.code} ${l.name}` : `location ${id}`;
  }

  function locCode(id) {
    const l = st.locations.get(Number(id));
    return l ? l.code : `#${id}`;
  }

  function upsert(e, fresh) {
    const had = st.enc.get(e.id);
    st.enc.set(e.id, { ...had, ...e });
    if (!had) {
      st.order.push(e.id);
      st.order.sort((a, b) => b - a);
      if (st.order.length > LIST_MAX) {
        const gone = st.order.splice(LIST_MAX);
        for (const id of gone) if (id !== st.selected) st.enc.delete(id);
      }
    }
    renderRow(st.enc.get(e.id), fresh);
  }

  function renderCounts() {
    let pending = 0;
    for (const e of st.enc.values()) if (e.status === 'pending' && inMine(e.location_id)) pending++;
    counts.textContent = `${pending} pending for an officer`;
  }

  function rowFor(e) {
    return h('li', {
      id: `enc-${e.id}`, role: 'option', 'aria-selected': String(e.id === st.selected),
      class: `row${e.status === 'pending' ? ' pending' : ''}`,
      dataset: { id: e.id, decision: e.decision, status: e.status },
      onclick: () => select(e.id, true),
    },
    h('span', { class: 'time' }, hms(e.at)),
    h('span', { class: 'loc' }, locCode(e.location_id)),
    badge(e.decision),
    h('span', { class: 'state' }, statusText(e)));
  }

  function renderRow(e, fresh) {
    if (!inMine(e.location_id)) return;
    const row = rowFor(e);
    if (fresh) row.classList.add('fresh');
    const old = document.getElementById(`enc-${e.id}`);
    if (old) {
      old.replaceWith(row);
    } else {
      const i = st.order.indexOf(e.id);
      const next = st.order.slice(i + 1).map((id) => document.getElementById(`enc-${id}`)).find(Boolean);
      list.insertBefore(row, next || null);
    }
    if (e.id === st.selected) list.setAttribute('aria-activedescendant', row.id);
    renderCounts();
  }

  function renderList() {
    clear(list);
    for (const id of st.order) {
      const e = st.enc.get(id);
      if (e && inMine(e.location_id)) list.append(rowFor(e));
    }
    if (st.selected && document.getElementById(`enc-${st.selected}`)) list.setAttribute('aria-activedescendant', `enc-${st.selected}`);
    else list.removeAttribute('aria-activedescendant');
    renderCounts();
  }

  function visibleIds() {
    return st.order.filter((id) => st.enc.has(id) && inMine(st.enc.get(id).location_id));
  }

  function move(delta) {
    const ids = visibleIds();
    if (!ids.length) return;
    let i = ids.indexOf(st.selected);
    i = i < 0 ? 0 : Math.max(0, Math.min(ids.length - 1, i + delta));
    select(ids[i], false);
  }

  function listKeys(ev) {
    const keys = { ArrowDown: 1, ArrowUp: -1, Home: -Infinity, End: Infinity };
    if (!(ev.key in keys)) return;
    ev.preventDefault();
    const ids = visibleIds();
    if (!ids.length) return;
    if (ev.key === 'Home') select(ids[0], false);
    else if (ev.key === 'End') select(ids[ids.length - 1], false);
    else move(keys[ev.key]);
  }

  function globalKeys(ev) {
    if (typingIn(ev) || !document.body.contains(view)) return;
    const k = ev.key.length === 1 ? ev.key.toUpperCase() : ev.key;
    if (k === 'J') { ev.preventDefault(); move(1); return; }
    if (k === 'K') { ev.preventDefault(); move(-1); return; }
    const a = ACTIONS.find((x) => x.key === k);
    if (a) { ev.preventDefault(); act(a); }
  }

  // ---- the selected encounter ----

  async function select(id, byPointer) {
    if (st.selected === id && st.detail) return;
    st.selected = id;
    for (const el of list.querySelectorAll('[aria-selected="true"]')) el.setAttribute('aria-selected', 'false');
    const row = document.getElementById(`enc-${id}`);
    if (row) {
      row.setAttribute('aria-selected', 'true');
      list.setAttribute('aria-activedescendant', row.id);
      row.scrollIntoView({ block: 'nearest' });
    }
    if (byPointer) list.focus({ preventScroll: true });
    if (st.detailCtl) st.detailCtl.abort();
    const ctl = new AbortController();
    st.detailCtl = ctl;
    st.detail = null;
    clear(detail).append(h('h2', { id: 'detail-h' }, `Encounter ${id}`), h('p', { class: 'hint' }, 'Loading…'));
    try {
      const d = await api(`/v1/encounters/${id}`, { signal: ctl.signal });
      if (ctl.signal.aborted || st.selected !== id) return;
      st.detail = d;
      upsert({ id: d.id, status: d.status, outcome: d.resolution ? d.resolution.outcome : undefined,
        decision: d.decision, location_id: d.location_id, at: d.at }, false);
      renderDetail(d, ctl.signal);
    } catch (e) {
      if (e.name === 'AbortError' || ctl.signal.aborted) return;
      clear(detail).append(h('h2', { id: 'detail-h' }, `Encounter ${id}`),
        h('p', { class: 'error', role: 'alert' }, `Could not load it: ${e.message}`));
    }
  }

  function traveler(t, what) {
    if (!t) return null;
    const doc = t.document || {};
    return h('p', { class: 'traveler' },
      h('strong', {}, `${t.surname || '?'}, ${t.given_names || ''}`),
      ` · ${t.nationality || '?'} · ${doc.type || ''} ${doc.number || ''} (${doc.issuing_state || ''})`,
      what ? ` · ${what}` : '');
  }

  // The portrait to compare with: the matched traveler's, else the best candidate's.
  function reference(d) {
    const m = d.matched;
    if (m && m.portrait_ids && m.portrait_ids.length) return { who: m, why: 'matched traveler', id: m.portrait_ids[0] };
    const c = (d.candidates || []).find((x) => x.portrait_ids && x.portrait_ids.length);
    if (c) return { who: c, why: `best gallery candidate, score ${c.score.toFixed(3)}`, id: c.portrait_ids[0] };
    return null;
  }

  function imageFigure(id, caption, label) {
    const canvas = h('canvas', { id, width: 240, height: 300, role: 'img', 'aria-label': label, class: 'photo' });
    const msg = h('p', { class: 'photo-msg', id: `${id}-msg` }, 'Loading…');
    return { fig: h('figure', { class: 'photo-box' }, h('div', { class: 'frame' }, canvas, msg), h('figcaption', {}, caption)), canvas, msg };
  }

  function draw(canvas, msg, bmp) {
    const ratio = window.devicePixelRatio || 1;
    const cw = canvas.clientWidth || 240;
    const ch = canvas.clientHeight || 300;
    canvas.width = Math.round(cw * ratio);
    canvas.height = Math.round(ch * ratio);
    const k = Math.min(canvas.width / bmp.width, canvas.height / bmp.height);
    const w = bmp.width * k;
    const hh = bmp.height * k;
    const g = canvas.getContext('2d');
    g.clearRect(0, 0, canvas.width, canvas.height);
    g.drawImage(bmp, (canvas.width - w) / 2, (canvas.height - hh) / 2, w, hh);
    bmp.close();
    canvas.dataset.drawn = '1';
    msg.textContent = '';
    msg.hidden = true;
  }

  async function loadImage(path, canvas, msg, signal) {
    try {
      const bmp = await imageBitmap(path, signal);
      if (signal.aborted) { bmp.close(); return; }
      draw(canvas, msg, bmp);
    } catch (e) {
      if (signal.aborted) return;
      msg.textContent = e instanceof ApiError && e.status === 404 ? 'No image held (purged or never kept).' : `Image unavailable: ${e.message}`;
    }
  }

  function renderDetail(d, signal) {
    const loc = st.locations.get(d.location_id);
    const where = loc ? `${loc.port} ${loc.code} ${loc.name}` : `location ${d.location_id}`;
    clear(detail);
    detail.append(
      h('div', { class: 'bar' }, h('h2', { id: 'detail-h' }, `Encounter ${d.id}`), badge(d.decision),
        d.reason ? h('span', { class: 'reason' }, d.reason) : null),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Captured'), h('dd', {}, `${d.at.slice(0, 10)} ${hms(d.at)} UTC`),
        h('dt', {}, 'Where'), h('dd', {}, where),
        h('dt', {}, 'Status'), h('dd', { id: 'detail-status', dataset: { status: d.status } }, statusText({ status: d.status, outcome: d.resolution && d.resolution.outcome })),
        d.score !== undefined && d.score !== null ? [h('dt', {}, 'Score'), h('dd', {}, d.score.toFixed(3))] : null,
        h('dt', {}, 'Latency'), h('dd', {}, `${Math.round(d.latency_ms)} ms`)));

    if (WITH_IMAGES.has(d.decision)) {
      const ref = reference(d);
      const code = loc ? `${loc.kind === 'boarding_gate' ? 'gate' : loc.kind.replace('_', ' ')} ${loc.code}` : `location ${d.location_id}`;
      const live = imageFigure('live-photo', 'Live capture', `Live capture of encounter ${d.id}`);
      const portrait = imageFigure('ref-photo', ref ? `Document portrait: ${ref.who.surname || '?'} (${ref.why})` : 'Document portrait',
        ref ? `Document portrait of ${ref.who.surname || 'the traveler'}` : 'No document portrait');
      detail.append(h('div', { class: 'photos' }, live.fig, portrait.fig));
      if (d.has_image) loadImage(`/v1/encounters/${d.id}/image?purpose=${encodeURIComponent(`officer review at ${code}`)}`, live.canvas, live.msg, signal);
      else live.msg.textContent = 'No photo kept for this encounter (a citizen\'s match is not stored).';
      if (ref) loadImage(`/v1/portraits/${ref.id}/image?purpose=${encodeURIComponent(`officer review at ${code}: reference for encounter ${d.id}`)}`, portrait.canvas, portrait.msg, signal);
      else portrait.msg.textContent = 'No candidate in the gallery has a portrait.';
    } else if (d.decision === 'OPT_OUT') {
      const n = st.notices.get(d.notice_version);
      detail.append(h('p', {}, 'The traveler opted out at the camera: no photo was taken.'),
        n ? h('blockquote', { class: 'notice' }, n.text) : h('p', { class: 'warn' }, 'No privacy notice was posted at this location.'),
        n ? h('p', { class: 'hint' }, `Notice ${n.version} shown to the traveler.`) : null);
    } else if (d.decision === 'RETAKE') {
      detail.append(h('p', {}, `The camera asked for another photo (${d.reason || 'quality'}); nothing to resolve.`));
    }

    if (d.matched) detail.append(h('h3', {}, 'Matched traveler'), traveler(d.matched));
    if (d.decision !== 'MATCH' && d.candidates && d.candidates.length) {
      detail.append(h('h3', {}, 'Gallery candidates'),
        h('ol', { class: 'cands' }, d.candidates.map((c) => h('li', {}, traveler(c, `score ${c.score.toFixed(3)}`)))));
    }
    if (d.presented_document) {
      const p = d.presented_document;
      detail.append(h('h3', {}, 'Presented document'),
        h('p', {}, `${p.number} (${p.issuing_state || '?'}) · face against its portrait: ${p.score === null || p.score === undefined ? 'no portrait on file' : p.score.toFixed(3)}`));
    }
    detail.append(h('div', { id: 'resolution' }));
    renderResolution(d);
  }

  function renderResolution(d) {
    const box = document.getElementById('resolution');
    if (!box) return;
    clear(box);
    const r = d.resolution;
    if (r) {
      box.append(h('p', { class: 'resolved', id: 'resolution-text' },
        `Resolved ${r.outcome} by ${r.officer || 'an officer'} at ${hms(r.at)} UTC`, r.note ? ` · ${r.note}` : ''));
    } else if (d.status === 'pending') {
      box.append(h('p', { class: 'pending-note' }, 'Pending: awaiting an officer\'s decision.'));
    }
    const can = d.status === 'pending';
    box.append(h('div', { class: 'actions', role: 'group', 'aria-label': 'Resolve this encounter' },
      ACTIONS.map((a) => h('button', {
        type: 'button', class: `act act-${a.outcome}`, 'aria-keyshortcuts': a.key, disabled: !can,
        id: `act-${a.outcome}`, onclick: () => act(a),
      }, h('kbd', {}, a.key), ` ${a.label}`))));
    if (!can) box.append(h('p', { class: 'hint' }, 'Only pending encounters (no-matches and impostor suspicions) are resolved here.'));
    box.append(h('p', { class: 'error', role: 'alert', id: 'action-error' }));
  }

  async function act(a) {
    const d = st.detail;
    if (!d || d.status !== 'pending') {
      announce('Select a pending encounter first.');
      return;
    }
    if (a.outcome === 'optout') { optOut(d); return; }
    await resolve(d, a.outcome, a.note);
  }

  async function resolve(d, outcome, note) {
    const err = document.getElementById('action-error');
    for (const b of detail.querySelectorAll('.act')) b.disabled = true;
    try {
      const r = await api(`/v1/encounters/${d.id}/resolve`, { method: 'POST', body: { outcome, note } });
      if (st.selected !== d.id) return;
      st.detail = { ...d, status: r.status, resolution: r.resolution };
      upsert({ id: d.id, status: r.status, outcome: r.resolution ? r.resolution.outcome : outcome }, false);
      const s = document.getElementById('detail-status');
      if (s) { s.textContent = statusText({ status: r.status, outcome }); s.dataset.status = r.status; }
      renderResolution(st.detail);
      announce(`Encounter ${d.id} resolved: ${outcome}.`);
      list.focus({ preventScroll: true });
    } catch (e) {
      if (err) err.textContent = e.status === 409 ? `Already resolved elsewhere: ${e.message}` : `Not resolved: ${e.message}`;
      if (e.status === 409) { st.detail = null; select(d.id, false); } else renderResolution(d);
    }
  }

  // The notice shown to the traveler: the one posted at the location now.
  function optOut(d) {
    const dlg = document.getElementById('optout-dialog');
    const loc = st.locations.get(d.location_id);
    const version = (loc && loc.notice_version) || d.notice_version;
    const n = version ? st.notices.get(version) : null;
    document.getElementById('optout-notice').textContent = n ? n.text : 'No privacy notice is posted at this location: tell the traveler how the photo would be used, and report the missing notice.';
    document.getElementById('optout-version').textContent = n ? `Notice ${n.version}, posted at ${locName(d.location_id)}.` : '';
    dlg.returnValue = '';
    dlg.addEventListener('close', () => {
      if (dlg.returnValue === 'confirm' && st.detail && st.detail.id === d.id) {
        resolve(d, 'opted_out', `opt-out recorded: notice ${n ? n.version : '(none posted)'} shown to the traveler`);
      } else {
        list.focus({ preventScroll: true });
      }
    }, { once: true });
    dlg.showModal();
    document.getElementById('optout-confirm').focus();
  }

  // ---- locations, notices, galleries ----

  function renderLocations() {
    clear(locBox).append(h('legend', {}, 'My locations'),
      h('p', { class: 'hint' }, 'Show encounters from these only (none ticked: all).'));
    for (const l of st.locations.values()) {
      const id = `loc-${l.id}`;
      locBox.append(h('div', { class: 'check' },
        h('input', {
          type: 'checkbox', id, checked: st.mine.has(l.id),
          onchange: (ev) => {
            if (ev.target.checked) st.mine.add(l.id); else st.mine.delete(l.id);
            localStorage.setItem(LOC_KEY, JSON.stringify([...st.mine]));
            renderList();
            loadGalleries();
          },
        }),
        h('label', { for: id }, `${l.port} ${l.code} ${l.name}`)));
    }
  }

  async function loadGalleries() {
    try {
      const { manifests } = await api('/v1/manifests');
      const ports = new Set([...st.locations.values()].filter((l) => inMine(l.id)).map((l) => l.port));
      const rows = manifests.filter((m) => m.direction === 'exit' && (st.mine.size === 0 || ports.has(m.port)));
      clear(gallery);
      if (!rows.length) gallery.append(h('tr', {}, h('td', { colspan: '3', class: 'hint' }, 'No departures.')));
      for (const m of rows) {
        const g = m.gallery || { status: 'none' };
        gallery.append(h('tr', { dataset: { manifest: m.id } },
          h('th', { scope: 'row' }, `${m.number}`, h('span', { class: 'sub' }, ` ${m.port}`)),
          h('td', {}, dateTime(m.scheduled_at).slice(5)),
          h('td', {}, h('span', { class: `gal g-${g.status}` }, g.status === 'ready' ? 'ready' : g.status),
            g.status === 'ready' ? h('span', { class: 'sub' }, ` ${g.size} of ${m.travelers}`) : '')));
      }
    } catch (e) {
      clear(gallery).append(h('tr', {}, h('td', { colspan: '3', class: 'error' }, `Gallery status unavailable: ${e.message}`)));
    }
  }

  function onEvent(type, data) {
    if (type === 'encounter') {
      upsert({ id: data.id, decision: data.decision, reason: data.reason, location_id: data.location_id, at: data.at, status: data.status }, true);
      if (inMine(data.location_id)) {
        announce(`New encounter at ${locCode(data.location_id)}: ${DECISION_TEXT[data.decision] || data.decision}.`);
        if (st.selected === null) select(data.id, false);
      }
    } else if (type === 'resolution') {
      const e = st.enc.get(data.id);
      if (e) upsert({ id: data.id, status: 'resolved', outcome: data.outcome }, false);
      if (st.detail && st.detail.id === data.id && st.detail.status === 'pending') {
        st.detail = { ...st.detail, status: 'resolved', resolution: { outcome: data.outcome, officer: data.officer, at: new Date().toISOString() } };
        const s = document.getElementById('detail-status');
        if (s) { s.textContent = statusText({ status: 'resolved', outcome: data.outcome }); s.dataset.status = 'resolved'; }
        renderResolution(st.detail);
      }
    } else if (type === 'gallery') {
      loadGalleries();
    } else if (type === 'resync') {
      // the server could not replay what this console missed (it reconnected
      // to another node, the node restarted, or it fell too far behind):
      // the lists come from the API again
      loadEncounters();
      loadGalleries();
    }
  }

  // The newest encounters from the API, merged into the list.
  async function loadEncounters() {
    try {
      const { encounters } = await api('/v1/encounters?status=all&limit=100');
      for (const e of encounters.reverse()) upsert(e, false);
      renderList();
      const first = visibleIds().find((id) => st.enc.get(id).status === 'pending') ?? visibleIds()[0];
      if (st.selected === null && first !== undefined) select(first, false);
    } catch (e) {
      counts.textContent = `Encounters unavailable: ${e.message}`;
    }
  }

  function onState(state, detailText) {
    const words = { connecting: 'connecting…', live: 'live', reconnecting: `reconnecting${detailText ? ` (${detailText})` : '…'}`, refused: 'stream refused', stopped: 'stopped' };
    conn.textContent = words[state] || state;
    conn.className = `conn c-${state}`;
  }

  async function start() {
    try {
      const [{ locations }, { notices }] = await Promise.all([api('/v1/locations'), api('/v1/notices')]);
      for (const l of locations) st.locations.set(l.id, l);
      for (const n of notices) st.notices.set(n.version, n);
      renderLocations();
    } catch (e) {
      counts.textContent = `Locations unavailable: ${e.message}`;
    }
    st.stream = new EventStream({
      url: '/v1/events', token: () => (currentSession() || {}).token || '', onEvent, onState,
    });
    await st.stream.start();
    await loadEncounters();
    loadGalleries();
    st.timers.push(setInterval(loadGalleries, 60000));
  }

  start();
  return {
    focus: () => list.focus(),
    unmount() {
      document.removeEventListener('keydown', globalKeys);
      if (st.stream) st.stream.stop();
      if (st.detailCtl) st.detailCtl.abort();
      for (const t of st.timers) clearInterval(t);
      view.remove();
    },
  };
}
