// Sessions: the live table (state, agent, image, branch, age, last proxy activity, requests,
// CPU, memory) and the actions: create (a form), stop, start, refresh, sync, delete.
import { enc } from '/api.js';
import { h, fill, setText } from '/dom.js';
import { age, bytes, percent, stateClass, actionsFor, sortSessions, createBody } from '/format.js';

// Run one session action the way every view does (buttons busy, toast with the result).
// Returns the API's answer, or null when it failed or was cancelled.
export async function runAction(ctx, action, name, button) {
  const path = `/api/sessions/${enc(name)}`;
  const busy = (on) => { if (button) { button.disabled = on; button.classList.toggle('busy', on); } };
  busy(true);
  try {
    if (action === 'delete') return await deleteSession(ctx, name);
    const r = await ctx.api.post(`${path}/${action}`, action === 'sync' ? { force: false } : {});
    if (action === 'sync') ctx.toast(r.message || `synced ${name}`, 'ok');
    else if (action === 'refresh') ctx.toast(`${name}: new container from image ${(r.new_image_id || '').replace('sha256:', '').slice(0, 12)}`, 'ok');
    else ctx.toast(`${name}: ${action === 'stop' ? 'stopped' : 'started'}`, 'ok');
    return r;
  } catch (e) {
    ctx.toast(`${action} ${name}: ${e.message}`, 'error');
    return null;
  } finally {
    busy(false);
  }
}

// Delete as the CLI does: the server refuses (409) when the session has uncommitted work or
// commits not on a branch; the user then sees its reason and may force it.
async function deleteSession(ctx, name) {
  const first = await ctx.confirmDialog({
    title: `Delete ${name}?`,
    message: 'Its container, worktree and home volume are removed. The branch stays in your repository unless you tick the box.',
    confirm: 'Delete', danger: true, checkbox: `also delete the branch airlock/${name}`,
  });
  if (!first) return null;
  const branch = first.checked ? '&delete_branch=1' : '';
  const path = `/api/sessions/${enc(name)}`;
  try {
    const r = await ctx.api.del(`${path}?force=0${branch}`);
    ctx.toast(`deleted ${name}`, 'ok');
    return r;
  } catch (e) {
    if (e.status !== 409) throw e;
    const again = await ctx.confirmDialog({
      title: `${name} has work that would be lost`,
      message: 'airlock refused to delete it:',
      detail: e.message,
      confirm: 'Delete anyway', danger: true,
    });
    if (!again) return null;
    const r = await ctx.api.del(`${path}?force=1${branch}`);
    ctx.toast(`deleted ${name} (forced)`, 'ok');
    return r;
  }
}

export function actionButtons(ctx, s, { open = false } = {}) {
  const can = actionsFor(s.state);
  const button = (action, label, cls = 'secondary') => h('button', {
    class: `small ${cls}`, dataset: { action, session: s.name }, title: `${label} ${s.name}`,
    onclick: (e) => { e.stopPropagation(); runAction(ctx, action, s.name, e.currentTarget); },
  }, label);
  return [
    open ? h('a', { class: 'button small', href: `#/sessions/${enc(s.name)}` }, 'Open') : null,
    can.stop ? button('stop', 'Stop') : null,
    can.start ? button('start', 'Start') : null,
    can.refresh ? button('refresh', 'Refresh') : null,
    can.sync ? button('sync', 'Sync') : null,
    can.delete ? button('delete', 'Delete', 'danger') : null,
  ];
}

export function stateBadge(state) {
  return h('span', { class: `badge ${stateClass(state)}`, dataset: { state } }, state || '?');
}

const COLUMNS = ['Session', 'State', 'Agent', 'Image', 'Branch', 'Age', 'Last request', 'Requests', 'CPU', 'Memory', ''];

export function mount(main, ctx) {
  const body = h('tbody');
  const empty = h('p', { class: 'muted empty' }, 'No sessions yet. Create one with the button above, or with airlock create.');
  const engineNote = h('p', { class: 'warn', hidden: true },
    'The Docker engine does not answer: states shown are the ones airlock recorded.');
  const form = createForm(ctx);
  const section = h('section', { class: 'panel' },
    h('div', { class: 'panel-head' },
      h('h1', {}, 'Sessions'),
      h('span', { class: 'spacer' }),
      h('button', { class: 'primary', id: 'new-session', onclick: () => form.open() }, 'New session')),
    engineNote,
    h('div', { class: 'table-wrap' },
      h('table', { class: 'sessions', id: 'sessions-table' },
        h('thead', {}, h('tr', {}, COLUMNS.map((c) => h('th', {}, c)))),
        body)),
    empty);
  main.append(section, form.dialog);

  const rows = new Map();  // name -> {tr, cells, state}
  let sessions = [];

  function render() {
    const now = Date.now();
    const order = sortSessions(sessions);
    const seen = new Set();
    order.forEach((s, i) => {
      seen.add(s.name);
      let row = rows.get(s.name);
      if (!row) {
        const cells = {};
        const tr = h('tr', { dataset: { session: s.name } });
        for (const key of ['name', 'state', 'agent', 'image', 'branch', 'age', 'last', 'requests', 'cpu', 'memory', 'actions']) {
          cells[key] = h('td', { class: `c-${key}` });
          tr.append(cells[key]);
        }
        cells.name.append(h('a', { href: `#/sessions/${enc(s.name)}` }, s.name));
        row = { tr, cells, state: null };
        rows.set(s.name, row);
      }
      if (body.children[i] !== row.tr) body.insertBefore(row.tr, body.children[i] || null);
      const c = row.cells;
      if (row.state !== s.state) {
        fill(c.state, stateBadge(s.state));
        fill(c.actions, h('div', { class: 'actions' }, actionButtons(ctx, s, { open: true })));
        row.state = s.state;
      }
      c.state.title = s.last_error || '';
      setText(c.agent, s.agent);
      setText(c.image, s.image);
      c.image.title = s.image_id || '';
      setText(c.branch, s.branch);
      setText(c.age, age(s.created_at, now));
      c.age.title = s.created_at || '';
      setText(c.last, s.last_request ? `${age(s.last_request, now)} ago` : '—');
      c.last.title = s.last_request || '';
      setText(c.requests, s.refusals ? `${s.requests ?? 0} (${s.refusals} refused)` : String(s.requests ?? 0));
      c.requests.classList.toggle('has-refusals', Boolean(s.refusals));
      const st = ctx.state.stats[s.name];
      setText(c.cpu, st ? percent(st.cpu_percent) : '');
      setText(c.memory, st ? bytes(st.memory_bytes) : '');
      c.memory.title = st && st.memory_limit_bytes ? `limit ${bytes(st.memory_limit_bytes)}` : '';
    });
    for (const [name, row] of rows) {
      if (!seen.has(name)) { row.tr.remove(); rows.delete(name); }
    }
    empty.hidden = sessions.length > 0;
  }

  const offSessions = ctx.live.on('sessions', (d) => {
    sessions = d.sessions || [];
    engineNote.hidden = d.engine !== false;
    render();
  });
  const offStats = ctx.live.on('stats', render);
  // Ages tick; every 5 s is enough and costs nothing visible.
  const timer = setInterval(() => { if (document.visibilityState === 'visible') render(); }, 5000);

  return {
    unmount() { offSessions(); offStats(); clearInterval(timer); form.dialog.remove(); },
  };
}

