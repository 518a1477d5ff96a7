// The console's side of the HTTP API: the user's session (a bearer token
// from POST /v1/sessions, kept in sessionStorage so it lives only as long
// as this tab) and the calls, each with "Authorization: Bearer". There is
// deliberately no way to send X-Api-Key: device and repository keys belong
// to machines, and the server refuses them on every officer endpoint (403)
// and as bearer tokens (401).

const KEY = 'tvs.session';
let session = null;
const lost = new Set();

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The stored session {token, role, username, expires_at}, or null.
export function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    session = s && typeof s.token === 'string' && typeof s.role === 'string' ? s : null;
  } catch {
    session = null;
  }
  return session;
}

export function currentSession() {
  return session;
}

export function clearSession() {
  session = null;
  sessionStorage.removeItem(KEY);
}

// fn(err) runs when the server stops accepting the session (401).
export function onSessionLost(fn) {
  lost.add(fn);
}

async function errorOf(res) {
  let code = `http_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const j = await res.json();
    if (j && j.error) {
      code = j.error.code || code;
      message = j.error.message || message;
    }
  } catch { /* not JSON */ }
  const err = new ApiError(res.status, code, message);
  const retry = res.headers.get('Retry-After');
  if (retry) err.retryAfter = Number(retry);
  return err;
}

function authHeaders() {
  const headers = {};
  if (session) headers.Authorization = `Bearer ${session.token}`;
  return headers;
}

// fetch() of path with the session's bearer token; throws ApiError on a
// non-2xx reply (and tells onSessionLost listeners on 401).
export async function request(path, { method = 'GET', body, signal, headers = {} } = {}) {
  const h = { ...authHeaders(), ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method, headers: h, signal, cache: 'no-store', credentials: 'omit',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    // a token with characters no header may carry is as bad as a refused one
    if (e instanceof TypeError && session && /header/i.test(e.message)) {
      const err = new ApiError(401, 'unauthenticated', 'the stored session token is not a valid token');
      for (const fn of lost) fn(err);
      throw err;
    }
    throw new ApiError(0, 'network', `the server cannot be reached (${e.message})`);
  }
  if (!res.ok) {
    const err = await errorOf(res);
    if (res.status === 401 && session) for (const fn of lost) fn(err);
    throw err;
  }
  return res;
}

// GET/POST JSON.
export async function api(path, opts) {
  const res = await request(path, opts);
  return res.status === 204 ? null : res.json();
}

// Sign in with username and password; stores and returns the session.
export async function login(username, password) {
  session = null;
  const res = await fetch('/v1/sessions', {
    method: 'POST', cache: 'no-store', credentials: 'omit',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw await errorOf(res);
  const j = await res.json();
  session = { token: j.token, role: j.role, username, expires_at: j.expires_at };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

// End the session on the server (best effort) and forget it here.
export async function logout() {
  if (session) {
    try {
      await request('/v1/sessions/current', { method: 'DELETE' });
    } catch { /* gone already */ }
  }
  clearSession();
}

// An image endpoint's bytes as an ImageBitmap. Images are drawn onto a
// canvas rather than shown through a blob: URL: the server's CSP
// (default-src 'self') does not allow blob: images, and a bitmap leaves
// no URL behind that could outlive the view.
export async function imageBitmap(path, signal) {
  const res = await request(path, { signal });
  return createImageBitmap(await res.blob());
}
