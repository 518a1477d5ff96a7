#!/usr/bin/env node
// Browser tests of the officer console (issue 7): playwright-core driving
// Debian's headless Chromium (/usr/bin/chromium) against a real `tvs serve`
// on loopback, which this script starts on a store of its own.
//
// The world: `TVS_DEMO_EXIT=1 tvs demo --db DIR/tvs.db` builds the demo
// world through the API (ports, notice, gate A1 with its camera, portraits
// cut from the demo photos, flight DA100 with its gallery, and captures:
// matches, a no-match, an impostor suspicion, a retake, an opt-out) and
// prints the gate camera's API key; `tvs user add` adds one user per role
// with known passwords; then `tvs serve` serves that store.
//
// Each test prints cmocka's lines ("[ RUN      ]", "[       OK ]",
// "[  FAILED  ]") and the run ends with cmocka's summary lines, which
// scripts/run-tests.sh adds up, then "N passed, N failed, N skipped". A
// failure exits 1. Without chromium, node_modules/playwright-core, the
// tvs binary or the models, every test is skipped with the reason, exit 0.
//
// Screenshots of the three views go to out/screenshots/ (git-ignored).
//
//   TVS_BIN=build/tvs node tests/browser/console.test.mjs

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const TOP = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = process.env.TVS_CHROMIUM || '/usr/bin/chromium';
const TVS = resolve(TOP, process.env.TVS_BIN || 'build/tvs');
const SHOTS = join(TOP, 'out/screenshots');
const PASSWORD = 'console-test-password-1';
const VIEWPORT = { width: 1280, height: 800 };

const tests = [];
function test(name, fn) { tests.push({ name, fn }); }

function finish(passed, failed, skipped, failedNames = []) {
  console.log(`[==========] ${passed + failed} test(s) run.`);
  console.log(`[  PASSED  ] ${passed} test(s).`);
  if (failed) {
    console.log(`[  FAILED  ] ${failed} test(s), listed below:`);
    for (const n of failedNames) console.log(`[  FAILED  ] ${n}`);
  }
  if (skipped) console.log(`[  SKIPPED ] ${skipped} test(s).`);
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
}