// ---- the create form ------------------------------------------------------------------------
function createForm(ctx) {
  const cfg = ctx.state.config || {};
  const field = (label, input, hint) => h('label', { class: 'field' }, h('span', {}, label), input, hint ? h('small', {}, hint) : null);
  const input = (name, props = {}) => h('input', { name, id: `create-${name}`, autocomplete: 'off', ...props });
  const select = (name, options, value) => h('select', { name, id: `create-${name}` },
    options.map((o) => h('option', { value: o, selected: o === value }, o === '' ? '(default)' : o)));

  const agents = cfg.agents || [];
  const networks = [...new Set(['', ...(cfg.networks || ['confined', 'open', 'none'])])];
  const credentials = cfg.credentials || [];
  const credBoxes = credentials.map((c) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', name: 'credential', value: c, checked: true }), ' ', c));
  const error = h('p', { class: 'form-error', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary', id: 'create-submit' }, 'Create');

  const form = h('form', { method: 'dialog', id: 'create-form' },
    h('h2', {}, 'New session'),
    field('Prompt', h('textarea', { name: 'prompt', id: 'create-prompt', rows: 5, placeholder: 'what the agent should do' })),
    h('div', { class: 'row' },
      field('Agent', select('agent', agents, cfg.default_agent)),
      field('Image', input('image', { placeholder: cfg.image || '' }), 'empty: the configured image'),
      field('Pull policy', select('pull_policy', ['', 'always', 'if-not-present', 'never'], ''), cfg.pull_policy ? `default ${cfg.pull_policy}` : '')),
    h('div', { class: 'row' },
      field('Name', input('name', { placeholder: 'from the prompt' })),
      field('Repository', input('repo', { placeholder: cfg.repo || '' })),
      field('Base', input('base', { placeholder: 'HEAD' }))),
    h('div', { class: 'row' },
      field('CPUs', input('cpus', { placeholder: cfg.cpus || 'default', size: 6 })),
      field('Memory', input('memory', { placeholder: cfg.memory || 'e.g. 4g', size: 8 })),
      field('PIDs', input('pids_limit', { type: 'number', min: 1, placeholder: cfg.pids_limit ? String(cfg.pids_limit) : '' })),
      field('Network', select('network', networks, ''), cfg.network ? `default ${cfg.network}` : '')),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'read_only', checked: Boolean(cfg.read_only) }), ' read-only root filesystem'),
    field('Environment', h('textarea', { name: 'env', rows: 2, placeholder: 'KEY=value, one per line (never secrets: use credentials)' })),
    credentials.length
      ? h('fieldset', { class: 'creds' }, h('legend', {}, 'Credentials the session may use'), credBoxes)
      : h('p', { class: 'muted' }, 'No credential rules are configured (airlock credential add).'),
    error,
    h('div', { class: 'buttons' },
      h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Cancel'),
      submit));
  const dialog = h('dialog', { class: 'create' }, form);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const chosen = credBoxes.map((l) => l.querySelector('input')).filter((b) => b.checked).map((b) => b.value);
    const fields = Object.fromEntries(data.entries());
    fields.read_only = data.get('read_only') === 'on';
    fields.credentials = chosen.length === credentials.length ? [] : chosen;
    if (credentials.length && chosen.length === 0) {
      error.hidden = false;
      error.textContent = 'Choose at least one credential (a session without any is the same as all, as the CLI).';
      return;
    }
    error.hidden = true;
    submit.disabled = true;
    submit.textContent = 'Creating… (an image pull can take a while)';
    try {
      const r = await ctx.api.post('/api/sessions', createBody(fields));
      ctx.toast(`created ${r.session?.name}`, 'ok');
      dialog.close();
      form.reset();
    } catch (err) {
      error.hidden = false;
      error.textContent = err.message;
    } finally {
      submit.disabled = false;
      submit.textContent = 'Create';
    }
  });

  return { dialog, open: () => { error.hidden = true; dialog.showModal(); form.querySelector('textarea').focus(); } };
}
