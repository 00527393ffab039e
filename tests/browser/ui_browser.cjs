// The dashboard driven in headless chromium (puppeteer-core, Debian's /usr/bin/chromium).
// Run by tests/integration/ui_browser.sh, which starts airlock ui, the proxy and the upstream
// and passes: UI_URL (the one-time URL), UI_BASE, RUN (a prefix for session names), SECRET
// (the credential's real value: it must never reach the browser), CHROMIUM, SHOTS (where
// screenshots go), PROFILE (a fresh chromium profile dir), AGENT_IMAGE.
// Prints "ok - ..." / "not ok - ..." per check; exits 0 when it ran to the end, 2 when it broke.
'use strict';
const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

const env = (k) => { if (!process.env[k]) throw new Error(`${k} is not set`); return process.env[k]; };
const URL_ = env('UI_URL');
const BASE = env('UI_BASE');
const RUN = env('RUN');
const SECRET = env('SECRET');
const SHOTS = env('SHOTS');
const NAME = 'fix-failing-test';  // container names carry the test home's id: no clash with others

let failures = 0;
function check(ok, what, detail) {
  console.log(`${ok ? 'ok' : 'not ok'} - ${what}${!ok && detail ? `: ${String(detail).replace(/\s+/g, ' ').slice(0, 600)}` : ''}`);
  if (!ok) failures++;
  return ok;
}
const log = (...a) => console.error(new Date().toISOString().slice(11, 23), ...a);

// Whether airlock ui still answers (any HTTP status counts).
function serverAlive() {
  return new Promise((resolve) => {
    const req = require('http').get(`${BASE}/`, (res) => { res.resume(); resolve(true); });
    req.on('error', () => resolve(false));
    req.setTimeout(5000, () => { req.destroy(); resolve(false); });
  });
}

// Wait for FN (run in the page) to return truthy; returns that value, or null after TIMEOUT.
// When airlock ui died meanwhile, the test stops here (every later check would only time out).
async function until(page, fn, timeout, ...args) {
  try {
    const handle = await page.waitForFunction(fn, { timeout, polling: 200 }, ...args);
    return await handle.jsonValue();
  } catch (e) {
    if (e.name !== 'TimeoutError') log('until:', e.message);
    if (!(await serverAlive())) throw new Error('airlock ui does not answer any more (crashed?)');
    return null;
  }
}
const termText = () => {
  const rows = document.querySelector('#terminal .xterm-rows');
  return rows ? [...rows.children].map((r) => r.textContent.replace(/\u00a0/g, ' ').trimEnd()).join('\n') : '';
};
async function typeInTerminal(page, line) {
  await page.click('#terminal .xterm-screen');
  await page.keyboard.type(line, { delay: 5 });
  await page.keyboard.press('Enter');
}
// As an expression (string): evaluated by the DevTools protocol, which the page's CSP (no eval)
// does not apply to, so the helper need not be repeated in every waitForFunction.
const TERM_TEXT = `(${termText.toString()})()`;
async function terminalShows(page, text, timeout = 20000) {
  return until(page, `${TERM_TEXT}.includes(${JSON.stringify(text)}) || null`, timeout);
}
async function shot(page, name) {
  await new Promise((r) => setTimeout(r, 400));
  await page.screenshot({ path: path.join(SHOTS, name) });
}

async function main() {
  const args = ['--headless=new', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-default-apps', '--no-default-browser-check',
    '--disable-features=Translate,MediaRouter,OptimizationHints', '--hide-scrollbars', '--font-render-hinting=none'];
  if (process.getuid && process.getuid() === 0) args.push('--no-sandbox');
  const browser = await puppeteer.launch({
    executablePath: env('CHROMIUM'), headless: true, args, userDataDir: env('PROFILE'),
    defaultViewport: { width: 1440, height: 900 }, protocolTimeout: 180000,
  });
  try {
    await run(browser);
  } finally {
    await browser.close();
  }
}

