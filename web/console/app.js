// The console's entry point: sign-in, and the view that the signed-in
// user's role gets. officer: the live stream; supervisor: performance;
// auditor: the audit log; admin: performance and audit, as tabs.
//
// A session kept from earlier in this tab is checked with the server
// before any view opens (GET /v1/notices, which every user role may read):
// a token the server refuses, such as a device's API key put where a
// session token belongs, sends the user back to sign-in with the reason.

import { login, logout, loadSession, currentSession, clearSession, onSessionLost, api } from './api.js';
import { h, clear, $, announce } from './dom.js';
import { mountOfficer } from './officer.js';
import { mountSupervisor } from './supervisor.js';
import { mountAuditor } from './auditor.js';

const ROLE_NAMES = { officer: 'Officer', supervisor: 'Supervisor', auditor: 'Auditor', admin: 'Administrator' };
let mounted = null;

function showLogin(message) {
  if (mounted) { mounted.unmount(); mounted = null; }
  clear($('#view')).hidden = true;
  $('#who').hidden = true;
  $('#signout').hidden = true;
  $('#login').hidden = false;
  $('#login-error').textContent = message || '';
  $('#login-pass').value = '';
  document.body.dataset.view = 'login';
  $('#login-user').focus();
}

function tabs(root, panes) {
  const list = h('div', { role: 'tablist', 'aria-label': 'Views', class: 'tabs' });
  const bodies = [];
  let current = null;
  const open = (i, focus) => {
    if (current) current.unmount();
    panes.forEach((p, j) => {
      const t = list.children[j];
      t.setAttribute('aria-selected', String(i === j));
      t.tabIndex = i === j ? 0 : -1;
      bodies[j].hidden = i !== j;
      clear(bodies[j]);
    });
    current = panes[i].mount(bodies[i]);
    if (focus) list.children[i].focus();
  };
  panes.forEach((p, i) => {
    list.append(h('button', {
      type: 'button', role: 'tab', id: `tab-${p.id}`, 'aria-controls': `pane-${p.id}`,
      onclick: () => open(i, false),
      onkeydown: (ev) => {
        if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
          ev.preventDefault();
          open((i + (ev.key === 'ArrowRight' ? 1 : panes.length - 1)) % panes.length, true);
        }
      },
    }, p.label));
    bodies.push(h('div', { role: 'tabpanel', id: `pane-${p.id}`, 'aria-labelledby': `tab-${p.id}` }));
  });
  root.append(list, ...bodies);
  open(0, false);
  return { unmount: () => { if (current) current.unmount(); } };
}

function showView(s) {
  const root = $('#view');
  $('#login').hidden = true;
  clear(root).hidden = false;
  const who = $('#who');
  who.textContent = `${s.username} · ${ROLE_NAMES[s.role] || s.role}`;
  who.hidden = false;
  $('#signout').hidden = false;
  document.body.dataset.view = s.role;
  if (s.role === 'officer') mounted = mountOfficer(root);
  else if (s.role === 'supervisor') mounted = mountSupervisor(root);
  else if (s.role === 'auditor') mounted = mountAuditor(root);
  else if (s.role === 'admin') {
    mounted = tabs(root, [
      { id: 'perf', label: 'Performance', mount: (el) => mountSupervisor(el) },
      { id: 'audit', label: 'Audit', mount: (el) => mountAuditor(el) },
    ]);
  } else {
    clearSession();
    showLogin(`The role "${s.role}" has no view in this console.`);
    return;
  }
  announce(`Signed in as ${s.username}, ${ROLE_NAMES[s.role]}.`);
  if (mounted.focus) mounted.focus();
}

async function onLogin(ev) {
  ev.preventDefault();
  const user = $('#login-user').value.trim();
  const pass = $('#login-pass').value;
  const err = $('#login-error');
  const btn = $('#login-submit');
  if (!user || !pass) { err.textContent = 'Enter your username and password.'; return; }
  btn.disabled = true;
  err.textContent = '';
  try {
    showView(await login(user, pass));
  } catch (e) {
    if (e.status === 401) err.textContent = 'Sign-in refused: wrong username or password. (Device and repository keys cannot sign in.)';
    else if (e.status === 429) err.textContent = `Too many failed attempts: wait ${e.retryAfter || 'a few'} seconds, then try again.`;
    else err.textContent = `Sign-in failed: ${e.message}`;
    $('#login-pass').select();
  } finally {
    btn.disabled = false;
  }
}

async function boot() {
  $('#login-form').addEventListener('submit', onLogin);
  $('#signout').addEventListener('click', async () => {
    await logout();
    showLogin('Signed out.');
  });
  onSessionLost((e) => {
    if (!mounted) return; // on load, boot() says why the stored session was refused
    clearSession();
    showLogin(`Your session is no longer accepted (${e.status} ${e.code}): sign in again.`);
  });
  const s = loadSession();
  if (!s) { showLogin(''); return; }
  try {
    await api('/v1/notices');
    if (currentSession()) showView(s);
  } catch (e) {
    if (currentSession()) { clearSession(); showLogin(`The stored session was refused (${e.status} ${e.code}): sign in again.`); }
  }
}

boot();
