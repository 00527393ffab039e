#!/usr/bin/env bash
# The proxy as sessions meet it, against a real Docker engine: parallel creates while the proxy
# is stopped all succeed and share one proxy; 'list' and 'show' say when the proxy is down.
# Needs an engine (scripts/ensure-docker) and the local test images (tests/images/build-images).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bin=${AIRLOCK_BIN:?set AIRLOCK_BIN to the airlock binary}
root=${AIRLOCK_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
require_docker
command -v git >/dev/null || { echo "skip: git not installed"; exit 77; }
IMAGE=airlock-test/busybox:latest
docker image inspect "$IMAGE" >/dev/null 2>&1 || "$root/tests/images/build-images" >&2 \
  || { echo "Bail out! cannot build the test images (tests/images/build-images)"; exit 1; }

tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
logs=$tmp/airlock-output
mkdir -p "$logs"
run=pd$$
export AIRLOCK_HOME=$tmp/home
names=()
for i in 1 2 3 4; do names+=("$run-$i"); done
cleanup() {
  set +e
  for s in "${names[@]}"; do "$bin" delete --force --delete-branch "$s" >>"$logs/trap.out" 2>>"$logs/trap.err"; done
  "$bin" proxy stop --grace 1 >>"$logs/trap.out" 2>>"$logs/trap.err"
  for f in proxy-supervisor.pid proxy.pid; do [ -f "$AIRLOCK_HOME/$f" ] && kill -9 "$(cat "$AIRLOCK_HOME/$f")" 2>/dev/null; done
  ids=$(docker ps -aq --filter "label=dev.airlock.home=$AIRLOCK_HOME")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
  ids=$(docker volume ls -q --filter "label=dev.airlock.home=$AIRLOCK_HOME")
  [ -z "$ids" ] || docker volume rm -f $ids >/dev/null 2>&1
  if [ "${AIRLOCK_TEST_KEEP:-}" = 1 ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
count_procs() { pgrep -f -- "--home $AIRLOCK_HOME proxy $1" | wc -l; }

mkdir -p "$AIRLOCK_HOME"
cat >"$AIRLOCK_HOME/config.toml" <<TOML
[docker]
image = "$IMAGE"
pull_policy = "never"
[proxy]
port = $(free_port)
TOML
export GIT_AUTHOR_NAME="airlock test" GIT_AUTHOR_EMAIL=test@airlock.invalid
export GIT_COMMITTER_NAME="airlock test" GIT_COMMITTER_EMAIL=test@airlock.invalid
repo=$tmp/repo
git init -q "$repo"
echo hello >"$repo/README.md"
git -C "$repo" add -A
git -C "$repo" commit -q -m initial

# ---- parallel creates while the proxy is stopped ------------------------------------------------
pids=()
for s in "${names[@]}"; do
  "$bin" create --agent shell --name "$s" --repo "$repo" --prompt "sleep 300" >"$logs/create-$s.out" 2>"$logs/create-$s.err" &
  pids+=($!)
done
failed=()
for i in "${!pids[@]}"; do wait "${pids[$i]}" || failed+=("${names[$i]}: $(tail -1 "$logs/create-${names[$i]}.err")"); done
if [ ${#failed[@]} -eq 0 ]; then ok "4 parallel creates while the proxy is stopped all succeed"
else not_ok "4 parallel creates while the proxy is stopped: ${#failed[@]} failed: ${failed[*]}"; fi
started=$(cat "$logs"/create-*.err | grep -c '^proxy started' || true)
[ "$started" -eq 1 ] && [ "$(count_procs run)" -eq 1 ] && [ "$(count_procs supervise)" -eq 1 ] \
  && ok "one of them started the proxy; one server and one supervisor run" \
  || not_ok "one proxy for the parallel creates ($started said started; $(count_procs run) servers, $(count_procs supervise) supervisors)"

# ---- list and show say when the proxy is down ------------------------------------------------------
run_capture "$bin" list
if [ "$rc" -eq 0 ] && ! grep -q 'proxy: DOWN' <<<"$out"; then ok "list has no DOWN line while the proxy runs"
else not_ok "list while the proxy runs (exit $rc): $(head -c 400 <<<"$out")"; fi
kill -9 "$(cat "$AIRLOCK_HOME/proxy-supervisor.pid")" "$(cat "$AIRLOCK_HOME/proxy.pid")"
sleep 0.3
expect "list says the proxy is DOWN after the proxy and its supervisor were killed" 0 \
  "^proxy: DOWN \\(not running\\); sessions have no API access; start it with 'airlock proxy start'" "$bin" list
expect "show says the proxy is down" 0 "^proxy: +down" "$bin" show "${names[0]}"
run_capture "$bin" list --json
if [ "$rc" -eq 0 ] && "$bin" list --json 2>/dev/null | python3 -c 'import json,sys; json.load(sys.stdin)' && grep -q 'proxy: DOWN' <<<"$out"; then
  ok "list --json stays JSON on stdout and says DOWN on stderr"
else not_ok "list --json when the proxy is down (exit $rc): $(head -c 400 <<<"$out")"; fi
expect "proxy start brings it back" 0 "^proxy started" "$bin" proxy start
run_capture "$bin" list
! grep -q 'proxy: DOWN' <<<"$out" && ok "list has no DOWN line once it is back" || not_ok "list after proxy start: $out"

finish