async function run(browser) {
  const page = await browser.newPage();
  page.setDefaultTimeout(30000);

  // Everything the page logs, every response body and every frame that reaches it.
  const problems = [];
  page.on('console', (m) => {
    const text = m.text();
    if (m.type() === 'error' && !/status of (409|401)/.test(text)) problems.push(text);
    if (/Content Security Policy/i.test(text)) problems.push(text);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const received = [];  // [what, text]
  page.on('response', async (r) => {
    if (r.url().includes('/api/events') || r.status() >= 300 && r.status() < 400) return;
    try { received.push([r.url(), await r.text()]); } catch { /* no body */ }
  });
  const cdp = await page.createCDPSession();
  await cdp.send('Network.enable');
  cdp.on('Network.webSocketFrameReceived', (e) => received.push(['websocket frame', e.response.payloadData]));
  cdp.on('Network.eventSourceMessageReceived', (e) => received.push([`event ${e.eventName}`, e.data]));

  // ---- signing in --------------------------------------------------------------------------
  const denied = await page.goto(`${BASE}/`);
  check(denied.status() === 401, 'the page without the cookie: 401', denied.status());
  const res = await page.goto(URL_, { waitUntil: 'domcontentloaded' });
  check(res.ok() && new URL(page.url()).search === '', 'the one-time URL signs in and leaves the token out of the address bar', page.url());
  const cookies = await page.cookies(BASE);
  const c = cookies.find((x) => x.name === 'airlock_ui');
  check(c && c.httpOnly && c.sameSite === 'Strict', 'the session cookie is HttpOnly and SameSite=Strict', JSON.stringify(cookies));
  check(!(await page.evaluate(() => document.cookie)).includes('airlock_ui'), 'the page\'s scripts cannot read the cookie');
  const other = await browser.createBrowserContext();
  const page2 = await other.newPage();
  const reuse = await page2.goto(URL_);
  check(reuse.status() === 401, 'the one-time URL does not work a second time', reuse.status());
  await other.close();

  const licences = await page.evaluate(() => fetch(document.querySelector('footer a[href="/LICENSES.txt"]').href).then((r) => r.text()));
  check(['@xterm/xterm', '@xterm/addon-fit', 'uplot', 'Permission is hereby granted'].every((t) => licences.includes(t)),
    'the libraries\' licence texts are served and linked from every page', licences.slice(0, 200));

  // ---- sessions: create one through the form -------------------------------------------------
  check(Boolean(await until(page, () => document.querySelector('#sessions-table') && document.getElementById('live').textContent === 'live', 15000)),
    'the sessions view loads and the live stream connects');
  await page.click('#new-session');
  await page.waitForSelector('#create-form', { visible: true });
  await page.type('#create-prompt', 'echo ui-agent-ready; exec sh -i');
  await page.select('#create-agent', 'shell');
  await page.type('#create-image', env('AGENT_IMAGE'));
  await page.select('#create-pull_policy', 'never');
  await page.type('#create-name', NAME);
  await page.type('#create-memory', '512m');
  log('creating', NAME);
  await page.click('#create-submit');
  const running = await until(page, (n) => {
    const err = document.querySelector('#create-form .form-error:not([hidden])');
    if (err) return `error: ${err.textContent}`;
    return document.querySelector(`tr[data-session="${n}"] .badge[data-state="running"]`) ? 'running' : null;
  }, 120000, NAME);
  if (!check(running === 'running', `the session created in the form appears as running`, running)) return;
  check(!(await page.$eval('dialog.create', (d) => d.open)), 'the form closes after creating');
  const rowText = await page.$eval(`tr[data-session="${NAME}"]`, (tr) => tr.textContent);
  check(rowText.includes('shell') && rowText.includes(env('AGENT_IMAGE')) && rowText.includes(`airlock/${NAME}`),
    'its row shows agent, image and branch', rowText);
  const stats = await until(page, (n) => {
    const cpu = document.querySelector(`tr[data-session="${n}"] .c-cpu`).textContent;
    const mem = document.querySelector(`tr[data-session="${n}"] .c-memory`).textContent;
    return cpu && mem ? `${cpu} ${mem}` : null;
  }, 25000, NAME);
  check(Boolean(stats), 'CPU and memory from the engine appear in the row', stats);

  // ---- one session: terminal, resize, a request through the proxy ---------------------------
  await page.setViewport({ width: 1600, height: 1000 });
  await page.click(`tr[data-session="${NAME}"] .c-name a`);
  await page.waitForSelector('#terminal .xterm-screen');
  check(Boolean(await until(page, () => document.querySelector('.term-panel .pill')?.textContent === 'attached', 20000)),
    'the terminal attaches over the WebSocket');
  await new Promise((r) => setTimeout(r, 800));
  await typeInTerminal(page, 'echo hello-$((6*7))');
  check(Boolean(await terminalShows(page, '\nhello-42')), 'a command typed into the terminal runs and its output shows', await page.evaluate(termText));

  const sizeOf = async (marker) => {
    await typeInTerminal(page, `echo ${marker}-$(stty size | tr ' ' x)-end`);
    const m = await until(page, `((t) => { const f = t.match(/\\n${marker}-(\\d+)x(\\d+)-end/);
      return f ? [Number(f[1]), Number(f[2])] : null; })(${TERM_TEXT})`, 15000);
    const domRows = await page.$$eval('#terminal .xterm-rows > div', (d) => d.length);
    return { m, domRows };
  };
  const wide = await sizeOf('size1');
  await page.setViewport({ width: 1200, height: 1000 });
  await new Promise((r) => setTimeout(r, 1200));
  const narrow = await sizeOf('size2');
  check(wide.m && narrow.m && wide.m[0] === wide.domRows && narrow.m[1] < wide.m[1],
    'the container\'s terminal follows the window (rows = the page\'s rows, fewer columns when narrower)',
    JSON.stringify({ wide, narrow }));
  await page.setViewport({ width: 1440, height: 900 });

  await typeInTerminal(page, 'curl -s -o /dev/null -w "code-%{http_code}\\n" -H "x-api-key: $ANTHROPIC_API_KEY" https://api.anthropic.com/echo/from-the-browser');
  check(Boolean(await terminalShows(page, '\ncode-200')), 'curl in the terminal gets 200 through the proxy', await page.evaluate(termText));
  const row = await until(page, () => {
    for (const tr of document.querySelectorAll('#timeline tbody tr')) {
      if (tr.querySelector('.path')?.textContent === 'GET /echo/from-the-browser') {
        return { rule: tr.querySelector('.rule').textContent, status: tr.querySelector('.status').textContent, text: tr.textContent };
      }
    }
    return null;
  }, 15000);
  check(row && row.rule === 'anthropic' && row.status === '200',
    'the request appears in the timeline with its credential rule and status, without reloading', JSON.stringify(row));
  await typeInTerminal(page, 'curl -s -o /dev/null -w "deny-%{http_connect}\\n" https://denied.example/; true');
  await terminalShows(page, '\ndeny-');
  const refused = await until(page, () => {
    const tr = [...document.querySelectorAll('#timeline tbody tr.refused')].find((x) => x.textContent.includes('denied.example'));
    return tr ? tr.textContent : null;
  }, 15000);
  check(Boolean(refused), 'a refused request (a host without a rule, unmatched = deny) is highlighted in the timeline', refused);
  const plotted = await page.$$eval('.req-panel .plot canvas', (c) => c.length);
  check(plotted > 0, 'the requests plot is drawn');
  check(Boolean(await until(page, () => document.getElementById('logs').textContent.includes('ui-agent-ready'), 15000)),
    'the live logs show the agent\'s output');

  await typeInTerminal(page, 'cd /workspace && echo from-the-browser > ui-file.txt && git add ui-file.txt && git commit -qm "add ui-file" && echo commit-$((1+1))-done');
  check(Boolean(await terminalShows(page, '\ncommit-2-done')), 'a commit made in the terminal', await page.evaluate(termText));
  // For the screenshot: a clean terminal with a request and the agent's commit.
  await typeInTerminal(page, 'clear; git log --oneline | cat; curl -s -w "\\n" -H "x-api-key: $ANTHROPIC_API_KEY" https://api.anthropic.com/echo/from-the-browser | cut -c1-60');
  await terminalShows(page, '"ok": true');
  await until(page, () => document.querySelectorAll('#timeline tbody tr').length >= 3, 10000);
  await shot(page, 'ui-session.png');
  await page.click('button.tab[data-tab="branch"]');
  const branch = await until(page, () => {
    const commits = document.querySelector('ol.commits').textContent;
    const diff = document.getElementById('diff').textContent;
    return commits.includes('add ui-file') && diff.includes('+from-the-browser') ? commits : null;
  }, 15000);
  check(Boolean(branch), 'the branch tab shows the commit and its diff against the base',
    await page.evaluate(() => document.querySelector('ol.commits').textContent + ' | ' + document.getElementById('diff').textContent.slice(0, 300)));

  // The agent writes what the page shows (commit messages, diffs, logs, request paths): markup
  // in them must arrive as text, never as elements or running script.
  await typeInTerminal(page, "echo '<script>window.__pwned=2</script>' > hostile.html && git add hostile.html && " +
    "git commit -qm '<img src=x onerror=window.__pwned=1> hostile' && echo '<b id=pwned-log>bold</b>' && echo hostile-$((3+3))-done");
  await terminalShows(page, '\nhostile-6-done');
  await page.click('.tab-body:not([hidden]) .tab-tools button');  // the branch tab's Reload
  const shown = await until(page, () => {
    const commits = document.querySelector('ol.commits').textContent;
    const diff = document.getElementById('diff').textContent;
    const logs = document.getElementById('logs').textContent;
    return commits.includes('<img src=x onerror=window.__pwned=1> hostile') && diff.includes('+<script>window.__pwned=2</script>')
      && logs.includes('<b id=pwned-log>bold</b>') ? true : null;
  }, 15000);
  const injected = await page.evaluate(() => ({
    pwned: window.__pwned ?? null,
    elements: document.querySelectorAll('img[src="x"], #pwned-log, main script').length,
  }));
  check(shown && injected.pwned === null && injected.elements === 0,
    "markup the agent put in a commit message, a diff and its output shows as text and never runs", JSON.stringify({ shown, injected }));

  // Sync: the session's commits reach the user's repository as airlock/<name>.
  await page.click(`button[data-action="sync"][data-session="${NAME}"]`);
  const synced = await until(page, () => [...document.querySelectorAll('.toast')].map((t) => t.textContent).join(' | ') || null, 30000);
  let hostLog = '';
  try {
    hostLog = require('child_process').execFileSync('git', ['-C', env('REPO'), 'log', '--format=%s', `airlock/${NAME}`], { encoding: 'utf8' });
  } catch (e) { hostLog = String(e.message); }
  check(hostLog.includes('add ui-file') && hostLog.includes('hostile'), 'Sync brings the commits into the user\'s repository as the session branch',
    `${synced} / ${hostLog}`);

  await typeInTerminal(page, 'echo unsaved > /workspace/uncommitted.txt && echo dirty-$((2+2))');
  await terminalShows(page, '\ndirty-4');

  // ---- proxy ----------------------------------------------------------------------------------
  await page.goto(`${BASE}/#/proxy`, { waitUntil: 'domcontentloaded' });
  const proxy = await until(page, () => {
    const state = document.querySelector('[data-card="state"] .value')?.textContent;
    const used = document.querySelector('#rules tr[data-rule="anthropic"] td:last-child')?.textContent;
    const refusal = [...document.querySelectorAll('#refusals tbody tr')].some((tr) => tr.textContent.includes('denied.example'));
    return state === 'running' && used && used !== 'never' && refusal ? { state, used } : null;
  }, 20000);
  check(Boolean(proxy), 'the proxy view: running, the rule anthropic last used, the refusal with its reason',
    await page.evaluate(() => document.querySelector('main').textContent.slice(0, 600)));
  await page.select('#proxy-window', '900');
  await until(page, () => document.querySelectorAll('#refusals tbody tr').length > 0, 10000);
  await shot(page, 'ui-proxy.png');

  // ---- delete, through the uncommitted-work confirmation -------------------------------------
  await page.goto(`${BASE}/#/sessions`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector(`tr[data-session="${NAME}"] button[data-action="delete"]`);
  // Stop and start another session from its row; the state follows without a reload.
  const docs = 'update-docs';
  await page.click(`tr[data-session="${docs}"] button[data-action="stop"]`);
  const stopped = await until(page, (n) => {
    const st = document.querySelector(`tr[data-session="${n}"] .badge`)?.dataset.state || '';
    return st.startsWith('exited') ? st : null;
  }, 60000, docs);
  await page.waitForSelector(`tr[data-session="${docs}"] button[data-action="start"]`);
  await page.click(`tr[data-session="${docs}"] button[data-action="start"]`);
  const restarted = await until(page, (n) => document.querySelector(`tr[data-session="${n}"] .badge[data-state="running"]`) ? 'running' : null, 60000, docs);
  check(Boolean(stopped) && restarted === 'running', 'Stop and Start in a row change the session\'s state, seen live', `${stopped} ${restarted}`);
  await until(page, () => [...document.querySelectorAll('#sessions-table .c-cpu')].some((td) => td.textContent), 25000);
  await page.setViewport({ width: 1440, height: 560 });
  await shot(page, 'ui-sessions.png');
  await page.setViewport({ width: 1440, height: 900 });
  await page.click(`tr[data-session="${NAME}"] button[data-action="delete"]`);
  await page.waitForSelector('dialog.confirm[open] button[data-role="confirm"]');
  await page.click('dialog.confirm[open] button[data-role="confirm"]');
  const second = await until(page, () => {
    const d = document.querySelector('dialog.confirm[open]');
    return d && d.querySelector('pre.detail') ? d.textContent : null;
  }, 30000);
  check(second && /lost/.test(second), 'deleting a session with uncommitted work asks again, with airlock\'s reason', second);
  if (second) await page.click('dialog.confirm[open] button[data-role="confirm"]');
  check(Boolean(await until(page, (n) => !document.querySelector(`tr[data-session="${n}"]`), 60000, NAME)),
    'the deleted session leaves the table');

  // ---- what reached the browser ---------------------------------------------------------------
  const leaks = received.filter(([, text]) => text && text.includes(SECRET)).map(([what]) => what);
  check(leaks.length === 0, `the secret's value is in none of the ${received.length} responses, events and frames the page got`, leaks.join(', '));
  check(received.some(([what]) => what === 'websocket frame') && received.some(([what]) => what.startsWith('event ')),
    'frames and events were seen (the leak check saw the live channels)');
  check(problems.length === 0, 'no script errors and no Content-Security-Policy violations in the page', problems.join(' | '));
}

main().then(() => process.exit(0), (e) => {
  console.error(e && e.stack ? e.stack : e);
  console.log(`not ok - the browser test broke: ${e && e.message}`);
  process.exit(2);
});
