// One session: its terminal (xterm.js over a WebSocket), the request timeline with a plot of
// requests and bytes over time, live logs, and the branch's commits and diff against its base.
import { enc, wsUrl } from '/api.js';
import { h, fill, setText } from '/dom.js';
import { age, bytes, clock, duration, isRefusal, diffLineClass, stripAnsi, seriesData, addToSeries, percent } from '/format.js';
import { timePlot } from '/plot.js';
import { openTerminal } from '/terminal.js';
import { actionButtons, stateBadge } from '/views/sessions.js';

const MAX_ROWS = 500;
const MAX_LOG_CHARS = 400000;

export function mount(main, ctx, name) {
  const path = `/api/sessions/${enc(name)}`;
  const cleanups = [];

  // ---- head: state, facts, actions ----------------------------------------------------------
  const title = h('h1', {}, name);
  const badge = h('span');
  const actions = h('div', { class: 'actions' });
  const facts = h('dl', { class: 'facts' });
  const prompt = h('pre', { class: 'prompt', hidden: true });
  const head = h('section', { class: 'panel' },
    h('div', { class: 'panel-head' }, h('a', { href: '#/sessions', class: 'back' }, '← Sessions'), title, badge,
      h('span', { class: 'spacer' }), actions),
    facts, prompt);

  // ---- terminal -------------------------------------------------------------------------------
  const termStatus = h('span', { class: 'pill' }, '');
  const termBox = h('div', { class: 'term-box', id: 'terminal' });
  const reattach = h('button', { class: 'small secondary', onclick: () => terminal && terminal.reconnect() }, 'Reattach');
  const termPanel = h('section', { class: 'panel term-panel' },
    h('div', { class: 'panel-head' }, h('h2', {}, 'Terminal'), termStatus, h('span', { class: 'spacer' }), reattach),
    termBox,
    h('p', { class: 'muted small' }, 'Typing goes to the agent. Closing this page detaches; the agent keeps running.'));

  // ---- requests -------------------------------------------------------------------------------
  const plotBox = h('div', { class: 'plot' });
  const reqSummary = h('span', { class: 'muted' });
  const reqBody = h('tbody');
  const reqEmpty = h('p', { class: 'muted empty' }, 'No requests through the proxy yet.');
  const reqPanel = h('section', { class: 'panel req-panel' },
    h('div', { class: 'panel-head' }, h('h2', {}, 'Requests'), reqSummary),
    plotBox,
    h('div', { class: 'table-wrap timeline-wrap' },
      h('table', { class: 'timeline', id: 'timeline' },
        h('thead', {}, h('tr', {}, ['Time', 'Request', 'Host', 'Status', 'Credential', 'Bytes ↑/↓', 'Duration'].map((c) => h('th', {}, c)))),
        reqBody)),
    reqEmpty);

  // ---- logs and branch (tabs) ---------------------------------------------------------------
  const logPre = h('pre', { class: 'logs', id: 'logs' });
  const logStatus = h('span', { class: 'muted' });
  const commitsList = h('ol', { class: 'commits' });
  const diffPre = h('pre', { class: 'diff', id: 'diff' });
  const withWorktree = h('input', { type: 'checkbox', onchange: () => loadBranch() });
  const branchNote = h('p', { class: 'muted' });
  const tabs = {
    logs: h('div', { class: 'tab-body' }, h('div', { class: 'tab-tools' }, logStatus), logPre),
    branch: h('div', { class: 'tab-body', hidden: true },
      h('div', { class: 'tab-tools' },
        h('label', { class: 'check' }, withWorktree, ' include uncommitted changes in the worktree'),
        h('span', { class: 'spacer' }),
        h('button', { class: 'small secondary', onclick: () => loadBranch() }, 'Reload')),
      branchNote, commitsList, diffPre),
  };
  const tabButtons = Object.keys(tabs).map((key) => h('button', {
    class: `tab ${key === 'logs' ? 'active' : ''}`, dataset: { tab: key },
    onclick: () => showTab(key),
  }, key === 'logs' ? 'Logs' : 'Branch & diff'));
  const lower = h('section', { class: 'panel' }, h('div', { class: 'tabs' }, tabButtons), tabs.logs, tabs.branch);

  main.append(head, h('div', { class: 'split' }, termPanel, reqPanel), lower);

  function showTab(key) {
    for (const b of tabButtons) b.classList.toggle('active', b.dataset.tab === key);
    for (const [k, el] of Object.entries(tabs)) el.hidden = k !== key;
    if (key === 'branch') loadBranch();
  }

  // ---- session facts, kept current by the event stream ----------------------------------------
  let session = null;
  function renderSession(s) {
    const changedState = !session || session.state !== s.state;
    session = s;
    if (changedState) {
      fill(badge, stateBadge(s.state));
      fill(actions, actionButtons(ctx, s));
    }
    const st = ctx.state.stats[s.name];
    const rows = [
      ['Agent', s.agent], ['Image', s.image], ['Branch', s.branch], ['Network', s.network_reach || s.network],
      ['Credentials', (s.credentials || []).join(', ') || 'all'], ['Limits', [s.cpus && `${s.cpus} CPUs`, s.memory && `memory ${s.memory}`, s.pids_limit && `${s.pids_limit} pids`].filter(Boolean).join(', ') || 'none'],
      ['Created', s.created_at ? `${age(s.created_at)} ago` : ''], ['Repository', s.subdir ? `${s.repo} (${s.subdir})` : s.repo],
      ['CPU / memory', st ? `${percent(st.cpu_percent)} / ${bytes(st.memory_bytes)}` : '—'],
    ];
    if (s.last_error) rows.push(['Last error', s.last_error]);
    fill(facts, rows.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v ?? ''))));
    prompt.hidden = !s.prompt;
    setText(prompt, s.prompt || '');
  }
  cleanups.push(ctx.live.on('sessions', (d) => {
    const s = (d.sessions || []).find((x) => x.name === name);
    if (s) renderSession(s);
    else if (session) {
      fill(badge, stateBadge('deleted'));
      fill(actions);
    }
  }));
  cleanups.push(ctx.live.on('stats', () => { if (session) renderSession(session); }));

  // ---- terminal -----------------------------------------------------------------------------
  let terminal = null;
  try {
    terminal = openTerminal(termBox, name, (text, kind) => { setText(termStatus, text); termStatus.className = `pill ${kind}`; });
  } catch (e) {
    setText(termStatus, `terminal failed: ${e.message}`);
  }
  cleanups.push(() => terminal && terminal.dispose());

  // ---- requests -----------------------------------------------------------------------------
  const plot = timePlot(plotBox, {
    height: 150,
    lines: [{ label: 'requests', key: 'requests', scale: 'n' }, { label: 'refused', key: 'refusals', scale: 'n' },
      { label: 'bytes', key: 'bytes', scale: 'b' }],
  });
  cleanups.push(() => plot.destroy());
  let series = null;
  let total = 0;
  let refused = 0;

  function recordRow(r) {
    const bad = isRefusal(r);
    const note = r.error || (r.decision === 'tunnel' ? 'tunnelled (not inspected)' : '');
    return h('tr', { class: bad ? 'refused' : '', title: bad ? `refused: ${r.error || r.status}` : '' },
      h('td', { title: r.time }, clock(r.time)),
      h('td', { class: 'path', title: `${r.method || ''} ${r.path || ''}` }, h('span', { class: 'method' }, r.method || 'CONNECT'), ' ', r.path || '',
        note ? h('div', { class: 'note' }, note) : null),
      h('td', {}, r.port && r.port !== 443 ? `${r.host}:${r.port}` : r.host),
      h('td', { class: 'status' }, r.status ? String(r.status) : ''),
      h('td', { class: 'rule' }, r.rule || ''),
      h('td', { class: 'num' }, `${bytes(r.bytes_up)} / ${bytes(r.bytes_down)}`),
      h('td', { class: 'num' }, duration(r.duration_ms)));
  }
  function addRecords(records, { fresh = false } = {}) {
    if (fresh) reqBody.replaceChildren();
    const rows = records.map(recordRow).reverse();  // newest first
    reqBody.prepend(...rows);
    while (reqBody.children.length > MAX_ROWS) reqBody.lastElementChild.remove();
    if (!fresh) {
      total += records.length;
      refused += records.filter(isRefusal).length;
    }
    reqEmpty.hidden = reqBody.children.length > 0;
    setText(reqSummary, `${total} request${total === 1 ? '' : 's'}${refused ? `, ${refused} refused` : ''}`);
  }
  let pendingLive = [];  // live records that arrived before the first fetch answered
  let loaded = false;
  // The plot covers the session's life so far: at least 5 minutes, at most an hour.
  const windowFor = (s) => {
    const lived = (Date.now() - Date.parse(s?.created_at || '')) / 1000;
    return Number.isFinite(lived) ? Math.min(3600, Math.max(300, Math.ceil((lived + 60) / 60) * 60)) : 3600;
  };
  const sessionInfo = ctx.api.get(path);
  sessionInfo.then((r) => renderSession(r.session), (e) => {
    fill(main, h('section', { class: 'panel' }, h('h1', {}, name), h('p', { class: 'warn' }, e.message),
      h('a', { href: '#/sessions' }, '← Sessions')));
  });
  sessionInfo.catch(() => null).then((r) => ctx.api.get(`${path}/requests?limit=${MAX_ROWS}&window=${windowFor(r?.session)}`)).then((r) => {
    const records = r.records || [];
    total = r.total ?? records.length;
    refused = records.filter(isRefusal).length;
    addRecords(records, { fresh: true });
    series = r.series;
    const known = new Set(records.map((x) => `${x.time}|${x.path}|${x.status}`));
    const late = pendingLive.filter((x) => !known.has(`${x.time}|${x.path}|${x.status}`));
    loaded = true;
    pendingLive = [];
    if (late.length) onRecords(late);
    if (series) plot.setData(seriesData(series));
  }, (e) => ctx.toast(`requests: ${e.message}`, 'error'));
  function onRecords(records) {
    if (!loaded) { pendingLive.push(...records); return; }
    addRecords(records);
    if (series) {
      addToSeries(series, records);
      plot.setData(seriesData(series));
    }
  }
  cleanups.push(ctx.live.on('requests', (d) => {
    const mine = (d.records || []).filter((r) => r.client === name);
    if (mine.length) onRecords(mine);
  }));

  // ---- logs (while the tab is open) -----------------------------------------------------------
  let logs = null;
  function openLogs() {
    const ws = new WebSocket(wsUrl(`${path}/logs?tail=500`));
    ws.binaryType = 'arraybuffer';
    const decoder = new TextDecoder();
    setText(logStatus, 'following…');
    ws.onmessage = (e) => {
      if (typeof e.data === 'string') {
        try {
          const m = JSON.parse(e.data);
          setText(logStatus, m.message || m.type);
        } catch { /* ignore */ }
        return;
      }
      const atBottom = logPre.scrollTop + logPre.clientHeight >= logPre.scrollHeight - 4;
      let text = logPre.textContent + stripAnsi(decoder.decode(e.data, { stream: true }));
      if (text.length > MAX_LOG_CHARS) text = text.slice(text.length - MAX_LOG_CHARS);
      logPre.textContent = text;
      if (atBottom) logPre.scrollTop = logPre.scrollHeight;
    };
    ws.onclose = () => { if (logs === ws) setText(logStatus, `${logStatus.textContent} (closed)`); };
    logs = ws;
  }
  openLogs();
  cleanups.push(() => { const ws = logs; logs = null; if (ws) ws.close(); });

  // ---- branch: commits and diff ---------------------------------------------------------------
  async function loadBranch() {
    try {
      const [info, diff] = await Promise.all([
        ctx.api.get(path),
        ctx.api.get(`${path}/diff${withWorktree.checked ? '?worktree=1' : ''}`),
      ]);
      const commits = info.commits || [];
      setText(branchNote, `${info.commit_count ?? commits.length} commit(s) on ${info.session?.branch || ''} since ${String(info.session?.base_commit || '').slice(0, 12)}`);
      fill(commitsList, commits.map((c) => h('li', {},
        h('code', {}, String(c.id).slice(0, 10)), ' ', c.summary, ' ', h('span', { class: 'muted' }, `${c.author || ''} · ${c.time ? age(c.time) + ' ago' : ''}`))));
      const lines = String(diff).split('\n');
      fill(diffPre, lines.length > 1 || lines[0]
        ? lines.map((l) => h('span', { class: `dl ${diffLineClass(l)}` }, l + '\n'))
        : h('span', { class: 'muted' }, 'No changes against the base.'));
    } catch (e) {
      setText(branchNote, e.message);
    }
  }

  return { unmount() { for (const fn of cleanups.reverse()) fn(); } };
}
