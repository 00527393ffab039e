// The dashboard's shell: routes (#/sessions, #/sessions/NAME, #/proxy), the live event
// stream, the engine stats poll, toasts and dialogs shared by the views.
import { api, Live, onSignedOut } from '/api.js';
import { h, fill, setText } from '/dom.js';
import * as sessionsView from '/views/sessions.js';
import * as sessionView from '/views/session.js';
import * as proxyView from '/views/proxy.js';

const main = document.getElementById('main');
const live = new Live();

// Shared state the views read; live events keep it current.
const state = {
  config: null,
  sessions: [],
  engine: true,
  stats: {},   // name -> {cpu_percent, memory_bytes, memory_limit_bytes}
};

function toast(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const el = h('div', { class: `toast ${kind}` }, message);
  box.append(el);
  setTimeout(() => el.remove(), kind === 'error' ? 12000 : 5000);
}

// A modal question. confirmDialog({title, message, detail, confirm: 'Delete', danger: true,
// checkbox: 'also delete the branch'}) -> Promise<false | {checked}>
function confirmDialog({ title, message, detail, confirm = 'OK', danger = false, checkbox }) {
  return new Promise((resolve) => {
    const box = checkbox ? h('input', { type: 'checkbox', name: 'extra' }) : null;
    const dialog = h('dialog', { class: 'confirm' },
      h('form', { method: 'dialog' },
        h('h2', {}, title),
        h('p', {}, message),
        detail ? h('pre', { class: 'detail' }, detail) : null,
        box ? h('label', { class: 'check' }, box, ' ', checkbox) : null,
        h('div', { class: 'buttons' },
          h('button', { value: 'cancel', type: 'submit', class: 'secondary' }, 'Cancel'),
          h('button', { value: 'ok', type: 'submit', class: danger ? 'danger' : 'primary', dataset: { role: 'confirm' } }, confirm))));
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'ok' ? { checked: box ? box.checked : false } : false);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

const ctx = { api, live, state, toast, confirmDialog, navigate: (hash) => { location.hash = hash; } };

// ---- engine stats: every 10 s while the page is visible (the server caches them 5 s) --------
let statsTimer = 0;
async function pollStats() {
  clearTimeout(statsTimer);
  if (document.visibilityState === 'visible') {
    try {
      const r = await api.get('/api/stats');
      state.stats = r.stats || {};
      live.emit('stats', state.stats);
    } catch { /* shown by the event stream's status */ }
  }
  statsTimer = setTimeout(pollStats, 10000);
}
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') pollStats(); });

// ---- header pills --------------------------------------------------------------------------
const livePill = document.getElementById('live');
live.on('status', (s) => {
  setText(livePill, s === 'live' ? 'live' : s === 'reconnecting' ? 'reconnecting…' : 'disconnected');
  livePill.className = `pill ${s === 'live' ? 'ok' : 'bad'}`;
});
const proxyPill = document.getElementById('proxy-pill');
live.on('proxy', (p) => {
  setText(proxyPill, p.running ? `proxy running · ${p.open_connections ?? 0} open` : 'proxy down');
  proxyPill.className = `pill ${p.running ? 'ok' : 'bad'}`;
});
live.on('sessions', (d) => {
  state.sessions = d.sessions || [];
  state.engine = d.engine !== false;
});

onSignedOut(() => {
  fill(main, h('section', { class: 'panel signed-out' },
    h('h1', {}, 'Signed out'),
    h('p', {}, 'This page is no longer signed in to airlock ui (it was restarted, or the link was used elsewhere).'),
    h('p', {}, 'Run ', h('code', {}, 'airlock ui'), ' again and open the new link it prints.')));
  current = null;
});

// ---- routing --------------------------------------------------------------------------------
let current = null;  // the mounted view: {unmount()}

function route() {
  const hash = location.hash || '#/sessions';
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  let view = sessionsView;
  let arg = null;
  if (parts[0] === 'proxy') view = proxyView;
  else if (parts[0] === 'sessions' && parts[1]) { view = sessionView; arg = parts[1]; }
  for (const a of document.querySelectorAll('header nav a')) {
    a.classList.toggle('active', a.dataset.nav === (view === proxyView ? 'proxy' : 'sessions'));
  }
  if (current) current.unmount();
  main.replaceChildren();
  current = view.mount(main, ctx, arg);
  document.title = view === sessionView ? `${arg} · airlock` : view === proxyView ? 'proxy · airlock' : 'sessions · airlock';
}

async function boot() {
  try {
    state.config = await api.get('/api/config');
    setText(document.getElementById('version'), `airlock ${state.config.version || ''}`);
  } catch (e) {
    if (e.status !== 401) toast(`Could not load the configuration: ${e.message}`, 'error');
    if (e.status === 401) return;
  }
  live.start();
  pollStats();
  window.addEventListener('hashchange', route);
  route();
}

boot();