function skipAll(why) {
  console.log(`console.test: SKIPPED: ${why}`);
  finish(0, 0, tests.length);
  process.exit(0);
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// ---- the server ----

const S = { dir: '', db: '', base: '', proc: null, deviceKey: '', tokens: {} };

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: TOP, encoding: 'utf8', timeout: 180000, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

async function startServer() {
  S.dir = mkdtempSync(join(tmpdir(), 'tvs-console-'));
  const db = join(S.dir, 'tvs.db');
  S.db = db;
  const demo = run(TVS, ['demo', '--db', db, '--port', '0', '--log', 'off'], { env: { ...process.env, TVS_DEMO_EXIT: '1' } });
  const key = /device key, gate A1 \(X-Api-Key\):\s*(\S+)/.exec(demo);
  assert(key, `tvs demo printed no gate key:\n${demo}`);
  S.deviceKey = key[1];
  for (const role of ['officer', 'supervisor', 'auditor', 'admin']) {
    run(TVS, ['user', 'add', '--db', db, '--username', `${role}1`, '--role', role, '--password-stdin'], { input: `${PASSWORD}\n` });
  }
  await launch('0');
}

// Start tvs serve on S.db at port ('0': any free one) and wait until it answers.
async function launch(port) {
  const portFile = join(S.dir, 'port');
  rmSync(portFile, { force: true });
  S.proc = spawn(TVS, ['serve', '--db', S.db, '--port', port, '--port-file', portFile, '--log', join(S.dir, 'requests.log'),
    '--retention-interval', '0', '--workers', '2'], { cwd: TOP, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  S.proc.stderr.on('data', (d) => { stderr += d; });
  for (let i = 0; i < 300; i++) {
    if (S.proc.exitCode !== null) throw new Error(`tvs serve exited ${S.proc.exitCode}: ${stderr}`);
    if (existsSync(portFile)) {
      const port = readFileSync(portFile, 'utf8').trim();
      if (port) {
        S.base = `http://127.0.0.1:${port}`;
        try {
          if ((await fetch(`${S.base}/healthz`)).ok) return;
        } catch { /* not yet */ }
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`tvs serve did not start: ${stderr}`);
}

function stopServer() {
  if (S.proc && S.proc.exitCode === null) S.proc.kill('SIGTERM');
  if (S.dir) rmSync(S.dir, { recursive: true, force: true });
}

async function call(method, path, { bearer, key, body } = {}) {
  const headers = {};
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  if (key) headers['X-Api-Key'] = key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(S.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const type = res.headers.get('content-type') || '';
  const data = type.startsWith('application/json') ? await res.json() : Buffer.from(await res.arrayBuffer());
  return { status: res.status, data, headers: res.headers };
}

async function token(user) {
  if (!S.tokens[user]) {
    const r = await call('POST', '/v1/sessions', { body: { username: user, password: PASSWORD } });
    assert(r.status === 201, `login ${user}: ${r.status}`);
    S.tokens[user] = r.data.token;
  }
  return S.tokens[user];
}

// ---- the browser ----

let browser = null;
const cspViolations = [];

async function newPage() {
  const ctx = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => cspViolations.push(`page error: ${e.message}`));
  return page;
}

async function signIn(page, user, password = PASSWORD) {
  await page.goto(`${S.base}/`);
  await page.locator('#login-user').waitFor({ state: 'visible' });
  // by keyboard: the field has focus on load, Tab to the password, Enter submits
  await page.keyboard.type(user);
  await page.keyboard.press('Tab');
  await page.keyboard.type(password);
  await page.keyboard.press('Enter');
}

async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

// ---- the tests ----

let officerPage = null;
let stranger = null; // the live capture replayed in the capture test
let newId = 0;

test('the console is served at / with its content types and security headers', async () => {
  const checks = [['/', 'text/html'], ['/console/app.js', 'text/javascript'], ['/console/style.css', 'text/css'],
    ['/console/favicon.svg', 'image/svg+xml']];
  for (const [path, type] of checks) {
    const r = await call('GET', path);
    assert(r.status === 200, `${path}: ${r.status}`);
    assert((r.headers.get('content-type') || '').startsWith(type), `${path}: content type ${r.headers.get('content-type')}`);
    assert(r.headers.get('content-security-policy') === "default-src 'self'", `${path}: CSP ${r.headers.get('content-security-policy')}`);
    assert(r.headers.get('x-content-type-options') === 'nosniff', `${path}: no nosniff`);
    assert(r.headers.get('x-frame-options') === 'DENY', `${path}: no DENY`);
  }
  const html = (await call('GET', '/')).data.toString();
  assert(!/<script(?![^>]*\bsrc=)[^>]*>/i.test(html), 'index.html has an inline script');
  assert(!/\sstyle=/i.test(html) && !/<style/i.test(html), 'index.html has inline style');
  assert((await call('GET', '/console/../svc.c')).status === 404, 'a path outside the console files was served');
  assert((await call('GET', '/console/nope.js')).status === 404, 'an unknown console file was served');
});

test('an officer signs in and sees the live stream', async () => {
  officerPage = await newPage();
  const page = officerPage;
  await signIn(page, 'officer1');
  await page.locator('#officer-view').waitFor({ timeout: 5000 });
  await page.locator('#conn.c-live').waitFor({ timeout: 5000 });
  assert((await page.locator('#who').textContent()).includes('Officer'), 'the header does not name the role');
  // the demo's encounters are listed, newest first, and the first pending one is open
  await page.locator('#enc-list [role=option]').first().waitFor({ timeout: 5000 });
  const n = await page.locator('#enc-list [role=option]').count();
  assert(n >= 7, `only ${n} encounters listed`);
  await page.locator('#detail-status').waitFor({ timeout: 5000 });
  // gallery status of the departing flight
  await page.locator('#gallery-rows tr[data-manifest]').first().waitFor({ timeout: 5000 });
  const g = await page.locator('#gallery-rows').textContent();
  assert(/DA100/.test(g) && /ready/.test(g), `gallery status: ${g}`);
  // shortcuts are listed on screen
  const keys = await page.locator('#officer-view .shortcuts').textContent();
  for (const k of ['V', 'R', 'I', 'O', 'J']) assert(keys.includes(k), `shortcut ${k} not listed`);
});

test('a capture posted by the gate camera appears in the console within 1 s', async () => {
  const page = officerPage;
  assert(page, 'no officer page');
  // the demo's stranger: its stored capture, posted again, is a no-match again
  const off = await token('officer1');
  const pend = await call('GET', '/v1/encounters?status=pending', { bearer: off });
  const nm = pend.data.encounters.find((e) => e.decision === 'NO_MATCH');
  assert(nm, 'the demo left no pending no-match');
  const img = await call('GET', `/v1/encounters/${nm.id}/image?purpose=${encodeURIComponent('browser test: replay a capture')}`, { bearer: off });
  assert(img.status === 200, `capture image: ${img.status}`);
  stranger = img.data.toString('base64');
  const before = await page.evaluate(() => Math.max(0, ...[...document.querySelectorAll('#enc-list [role=option]')].map((r) => Number(r.dataset.id))));
  const r = await call('POST', '/v1/captures', { key: S.deviceKey, body: { image: stranger, request_id: `browser-${Date.now()}` } });
  assert(r.status === 200, `capture: ${r.status} ${JSON.stringify(r.data)}`);
  assert(r.data.decision === 'NO_MATCH', `the replayed stranger was ${r.data.decision}`);
  const t0 = Date.now();
  const row = await page.waitForFunction((prev) => [...document.querySelectorAll('#enc-list [role=option]')]
    .find((el) => Number(el.dataset.id) > prev)?.dataset.id, before, { timeout: 1000 });
  newId = Number(await row.jsonValue());
  console.log(`  encounter ${newId} (${r.data.decision}) listed ${Date.now() - t0} ms after the camera's reply`);
  const el = page.locator(`#enc-${newId}`);
  assert((await el.getAttribute('data-decision')) === 'NO_MATCH', 'the new row is not a no-match');
  assert((await el.getAttribute('data-status')) === 'pending', 'the new row is not pending');
});

test('the event stream reconnects with Last-Event-ID and misses nothing', async () => {
  // the console's own stream reader (web/console/events.js), run in node
  const { EventStream } = await import(join(TOP, 'web/console/events.js'));
  const seen = [];
  const states = [];
  const stream = new EventStream({
    url: `${S.base}/v1/events`, token: () => S.tokens.officer1,
    onEvent: (type, data, id) => seen.push({ type, id: parseInt(id, 10), node: id.slice(id.indexOf('-') + 1), data }), onState: (st) => states.push(st),
  });
  await token('officer1');
  assert((await stream.start()) === 'live', `the stream did not open: ${states}`);
  try {
    const post = async () => {
      const r = await call('POST', '/v1/optouts', { key: S.deviceKey, body: {} });
      assert(r.status === 201, `opt-out: ${r.status}`);
    };
    const waitFor = async (pred, ms, what) => {
      for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (pred()) return;
      throw new Error(`${what} (events: ${JSON.stringify(seen.map((e) => e.id))}, states: ${states})`);
    };
    await post();
    await waitFor(() => seen.length === 1, 2000, 'the first event did not arrive');
    // cut the connection; an event published while it is down must still come
    stream.ctl.abort();
    await waitFor(() => states.includes('reconnecting'), 2000, 'the stream did not notice the cut');
    await post();
    await waitFor(() => seen.length === 2, 8000, 'the event published while disconnected was not replayed');
    assert(seen[1].id === seen[0].id + 1 && seen[1].node === seen[0].node, `ids ${seen[0].id} then ${seen[1].id}`);
    assert(seen.every((e) => e.type === 'encounter' && e.data.decision === 'OPT_OUT'), 'unexpected events');
  } finally {
    stream.stop();
  }
});

test('an officer resolves a no-match by keyboard and sees the state change', async () => {
  const page = officerPage;
  assert(page && newId, 'no new encounter from the capture test');
  // keyboard only: focus the list, Home goes to the newest, J/K move
  await page.locator('#enc-list').focus();
  await page.keyboard.press('Home');
  const ids = await page.evaluate(() => [...document.querySelectorAll('#enc-list [role=option]')].map((r) => Number(r.dataset.id)));
  for (let i = 0; i < ids.indexOf(newId); i++) await page.keyboard.press('j');
  await page.locator(`#enc-${newId}[aria-selected=true]`).waitFor({ timeout: 2000 });
  await page.locator('#detail-h', { hasText: `Encounter ${newId}` }).waitFor({ timeout: 5000 });
  // the live capture beside the reference portrait, both drawn from audited fetches
  await page.locator('#live-photo[data-drawn="1"]').waitFor({ timeout: 5000 });
  await page.locator('#ref-photo[data-drawn="1"]').waitFor({ timeout: 5000 });
  await shot(page, 'officer-no-match');
  await page.keyboard.press('v');
  await page.locator(`#enc-${newId}[data-status=resolved]`).waitFor({ timeout: 3000 });
  await page.locator('#detail-status[data-status=resolved]').waitFor({ timeout: 3000 });
  const txt = await page.locator('#resolution-text').textContent();
  assert(/verified/.test(txt), `resolution shown: ${txt}`);
  const e = await call('GET', `/v1/encounters/${newId}`, { bearer: await token('officer1') });
  assert(e.data.status === 'resolved' && e.data.resolution.outcome === 'verified', `server says ${JSON.stringify(e.data.resolution)}`);
  await shot(page, 'officer');
});

test('after a server restart the console reloads what it could not replay', async () => {
  const page = officerPage;
  assert(page, 'no officer page');
  await page.locator('#conn.c-live').waitFor({ timeout: 5000 });
  // the console cannot reach the server while it restarts (a new node
  // run: the ids the console saw mean nothing to it) and an opt-out is
  // recorded meanwhile; its event is published before the console is back
  await page.context().setOffline(true);
  const exited = new Promise((r) => S.proc.once('exit', r));
  S.proc.kill('SIGTERM');
  await exited;
  await launch(new URL(S.base).port);
  const r = await call('POST', '/v1/optouts', { key: S.deviceKey, body: {} });
  assert(r.status === 201, `opt-out: ${r.status}`);
  const l = await call('GET', '/v1/encounters?status=all&limit=1', { bearer: await token('officer1') });
  const id = l.data.encounters[0].id;
  assert(l.data.encounters[0].token === r.data.token, 'the newest encounter is not the opt-out');
  assert(!(await page.locator(`#enc-${id}`).count()), 'listed before the console was back');
  await page.context().setOffline(false);
  // back with its old Last-Event-ID: the server says resync, the console
  // loads the list again, and the opt-out is in it
  await page.locator(`#enc-${id}`).waitFor({ timeout: 60000 });
  await page.locator('#conn.c-live').waitFor({ timeout: 5000 });
});

test('an opt-out is recorded with the notice shown to the traveler', async () => {
  const page = officerPage;
  assert(page, 'no officer page');
  const imp = await page.evaluate(() => [...document.querySelectorAll('#enc-list [role=option][data-status=pending]')].map((r) => Number(r.dataset.id)));
  assert(imp.length, 'no pending encounter left for an opt-out');
  await page.locator(`#enc-${imp[0]}`).click();
  await page.locator('#detail-h', { hasText: `Encounter ${imp[0]}` }).waitFor({ timeout: 5000 });
  await page.locator('#act-optout:not([disabled])').waitFor({ timeout: 5000 });
  await page.keyboard.press('o');
  const dlg = page.locator('#optout-dialog[open]');
  await dlg.waitFor({ timeout: 2000 });
  const notice = await page.locator('#optout-notice').textContent();
  assert(/opt out/i.test(notice), `notice shown: ${notice}`);
  await shot(page, 'officer-opt-out');
  await page.keyboard.press('Enter');
  await page.locator(`#enc-${imp[0]}[data-status=resolved]`).waitFor({ timeout: 3000 });
  const e = await call('GET', `/v1/encounters/${imp[0]}`, { bearer: await token('officer1') });
  assert(/opt-out recorded: notice 2025-1 shown/.test(e.data.resolution.note || ''), `note: ${e.data.resolution.note}`);
  assert(e.data.resolution.outcome === 'opted_out', `outcome: ${e.data.resolution.outcome}`);
  assert(!e.data.has_image, 'an opt-out keeps no image, yet the capture is still stored');
});

// Captures spread over the last hours (a device may date a capture in the
// past), so the supervisor's series has more than one bucket: the demo's
// stored non-citizen match and the stranger, replayed.
async function seedHistory() {
  const off = await token('officer1');
  const all = (await call('GET', '/v1/encounters?status=all&limit=1000', { bearer: off })).data.encounters;
  let match = null;
  for (const e of all.filter((x) => x.decision === 'MATCH')) {
    const d = (await call('GET', `/v1/encounters/${e.id}`, { bearer: off })).data;
    if (d.has_image) {
      match = (await call('GET', `/v1/encounters/${e.id}/image?purpose=${encodeURIComponent('browser test: replay a capture')}`, { bearer: off })).data.toString('base64');
      break;
    }
  }
  assert(match && stranger, 'no stored match or stranger capture to replay');
  const now = Math.floor(Date.now() / 1000);
  for (let hour = 6; hour >= 1; hour--) {
    const at = (k) => new Date((now - hour * 3600 + k * 60) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const posts = [match, match, match, ...(hour % 2 ? [stranger] : []), ...(hour % 3 === 0 ? [match] : [])];
    for (let k = 0; k < posts.length; k++) {
      const r = await call('POST', '/v1/captures', { key: S.deviceKey, body: { image: posts[k], captured_at: at(k) } });
      assert(r.status === 200, `seeded capture: ${r.status} ${JSON.stringify(r.data)}`);
    }
    if (hour % 3 === 1) {
      const r = await call('POST', '/v1/optouts', { key: S.deviceKey, body: { captured_at: at(9) } });
      assert(r.status === 201, `seeded opt-out: ${r.status}`);
    }
  }
}

test('a supervisor sees the charts over time, per port and mode, and retention', async () => {
  await seedHistory();
  const page = await newPage();
  await signIn(page, 'supervisor1');
  await page.locator('#supervisor-view').waitFor({ timeout: 5000 });
  try {
    await page.locator('#sup-charts figure svg').nth(3).waitFor({ timeout: 5000 });
  } catch (e) {
    throw new Error(`the charts did not draw: ${await page.locator('#sup-status').textContent()}`);
  }
  await page.locator('#sup-port-table tbody tr').first().waitFor({ timeout: 5000 });
  await page.locator('#sup-retention-table tbody tr').first().waitFor({ timeout: 5000 });
  const titles = await page.locator('#sup-charts figcaption').allTextContents();
  for (const t of ['Match rate', 'Opt-out rate', 'latency', 'Impostors']) {
    assert(titles.some((x) => x.toLowerCase().includes(t.toLowerCase())), `no chart for ${t}: ${titles}`);
  }
  const dots = await page.locator('#sup-charts circle').count();
  assert(dots > 0, 'the charts plot no point');
  // the series agrees with the summary over the same range, and holds the
  // no-match the officer confirmed
  const sup = await token('supervisor1');
  const hour = Math.floor(Date.now() / 3600e3) * 3600e3;
  const range = `from=${new Date(hour - 23 * 3600e3).toISOString().slice(0, 19)}Z&to=${new Date(hour + 3600e3).toISOString().slice(0, 19)}Z`;
  const r = await call('GET', `/v1/reports/timeseries?${range}&bucket=hour`, { bearer: sup });
  assert(r.status === 200 && r.data.series.length === 24, `timeseries: ${r.status}, ${r.data.series && r.data.series.length} buckets`);
  const sum = (k) => r.data.series.reduce((a, b) => a + b[k], 0);
  const summary = (await call('GET', `/v1/reports/summary?${range}`, { bearer: sup })).data.ports;
  for (const k of ['captures', 'match', 'no_match', 'opt_out', 'impostor_suspected']) {
    const want = summary.reduce((a, p) => a + p[k], 0);
    assert(sum(k) === want, `timeseries ${k} ${sum(k)}, summary ${want}`);
  }
  assert(sum('confirmed_manually') >= 1, `confirmed_manually ${sum('confirmed_manually')}`);
  assert(r.data.series.filter((b) => b.captures).length >= 6, 'the seeded hours are not in the series');
  for (const b of r.data.series) {
    assert(b.captures ? b.latency_p50_ms > 0 && b.latency_p50_ms <= b.latency_p99_ms : b.latency_p50_ms === null, `latency ${JSON.stringify(b)}`);
  }
  assert((await call('GET', `/v1/reports/timeseries?${range}&bucket=minute`, { bearer: sup })).status === 400, '1440 buckets accepted');
  const sea = await call('GET', `/v1/reports/timeseries?${range}&mode=sea`, { bearer: sup });
  assert(sea.status === 200 && sea.data.series.every((b) => !b.captures), 'a sea series with captures');
  assert((await call('GET', `/v1/reports/timeseries?${range}&bucket=week`, { bearer: sup })).status === 400, 'bucket=week accepted');
  await shot(page, 'supervisor');
  await page.locator('#sup-retention').scrollIntoViewIfNeeded();
  await shot(page, 'supervisor-ports-retention');
  await page.context().close();
});

test('an auditor sees the log, the chain status and the access report, and no image anywhere', async () => {
  const page = await newPage();
  const imageRequests = [];
  page.on('request', (req) => {
    const u = new URL(req.url());
    if (/\/image$/.test(u.pathname) || (req.resourceType() === 'image' && u.pathname !== '/console/favicon.svg')) imageRequests.push(req.url());
  });
  await signIn(page, 'auditor1');
  await page.locator('#auditor-view').waitFor({ timeout: 5000 });
  await page.locator('#aud-verify.ok').waitFor({ timeout: 5000 });
  await page.locator('#aud-rows tr').first().waitFor({ timeout: 5000 });
  await page.locator('#aud-access-table tbody tr').first().waitFor({ timeout: 5000 });
  // the officer's image views are on the record, with their purpose
  const actions = await page.locator('#aud-action option').allTextContents();
  assert(actions.includes('image.view'), `no image.view among the logged actions: ${actions} (${await page.locator('#aud-shown').textContent()})`);
  await page.locator('#aud-action').selectOption('image.view');
  const log = await page.locator('#aud-rows').textContent();
  assert(/officer review at gate A1/.test(log), 'the officer\'s image views are not in the log');
  await page.locator('#aud-action').selectOption('');
  const found = await page.evaluate(() => {
    const bad = [];
    for (const sel of ['img', 'picture', 'canvas', 'video', 'object', 'embed', 'iframe', 'image', 'svg image', 'input[type=image]']) {
      const n = document.querySelectorAll(sel).length;
      if (n) bad.push(`${n} <${sel}>`);
    }
    for (const el of document.querySelectorAll('*')) {
      for (const pseudo of [null, '::before', '::after']) {
        const cs = getComputedStyle(el, pseudo);
        if (cs.backgroundImage && cs.backgroundImage !== 'none') bad.push(`background-image on ${el.tagName}${pseudo || ''}: ${cs.backgroundImage.slice(0, 60)}`);
        if (cs.content && /url\(/.test(cs.content)) bad.push(`content url on ${el.tagName}${pseudo || ''}`);
        if (cs.listStyleImage && cs.listStyleImage !== 'none') bad.push(`list-style-image on ${el.tagName}`);
      }
    }
    const html = document.documentElement.outerHTML;
    if (/blob:/.test(html)) bad.push('a blob: URL in the page');
    if (/data:image/.test(html)) bad.push('a data:image URL in the page');
    return bad;
  });
  assert(found.length === 0, `images on the auditor's page: ${found.join('; ')}`);
  assert(imageRequests.length === 0, `the auditor's page fetched images: ${imageRequests.join(', ')}`);
  await shot(page, 'auditor');
  await page.context().close();
});

test('an administrator gets performance and audit as tabs, by keyboard', async () => {
  const page = await newPage();
  await signIn(page, 'admin1');
  await page.locator('#tab-perf[aria-selected=true]').waitFor({ timeout: 5000 });
  await page.locator('#supervisor-view #sup-charts figure').first().waitFor({ timeout: 5000 });
  await page.locator('#tab-perf').focus();
  await page.keyboard.press('ArrowRight');
  await page.locator('#tab-audit[aria-selected=true]').waitFor({ timeout: 2000 });
  await page.locator('#auditor-view #aud-verify.ok').waitFor({ timeout: 5000 });
  assert(await page.locator('#supervisor-view').count() === 0, 'the performance view stayed mounted');
  await page.context().close();
});

test('a device key cannot open the console or its data', async () => {
  const key = S.deviceKey;
  // the API: every endpoint the console reads or writes refuses the key (403),
  // and the key is no bearer token (401)
  const enc = (await call('GET', '/v1/encounters?status=all', { bearer: await token('officer1') })).data.encounters[0].id;
  const endpoints = [['GET', '/v1/encounters?status=all'], ['GET', `/v1/encounters/${enc}`], ['GET', '/v1/events'],
    ['GET', `/v1/encounters/${enc}/image?purpose=x`], ['GET', '/v1/portraits/1/image?purpose=x'],
    ['POST', `/v1/encounters/${enc}/resolve`], ['GET', '/v1/manifests'], ['GET', '/v1/notices'], ['GET', '/v1/locations'],
    ['GET', '/v1/ports'], ['GET', '/v1/reports/summary'], ['GET', '/v1/reports/timeseries?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z'],
    ['GET', '/v1/reports/retention'], ['GET', '/v1/audit'], ['GET', '/v1/audit/verify'], ['GET', '/v1/reports/access']];
  for (const [m, p] of endpoints) {
    const body = m === 'POST' ? { outcome: 'verified' } : undefined;
    const asKey = await call(m, p, { key, body });
    assert(asKey.status === 403 && asKey.data.error.code === 'forbidden', `${m} ${p} with the device key: ${asKey.status}`);
    const asBearer = await call(m, p, { bearer: key, body });
    assert(asBearer.status === 401, `${m} ${p} with the device key as a bearer token: ${asBearer.status}`);
  }
  // the page: no field takes an API key
  const page = await newPage();
  await page.goto(`${S.base}/`);
  await page.locator('#login-form').waitFor();
  const fields = await page.evaluate(() => [...document.querySelectorAll('input, textarea')].map((i) => `${i.id}:${i.name}:${i.type}`));
  assert(fields.length === 2 && fields.every((f) => !/key|token/i.test(f)), `the sign-in form has ${fields}`);
  // the key as a password is refused with a message
  await signIn(page, 'gate-a1', key);
  await page.locator('#login-error', { hasText: 'refused' }).waitFor({ timeout: 5000 });
  assert(await page.locator('#view').isHidden(), 'a view opened for a device key');
  // the key put where the session token is kept: refused on load, back to sign-in
  await page.evaluate((k) => sessionStorage.setItem('tvs.session', JSON.stringify({ token: k, role: 'officer', username: 'gate-a1' })), key);
  await page.reload();
  await page.locator('#login-error', { hasText: 'refused (401' }).waitFor({ timeout: 5000 });
  assert(await page.locator('#view').isHidden(), 'a view opened for a device key stored as a session');
  assert(await page.locator('#officer-view').count() === 0, 'the officer view was built for a device key');
  assert(await page.evaluate(() => sessionStorage.getItem('tvs.session')) === null, 'the refused key was kept');
  await page.context().close();
});

test('no page broke the Content-Security-Policy or threw', async () => {
  assert(cspViolations.length === 0, cspViolations.join('\n'));
});

// ---- main ----

async function main() {
  if (!existsSync(CHROMIUM)) skipAll(`${CHROMIUM} not found (apt-get install chromium; scripts/install.sh does)`);
  let chromium;
  try {
    chromium = createRequire(join(TOP, 'package.json'))('playwright-core').chromium;
  } catch {
    skipAll('node_modules/playwright-core not installed (npm ci; scripts/install.sh does)');
  }
  if (!existsSync(TVS)) skipAll(`${TVS} not built (make)`);
  if (!existsSync(join(TOP, 'models/demo/sample1.jpg')) || !existsSync(join(TOP, 'models/model'))) skipAll('models/ not fetched (make models)');

  let passed = 0;
  let failed = 0;
  const failedNames = [];
  const guard = setTimeout(() => {
    console.log('console.test: timed out after 240 s');
    stopServer();
    finish(passed, failed + 1, 0, [...failedNames, 'timeout']);
    process.exit(1);
  }, 240000);
  try {
    await startServer();
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true,
      args: process.getuid && process.getuid() === 0 ? ['--no-sandbox'] : [],
    });
  } catch (e) {
    console.log(`console.test: setup failed: ${e.stack || e}`);
    stopServer();
    finish(0, tests.length, 0, tests.map((t) => t.name));
    process.exit(1);
  }
  for (const t of tests) {
    console.log(`[ RUN      ] ${t.name}`);
    try {
      await t.fn();
      passed++;
      console.log(`[       OK ] ${t.name}`);
    } catch (e) {
      failed++;
      failedNames.push(t.name);
      console.log(`  ${(e && e.stack) || e}`);
      console.log(`[  FAILED  ] ${t.name}`);
    }
  }
  clearTimeout(guard);
  await browser.close();
  stopServer();
  finish(passed, failed, 0, failedNames);
  process.exit(failed ? 1 : 0);
}

main();
