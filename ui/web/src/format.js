// Pure helpers: formatting and small decisions over the API's plain data. No DOM, no fetch,
// so tests/browser/format_test.mjs runs them under node.

// "3s", "5m", "2h 03m", "4d 2h"; "" for a missing time. NOW and the time in milliseconds.
export function age(time, now = Date.now()) {
  const t = typeof time === 'number' ? time : Date.parse(time || '');
  if (!Number.isFinite(t)) return '';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const hours = Math.floor(m / 60);
  if (hours < 24) return `${hours}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

// 0 -> "0 B", 1536 -> "1.5 KiB", 5*2**20 -> "5.0 MiB"
export function bytes(n) {
  if (n === undefined || n === null || !Number.isFinite(Number(n))) return '';
  let v = Number(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

// 12 -> "12 ms", 1534 -> "1.53 s", 125000 -> "2m 05s"
export function duration(ms) {
  if (ms === undefined || ms === null || !Number.isFinite(Number(ms))) return '';
  const v = Number(ms);
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60000) return `${(v / 1000).toFixed(v < 10000 ? 2 : 1)} s`;
  const s = Math.round(v / 1000);
  return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
}

// "2026-11-27T17:05:03.120Z" -> "17:05:03" in the browser's time zone (the date too when not today).
export function clock(time, now = Date.now()) {
  const t = new Date(time);
  if (Number.isNaN(t.getTime())) return '';
  const pad = (x) => String(x).padStart(2, '0');
  const hms = `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  const today = new Date(now);
  if (t.toDateString() === today.toDateString()) return hms;
  return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${hms}`;
}

export function percent(x) {
  return Number.isFinite(x) ? `${x < 10 ? x.toFixed(1) : Math.round(x)}%` : '';
}

// The proxy refused this request: a deny decision, or one of the proxy's refusal statuses.
const REFUSAL_STATUSES = new Set([400, 403, 407, 421]);
export function isRefusal(record) {
  return Boolean(record.refused) || record.decision === 'deny' || (REFUSAL_STATUSES.has(record.status) && Boolean(record.error));
}

// A CSS class for a session state: running / stopped (exited, created, paused) / trouble / busy.
export function stateClass(state) {
  const exited = /^exited(?: \((-?\d+)\))?$/.exec(state || '');
  if (exited) return exited[1] && exited[1] !== '0' ? 'bad' : 'idle';  // "exited (137)": it failed
  switch (state) {
    case 'running': return 'ok';
    case 'creating': case 'restarting': case 'removing': return 'busy';
    case 'exited': case 'created': case 'paused': case 'stopped': return 'idle';
    default: return 'bad';  // lost, dead, interrupted, unknown
  }
}

// Which actions make sense for a session in STATE (the server still decides).
export function actionsFor(state) {
  state = String(state || '').replace(/ \(.*\)$/, '');  // "exited (0)" -> "exited"
  const running = state === 'running' || state === 'restarting' || state === 'paused';
  return {
    stop: running,
    start: !running && state !== 'creating' && state !== 'removing',
    refresh: state !== 'creating' && state !== 'removing',
    sync: true,
    delete: state !== 'removing',
  };
}

// One line of a unified diff -> a CSS class.
export function diffLineClass(line) {
  if (line.startsWith('+++') || line.startsWith('---') || line.startsWith('diff ') || line.startsWith('index ')) return 'file';
  if (line.startsWith('@@')) return 'hunk';
  if (line.startsWith('+')) return 'add';
  if (line.startsWith('-')) return 'del';
  return '';
}

// Terminal escapes out of log text (logs are shown as plain text).
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g;
export function stripAnsi(text) {
  return text.replace(/\r\n/g, '\n').replace(ANSI, '');
}

// The API's Series -> uPlot data: [x (unix seconds, bucket starts), requests, bytes, refusals].
// PER_SECOND divides counts by the bucket width (requests/s).
export function seriesData(series, perSecond = false) {
  const n = series?.requests?.length ?? 0;
  const step = series?.step_s || 1;
  const xs = new Array(n);
  for (let i = 0; i < n; i++) xs[i] = series.start + i * step;
  const scale = (arr) => (arr || new Array(n).fill(0)).map((v) => (perSecond ? v / step : v));
  return [xs, scale(series?.requests), scale(series?.bytes), scale(series?.refusals)];
}

// Count new RECORDS into SERIES (in place): each record's time picks its bucket; buckets past
// the end are added (the window slides: as many are dropped from the front). Returns SERIES.
export function addToSeries(series, records) {
  if (!series || !series.step_s || !Array.isArray(series.requests)) return series;
  for (const r of records) {
    const t = Date.parse(r.time) / 1000;
    if (!Number.isFinite(t)) continue;
    let i = Math.floor((t - series.start) / series.step_s);
    if (i < 0) continue;
    const len = series.requests.length;
    if (i >= len) {
      const grow = i - len + 1;
      for (const key of ['requests', 'bytes', 'refusals']) {
        if (!Array.isArray(series[key])) series[key] = new Array(len).fill(0);
        for (let k = 0; k < grow; k++) series[key].push(0);
        series[key].splice(0, grow);
      }
      series.start += grow * series.step_s;
      i = series.requests.length - 1;
    }
    series.requests[i] += 1;
    if (Array.isArray(series.bytes)) series.bytes[i] += (r.bytes_up || 0) + (r.bytes_down || 0);
    if (Array.isArray(series.refusals) && isRefusal(r)) series.refusals[i] += 1;
  }
  return series;
}

// Sort sessions for the table: running first, then newest first.
export function sortSessions(sessions) {
  const rank = (s) => (s.state === 'running' ? 0 : s.state === 'creating' ? 1 : 2);
  return [...sessions].sort((a, b) => rank(a) - rank(b) || String(b.created_at).localeCompare(String(a.created_at))
    || a.name.localeCompare(b.name));
}

// The create form's values -> the POST /api/sessions body: empty fields are left out, so the
// server applies the configuration's defaults exactly as the CLI does.
export function createBody(fields) {
  const body = {};
  for (const key of ['prompt', 'agent', 'image', 'name', 'cpus', 'memory', 'network', 'pull_policy', 'repo', 'base']) {
    const v = (fields[key] ?? '').toString();
    if (v.trim() !== '') body[key] = key === 'prompt' ? v : v.trim();
  }
  const pids = parseInt(fields.pids_limit, 10);
  if (Number.isFinite(pids) && pids > 0) body.pids_limit = pids;
  if (fields.read_only) body.read_only = true;
  const env = String(fields.env ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  if (env.length) body.env = env;
  // No list means every credential rule (as the CLI without --credentials).
  if (Array.isArray(fields.credentials) && fields.credentials.length) body.credentials = fields.credentials;
  return body;
}
