// Proxy: status, open connections, requests per second over time, refusals with their reasons,
// and the credential rules with their last use (sources only; secret values never reach here).
import { enc } from '/api.js';
import { h, fill, setText } from '/dom.js';
import { age, clock, isRefusal, seriesData, addToSeries } from '/format.js';
import { timePlot } from '/plot.js';

const WINDOWS = [[900, '15 min'], [3600, '1 hour'], [21600, '6 hours'], [86400, '24 hours']];
const MAX_REFUSALS = 200;

export function mount(main, ctx) {
  const cleanups = [];
  let windowS = 3600;

  const cards = {};
  const card = (key, label, cls = '') => {
    cards[key] = h('div', { class: `value ${cls}` }, '…');
    return h('div', { class: `card ${cls === 'text' ? 'wide' : ''}`, dataset: { card: key } }, h('div', { class: 'label' }, label), cards[key]);
  };
  const note = h('p', { class: 'warn', hidden: true });
  const status = h('section', { class: 'panel' },
    h('div', { class: 'panel-head' }, h('h1', {}, 'Proxy')),
    note,
    h('div', { class: 'cards' }, card('state', 'State'), card('pid', 'Process'), card('addresses', 'Listening on', 'text'),
      card('started', 'Up for'), card('open', 'Open connections'), card('connections', 'Connections'),
      card('requests', 'Requests')));

  const plotBox = h('div', { class: 'plot' });
  const windowSelect = h('select', { id: 'proxy-window', onchange: () => { windowS = Number(windowSelect.value); load(); } },
    WINDOWS.map(([s, label]) => h('option', { value: String(s), selected: s === windowS }, label)));
  const rate = h('section', { class: 'panel' },
    h('div', { class: 'panel-head' }, h('h2', {}, 'Requests per second'), h('span', { class: 'spacer' }), windowSelect),
    plotBox);

  const counts = h('div', { class: 'chips' });
  const refBody = h('tbody');
  const refEmpty = h('p', { class: 'muted empty' }, 'No refusals.');
  const refusals = h('section', { class: 'panel' },
    h('div', { class: 'panel-head' }, h('h2', {}, 'Refusals'), counts),
    h('div', { class: 'table-wrap timeline-wrap' },
      h('table', { class: 'timeline', id: 'refusals' },
        h('thead', {}, h('tr', {}, ['Time', 'Session', 'Method', 'Host', 'Path', 'Status', 'Reason'].map((c) => h('th', {}, c)))),
        refBody)),
    refEmpty);

  const rulesBody = h('tbody');
  const rules = h('section', { class: 'panel' },
    h('div', { class: 'panel-head' }, h('h2', {}, 'Credential rules'),
      h('span', { class: 'muted' }, 'where each secret comes from; the values never leave the proxy')),
    h('div', { class: 'table-wrap' },
      h('table', { class: 'rules', id: 'rules' },
        h('thead', {}, h('tr', {}, ['Rule', 'Hosts', 'Header', 'Secret from', 'Last used'].map((c) => h('th', {}, c)))),
        rulesBody)));

  main.append(status, rate, refusals, rules);

  const plot = timePlot(plotBox, {
    height: 200,
    lines: [{ label: 'requests/s', key: 'requests', scale: 'n' }, { label: 'refused/s', key: 'refusals', scale: 'n' }],
  });
  cleanups.push(() => plot.destroy());

  let data = null;   // the last GET /api/proxy answer, updated by live events
  function renderStatus(p) {
    setText(cards.state, p.running ? 'running' : 'down');
    cards.state.className = `value ${p.running ? 'ok' : 'bad'}`;
    setText(cards.pid, p.pid ? `pid ${p.pid}` : '—');
    if (p.addresses) setText(cards.addresses, p.addresses.join(', ') || '—');
    if (p.started !== undefined) {
      setText(cards.started, p.running && p.started ? age(p.started) : '—');
      cards.started.title = p.started || '';
    }
    setText(cards.open, String(p.open_connections ?? 0));
    if (p.total_connections !== undefined) setText(cards.connections, String(p.total_connections));
    setText(cards.requests, String(p.requests_total ?? 0));
    if (p.note !== undefined) {
      note.hidden = !p.note;
      setText(note, p.note || '');
    }
  }
  function refusalRow(r) {
    return h('tr', { class: 'refused' },
      h('td', { title: r.time }, clock(r.time)),
      h('td', {}, r.client ? h('a', { href: `#/sessions/${enc(r.client)}` }, r.client) : h('span', { class: 'muted' }, r.peer || 'unknown')),
      h('td', {}, r.method || ''),
      h('td', {}, r.port && r.port !== 443 ? `${r.host}:${r.port}` : r.host || ''),
      h('td', { class: 'path', title: r.path || '' }, r.path || ''),
      h('td', { class: 'status' }, r.status ? String(r.status) : ''),
      h('td', { class: 'note' }, r.error || r.decision || ''));
  }
  function renderCounts(c) {
    fill(counts, Object.entries(c || {}).filter(([, n]) => n > 0)
      .map(([status, n]) => h('span', { class: 'chip bad', dataset: { status } }, `${status}: ${n}`)));
  }
  function renderRules(list) {
    fill(rulesBody, (list || []).map((r) => h('tr', { dataset: { rule: r.name } },
      h('td', { class: 'rule' }, r.name),
      h('td', {}, (r.hosts || []).join(', ')),
      h('td', {}, r.header || ''),
      h('td', {}, r.source || ''),
      h('td', { title: r.last_used || '' }, r.last_used ? `${age(r.last_used)} ago` : 'never'))));
  }

  async function load() {
    try {
      data = await ctx.api.get(`/api/proxy?window=${windowS}`);
    } catch (e) {
      ctx.toast(`proxy: ${e.message}`, 'error');
      return;
    }
    renderStatus(data);
    if (data.series) plot.setData(seriesData(data.series, true));
    fill(refBody, (data.refusals || []).slice().reverse().map(refusalRow));
    refEmpty.hidden = refBody.children.length > 0;
    renderCounts(data.refusal_counts);
    renderRules(data.rules);
  }
  load();

  cleanups.push(ctx.live.on('proxy', (p) => {
    const flipped = data && p.running !== data.running;
    if (data) Object.assign(data, p);
    renderStatus(data || p);
    if (flipped) load();  // started or stopped: addresses, pid, note
  }));
  cleanups.push(ctx.live.on('requests', (d) => {
    if (!data) return;
    const records = d.records || [];
    if (data.series) {
      addToSeries(data.series, records);
      plot.setData(seriesData(data.series, true));
    }
    const bad = records.filter(isRefusal);
    if (bad.length) {
      refBody.prepend(...bad.map(refusalRow).reverse());
      while (refBody.children.length > MAX_REFUSALS) refBody.lastElementChild.remove();
      refEmpty.hidden = true;
      data.refusal_counts = data.refusal_counts || {};
      for (const r of bad) {
        const key = ['400', '403', '407', '421'].includes(String(r.status)) ? String(r.status) : 'other';
        data.refusal_counts[key] = (data.refusal_counts[key] || 0) + 1;
      }
      renderCounts(data.refusal_counts);
    }
    let used = false;
    for (const r of records) {
      const rule = r.rule && (data.rules || []).find((x) => x.name === r.rule);
      if (rule && (!rule.last_used || rule.last_used < r.time)) { rule.last_used = r.time; used = true; }
    }
    if (used) renderRules(data.rules);
  }));
  // "Up for" and "last used" ages tick slowly.
  const timer = setInterval(() => {
    if (document.visibilityState !== 'visible' || !data) return;
    renderStatus(data);
    renderRules(data.rules);
  }, 10000);
  cleanups.push(() => clearInterval(timer));

  return { unmount() { for (const fn of cleanups.reverse()) fn(); } };
}
