// Unit tests of the page's pure helpers (ui/web/src/format.js), run by node's own test runner:
//   node --test tests/browser/format_test.mjs
import test from 'node:test';
import assert from 'node:assert/strict';
import * as f from '../../ui/web/src/format.js';

test('age: seconds, minutes, hours, days; nothing for a missing time', () => {
  const now = Date.parse('2026-11-27T17:00:00Z');
  assert.equal(f.age('2026-11-27T16:59:57Z', now), '3s');
  assert.equal(f.age('2026-11-27T16:55:00Z', now), '5m');
  assert.equal(f.age('2026-11-27T14:57:00Z', now), '2h 03m');
  assert.equal(f.age('2026-11-23T15:00:00Z', now), '4d 2h');
  assert.equal(f.age('2026-11-27T17:00:05Z', now), '0s', 'a clock a little ahead is not negative');
  assert.equal(f.age('', now), '');
  assert.equal(f.age(undefined, now), '');
});

test('bytes and durations', () => {
  assert.equal(f.bytes(0), '0 B');
  assert.equal(f.bytes(1023), '1023 B');
  assert.equal(f.bytes(1536), '1.5 KiB');
  assert.equal(f.bytes(5 * 2 ** 20), '5.0 MiB');
  assert.equal(f.bytes(300 * 2 ** 20), '300 MiB');
  assert.equal(f.bytes(undefined), '');
  assert.equal(f.duration(12), '12 ms');
  assert.equal(f.duration(1534), '1.53 s');
  assert.equal(f.duration(12500), '12.5 s');
  assert.equal(f.duration(125000), '2m 05s');
  assert.equal(f.duration(null), '');
});

test('refusals: a deny decision or a refusal status with a reason, and the refused flag', () => {
  assert.equal(f.isRefusal({ decision: 'deny', status: 403 }), true);
  assert.equal(f.isRefusal({ decision: 'intercept', status: 407, error: 'no valid Proxy-Authorization' }), true);
  assert.equal(f.isRefusal({ refused: true, status: 421 }), true);
  assert.equal(f.isRefusal({ decision: 'intercept', status: 403 }), false, "an upstream's own 403 is not the proxy refusing");
  assert.equal(f.isRefusal({ decision: 'intercept', status: 200, rule: 'anthropic' }), false);
});

test('actions offered per state', () => {
  assert.deepEqual(f.actionsFor('running'), { stop: true, start: false, refresh: true, sync: true, delete: true });
  assert.deepEqual(f.actionsFor('exited'), { stop: false, start: true, refresh: true, sync: true, delete: true });
  assert.equal(f.actionsFor('creating').start, false);
  assert.equal(f.actionsFor('lost').start, true);
  assert.equal(f.stateClass('running'), 'ok');
  assert.equal(f.stateClass('exited'), 'idle');
  assert.equal(f.stateClass('exited (0)'), 'idle', 'the engine state with its exit code');
  assert.equal(f.stateClass('exited (137)'), 'bad');
  assert.equal(f.actionsFor('exited (2)').start, true);
  assert.equal(f.actionsFor('exited (2)').stop, false);
  assert.equal(f.stateClass('lost'), 'bad');
});

test('diff lines and terminal escapes', () => {
  assert.equal(f.diffLineClass('+++ b/x'), 'file');
  assert.equal(f.diffLineClass('diff --git a/x b/x'), 'file');
  assert.equal(f.diffLineClass('@@ -1 +1 @@'), 'hunk');
  assert.equal(f.diffLineClass('+added'), 'add');
  assert.equal(f.diffLineClass('-removed'), 'del');
  assert.equal(f.diffLineClass(' context'), '');
  assert.equal(f.stripAnsi('\x1b[1;32mok\x1b[0m line\r\n\x1b]0;title\x07next\x07'), 'ok line\nnext');
});

test('series: counts into buckets, the window slides, per-second scaling', () => {
  const s = { step_s: 10, start: 1000, requests: [0, 0, 0], bytes: [0, 0, 0], refusals: [0, 0, 0] };
  const iso = (t) => new Date(t * 1000).toISOString();
  f.addToSeries(s, [
    { time: iso(1005), bytes_up: 10, bytes_down: 90 },
    { time: iso(1025), bytes_up: 1, bytes_down: 1, decision: 'deny' },
    { time: iso(990) },  // before the window: ignored
  ]);
  assert.deepEqual(s.requests, [1, 0, 1]);
  assert.deepEqual(s.bytes, [100, 0, 2]);
  assert.deepEqual(s.refusals, [0, 0, 1]);
  f.addToSeries(s, [{ time: iso(1041) }]);  // two buckets later: the window moves by two
  assert.equal(s.start, 1020);
  assert.deepEqual(s.requests, [1, 0, 1]);
  assert.deepEqual(s.refusals, [1, 0, 0]);
  const [xs, req] = f.seriesData(s, true);
  assert.deepEqual(xs, [1020, 1030, 1040]);
  assert.deepEqual(req, [0.1, 0, 0.1]);
  assert.deepEqual(f.seriesData(undefined), [[], [], [], []]);
});

test('sessions sort: running first, then newest', () => {
  const names = f.sortSessions([
    { name: 'a', state: 'exited', created_at: '2026-11-27T10:00:00Z' },
    { name: 'b', state: 'running', created_at: '2026-11-27T09:00:00Z' },
    { name: 'c', state: 'exited', created_at: '2026-11-27T11:00:00Z' },
  ]).map((s) => s.name);
  assert.deepEqual(names, ['b', 'c', 'a']);
});

test('create form -> request body: empty fields are left to the configuration, as the CLI', () => {
  assert.deepEqual(f.createBody({ prompt: '', agent: '', image: ' ', pids_limit: '', env: '', credentials: [] }), {});
  assert.deepEqual(f.createBody({
    prompt: '  fix it\n', agent: 'shell', image: ' airlock-test/agent:latest ', pull_policy: 'never', cpus: '0.5',
    memory: '256m', pids_limit: '128', network: 'confined', read_only: true, env: 'A=1\n\n B=2 \n', credentials: ['anthropic'],
  }), {
    prompt: '  fix it\n', agent: 'shell', image: 'airlock-test/agent:latest', pull_policy: 'never', cpus: '0.5',
    memory: '256m', pids_limit: 128, network: 'confined', read_only: true, env: ['A=1', 'B=2'], credentials: ['anthropic'],
  });
});
