// The dashboard's API (docs/ui.md, "The API"): same-origin fetches with JSON bodies, the live
// event stream (Server-Sent Events) and WebSocket URLs. The session cookie travels by itself.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function request(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, opts);
  } catch (e) {
    throw new ApiError(0, `airlock ui does not answer (${e.message}); is it still running?`);
  }
  const type = res.headers.get('Content-Type') || '';
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const j = await res.json();
      if (j && j.error) message = j.error;
    } catch { /* not JSON */ }
    if (res.status === 401) signedOut();
    throw new ApiError(res.status, message);
  }
  return type.includes('application/json') ? res.json() : res.text();
}

export const api = {
  get: (path) => request('GET', path),
  post: (path, body = {}) => request('POST', path, body),
  del: (path) => request('DELETE', path),
};

export const enc = encodeURIComponent;

export function wsUrl(path) {
  return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + path;
}

// Listeners for "signed out" (a 401: the server restarted, or the cookie is gone).
const signedOutListeners = new Set();
export function onSignedOut(fn) { signedOutListeners.add(fn); }
function signedOut() { for (const fn of signedOutListeners) fn(); }

// The live event stream: one EventSource for the whole page, events fanned out to listeners.
// on('sessions' | 'proxy' | 'requests' | 'status', fn) returns a function that unsubscribes.
export class Live {
  constructor() {
    this.listeners = new Map();
    this.last = new Map();  // the last data per event type, for views mounted later
    this.source = null;
  }

  start() {
    if (this.source) return;
    const source = new EventSource('/api/events');
    this.source = source;
    for (const type of ['sessions', 'proxy', 'requests']) {
      source.addEventListener(type, (e) => {
        let data;
        try { data = JSON.parse(e.data); } catch { return; }
        if (type !== 'requests') this.last.set(type, data);
        this.emit(type, data);
      });
    }
    source.onopen = () => this.emit('status', 'live');
    source.onerror = () => {
      this.emit('status', source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
      if (source.readyState === EventSource.CLOSED) {
        // The server refused the stream (401 after a restart) or is gone: find out which.
        this.source = null;
        api.get('/api/config').then(() => setTimeout(() => this.start(), 2000), () => {});
      }
    };
  }

  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    if (this.last.has(type)) fn(this.last.get(type));
    return () => this.listeners.get(type).delete(fn);
  }

  emit(type, data) {
    for (const fn of this.listeners.get(type) || []) {
      try { fn(data); } catch (e) { console.error(e); }
    }
  }
}
