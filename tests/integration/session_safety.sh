#!/usr/bin/env bash
# Sessions never lose the user's work (issue 12), against a real Docker engine: kills at
# chosen steps of create, refresh and delete (AIRLOCK_TEST_KILL_AFTER, see DEVELOPERS.md) and
# what `doctor --fix` makes of them; doctor --fix during a refresh; max_containers under six
# parallel creates and at `start`; two airlock homes on one engine; delete --delete-branch and
# unmerged commits; a non-root user and an image whose /home/agent is root's; and the smaller
# items (lost sessions, engine down, logs -f across a refresh, a moved repository, usage errors).
#
# Needs a Docker engine and the local test images (tests/images/build-images); nothing is
# pulled. Env: AIRLOCK_BIN (required), AIRLOCK_SOURCE_ROOT, AIRLOCK_TEST_KEEP=1 keeps the temp dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bin=${AIRLOCK_BIN:?set AIRLOCK_BIN to the airlock binary}
root=${AIRLOCK_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}

require_docker
for tool in python3 git; do command -v "$tool" >/dev/null || { echo "skip: $tool not installed"; exit 77; }; done
BUSYBOX_IMAGE=airlock-test/busybox:latest
docker image inspect "$BUSYBOX_IMAGE" >/dev/null 2>&1 || "$root/tests/images/build-images" busybox >&2 \
  || { echo "Bail out! cannot build the test images"; exit 1; }

tmp=$(mktemp -d)
chmod 755 "$tmp"
tmp=$(cd "$tmp" && pwd -P)
logs=$tmp/out
mkdir -p "$logs"
run=sf$$
homes=()
rootless_image=airlock-test/rootless-home:$run
testuser=airlock-it-$run

cleanup() {
  set +e
  local h ids
  for h in "${homes[@]}"; do
    AIRLOCK_HOME=$h "$bin" proxy stop --grace 1 >/dev/null 2>&1
    [ -s "$h/proxy.pid" ] && kill "$(cat "$h/proxy.pid")" 2>/dev/null
    [ -s "$h/home-id" ] || continue
    ids=$(docker ps -aq --filter "label=dev.airlock.home-id=$(cat "$h/home-id")")
    [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
    ids=$(docker volume ls -q --filter "label=dev.airlock.home-id=$(cat "$h/home-id")")
    [ -z "$ids" ] || docker volume rm -f $ids >/dev/null 2>&1
  done
  docker volume rm -f "airlock-cache-$run-cache" >/dev/null 2>&1
  docker rmi -f "$rootless_image" >/dev/null 2>&1
  id "$testuser" >/dev/null 2>&1 && userdel "$testuser" >/dev/null 2>&1
  if [ "${AIRLOCK_TEST_KEEP:-}" = 1 ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
short() { head -c "${2:-500}" <<<"$1" | tr '\n' '|'; }

# new_home DIR [EXTRA-TOML]: a home with its own proxy port, the busybox image, pull never
new_home() {
  local h=$1
  mkdir -p "$h"
  homes+=("$h")
  cat >"$h/config.toml" <<TOML
[docker]
image = "$BUSYBOX_IMAGE"
pull_policy = "never"
${2:-}

[proxy]
port = $(free_port)
TOML
}
# A repository with one commit.
new_repo() {
  git init -q "$1"
  git -C "$1" checkout -q -b main
  echo hello >"$1/README.md"
  git -C "$1" add -A
  git -C "$1" commit -q -m initial
}
export GIT_AUTHOR_NAME="airlock test" GIT_AUTHOR_EMAIL=test@airlock.invalid
export GIT_COMMITTER_NAME="airlock test" GIT_COMMITTER_EMAIL=test@airlock.invalid

# a NAME ARGS...: airlock in $AIRLOCK_HOME; sets rc, aout, aerr; never fails
a() {
  local name=$1; shift
  set +e
  "$bin" "$@" >"$logs/$name.out" 2>"$logs/$name.err"
  rc=$?
  set -e
  aout=$(cat "$logs/$name.out"); aerr=$(cat "$logs/$name.err")
}
hid() { cat "$AIRLOCK_HOME/home-id"; }
# session_commit S WORD: a commit in the session's own repository (what the agent does),
# made from the host; prints its id
session_commit() {
  local g=(git --git-dir="$AIRLOCK_HOME/sessions/$1/git" --work-tree="$AIRLOCK_HOME/worktrees/$1")
  echo "$2" >"$AIRLOCK_HOME/worktrees/$1/$2.txt"
  "${g[@]}" add "$2.txt" && "${g[@]}" commit -q -m "the agent's $2" && "${g[@]}" rev-parse HEAD
}
cname() { echo "airlock-$1-$(hid)"; }
running() { [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
# containers of session S in this home, one "name status" per line
containers_of() { docker ps -a --filter "label=dev.airlock.session=$1" --filter "label=dev.airlock.home-id=$(hid)" --format '{{.Names}} {{.State}}'; }
state_of() { "$bin" list --json 2>/dev/null | python3 -c "import json,sys; print(''.join(s['state'] for s in json.load(sys.stdin) if s['name'] == '$1'))"; }
branch_at() { git -C "$repo" rev-parse -q --verify "refs/heads/airlock/$1" 2>/dev/null || true; }
# nothing_left S: no container, volume, worktree or row of S in this home
nothing_left() {
  local s=$1 left=()
  [ -z "$(containers_of "$s")" ] || left+=("containers: $(containers_of "$s" | tr '\n' ' ')")
  docker volume inspect "airlock-home-$s-$(hid)" >/dev/null 2>&1 && left+=("home volume")
  [ -e "$AIRLOCK_HOME/worktrees/$s" ] && left+=("worktree")
  "$bin" list --json 2>/dev/null | grep -q "\"name\":\"$s\"" && left+=("row")
  [ -e "$AIRLOCK_HOME/sessions/$s.lock" ] && left+=("lock file")
  [ -e "$AIRLOCK_HOME/sessions/$s" ] && left+=("sessions/$s")
  [ ${#left[@]} -eq 0 ] || { echo "${left[*]}"; return 1; }
}

# ==== home A =====================================================================================
export AIRLOCK_HOME=$tmp/home-a
new_home "$AIRLOCK_HOME" "max_containers = 4"
repo=$tmp/repo
new_repo "$repo"

a first list
[ "$rc" -eq 0 ] && [ -s "$AIRLOCK_HOME/home-id" ] && grep -Eqx '[a-z0-9]{10}' "$AIRLOCK_HOME/home-id" \
  && ok "the first command gives the home an id ($(hid))" || not_ok "home-id after the first command (exit $rc): $(short "$aerr")"

# ---- 6. a killed create never leaves a live agent; doctor --fix undoes it ------------------------
for step in create:row create:worktree create:client create:volumes create:container; do
  s=$run-k-${step#create:}
  set +e
  AIRLOCK_TEST_KILL_AFTER=$step "$bin" create --agent shell --name "$s" --repo "$repo" --prompt 'sleep 300' \
    >"$logs/kill-$s.out" 2>"$logs/kill-$s.err"
  krc=$?
  set -e
  live=$(docker ps -q --filter "label=dev.airlock.session=$s" --filter "label=dev.airlock.home-id=$(hid)")
  if [ "$krc" -eq 137 ] && [ -z "$live" ]; then ok "create killed after $step: no agent runs"
  else not_ok "create killed after $step (exit $krc): running containers: $live"; fi
  st=$(state_of "$s")
  if [ "$step" = create:row ] || [ -n "$st" ]; then
    [ "$st" = interrupted ] && ok "list shows the create killed after $step as interrupted" \
      || not_ok "list state after a create killed at $step: '$st'"
  fi
  a "doctor-$s" doctor
  [ "$rc" -ne 0 ] && grep -q "create of session $s was interrupted" <<<"$aout" && ok "doctor reports the interrupted create ($step)" \
    || not_ok "doctor reports the create killed at $step (exit $rc): $(short "$aout")"
  a "fix-$s" doctor --fix
  if left=$(nothing_left "$s") && [ -z "$(branch_at "$s")" ]; then ok "doctor --fix after a create killed at $step: nothing left, not even the unused branch"
  else not_ok "doctor --fix after a create killed at $step left: $left branch=$(branch_at "$s"); $(short "$aout")"; fi
done
# Killed after the row said running but before the start: the agent never ran; start runs it.
s=$run-k-committed
set +e
AIRLOCK_TEST_KILL_AFTER=create:committed "$bin" create --agent shell --name "$s" --repo "$repo" --prompt 'sleep 300' >/dev/null 2>&1
krc=$?
set -e
st=$(state_of "$s")
if [ "$krc" -eq 137 ] && [ "$st" = created ] && ! running "$(cname "$s")"; then ok "create killed after its commit: the session exists, its agent never started"
else not_ok "create killed after create:committed (exit $krc): state '$st'"; fi
a start-committed start "$s"
[ "$rc" -eq 0 ] && running "$(cname "$s")" && ok "start runs the agent of a create killed after its commit" \
  || not_ok "start after create:committed (exit $rc): $(short "$aerr")"
a doctor-committed doctor --fix
a del-committed delete --force --delete-branch "$s"

# ---- 1. a killed delete is finished as a delete: the committed branch stays --------------------
for step in delete:marked teardown:containers teardown:worktree; do
  s=$run-d-${step#*:}
  a "create-$s" create --agent shell --name "$s" --repo "$repo" --prompt 'sleep 300'
  [ "$rc" -eq 0 ] || not_ok "create $s (exit $rc): $(short "$aerr")"
  committed=$(session_commit "$s" work)
  set +e
  AIRLOCK_TEST_KILL_AFTER=$step "$bin" delete "$s" >/dev/null 2>&1
  krc=$?
  set -e
  st=$(state_of "$s")
  [ "$krc" -eq 137 ] && [ "$st" = interrupted ] && ok "delete killed after $step shows as interrupted" \
    || not_ok "delete killed after $step (exit $krc): state '$st'"
  a "doctor-$s" doctor
  grep -q "delete of session $s was interrupted" <<<"$aout" && ok "doctor reports the interrupted delete ($step)" \
    || not_ok "doctor reports the interrupted delete ($step): $(short "$aout")"
  a "fix-$s" doctor --fix
  if [ "$(branch_at "$s")" = "$committed" ] && left=$(nothing_left "$s"); then
    ok "doctor --fix finishes a delete killed after $step: session gone, airlock/$s kept at the agent's commit"
  else not_ok "doctor --fix after a delete killed at $step: branch '$(branch_at "$s")' (want $committed), left: ${left:-}; $(short "$aout")"; fi
  grep -qi "undoing the interrupted create" <<<"$aout" && not_ok "doctor --fix treated the killed delete as a create"
done

# ---- 8. delete --delete-branch refuses unmerged commits unless --force --------------------------
s=$run-unmerged
a create-unmerged create --agent shell --name "$s" --repo "$repo" --prompt 'sleep 300'
tip=$(session_commit "$s" work)
a del-unmerged delete --delete-branch "$s"
if [ "$rc" -eq 1 ] && grep -q "not merged" <<<"$aerr" && grep -q "${tip:0:12}" <<<"$aerr" && [ "$(branch_at "$s")" = "$tip" ] \
    && running "$(cname "$s")"; then ok "delete --delete-branch refuses unmerged commits, names the commit, changes nothing"
else not_ok "delete --delete-branch with unmerged commits (exit $rc): $(short "$aerr")"; fi
a del-unmerged-force delete --delete-branch --force "$s"
if [ "$rc" -eq 0 ] && grep -q "was ${tip:0:12}" <<<"$aout" && [ -z "$(branch_at "$s")" ]; then
  ok "delete --delete-branch --force deletes it and prints where it pointed (${tip:0:12})"
else not_ok "delete --delete-branch --force (exit $rc): $(short "$aout$aerr")"; fi
s=$run-merged
a create-merged create --agent shell --name "$s" --repo "$repo" --prompt 'sleep 300'
a del-merged delete --delete-branch "$s"
[ "$rc" -eq 0 ] && [ -z "$(branch_at "$s")" ] && ok "delete --delete-branch of a branch with nothing unmerged needs no --force" \
  || not_ok "delete --delete-branch of an unchanged branch (exit $rc): $(short "$aerr")"

# ---- 3. max_containers = 4 holds under six parallel creates, and at start -------------------------
pids=()
for n in 1 2 3 4 5 6; do
  "$bin" create --agent shell --name "$run-p$n" --repo "$repo" --prompt 'sleep 300' >"$logs/p$n.out" 2>"$logs/p$n.err" &
  pids+=($!)
done
okc=0; limited=0
for n in 1 2 3 4 5 6; do
  if wait "${pids[$((n - 1))]}"; then okc=$((okc + 1))
  elif grep -q "max_containers is 4" "$logs/p$n.err"; then limited=$((limited + 1)); fi
done
nrun=$(docker ps -q --filter "label=dev.airlock.home-id=$(hid)" | wc -l)
if [ "$okc" -eq 4 ] && [ "$limited" -eq 2 ] && [ "$nrun" -eq 4 ]; then ok "six parallel creates with max_containers = 4: four run, two fail naming the limit"
else not_ok "six parallel creates: $okc succeeded, $limited refused by the limit, $nrun running; $(cat "$logs"/p*.err | grep error | tr '\n' '|')"; fi
stray=
for n in 1 2 3 4 5 6; do
  grep -q "max_containers" "$logs/p$n.err" || continue
  left=$(nothing_left "$run-p$n") || stray+="$run-p$n: $left; "
  [ -z "$(branch_at "$run-p$n")" ] || stray+="branch airlock/$run-p$n; "
done
[ -z "$stray" ] && ok "the refused creates left nothing behind" || not_ok "refused creates left: $stray"
first_ok=
for n in 1 2 3 4 5 6; do grep -q "created session" "$logs/p$n.out" && { first_ok=$run-p$n; break; }; done
a stop-p stop "$first_ok"
s=$run-p7
a create-p7 create --agent shell --name "$s" --repo "$repo" --prompt 'sleep 300'
[ "$rc" -eq 0 ] || not_ok "create $s after a stop (exit $rc): $(short "$aerr")"
a start-over start "$first_ok"
if [ "$rc" -eq 1 ] && grep -q "max_containers is 4" <<<"$aerr" && ! running "$(cname "$first_ok")"; then ok "start refuses a fifth running session"
else not_ok "start past max_containers (exit $rc): $(short "$aerr")"; fi
a refresh-at-limit refresh "$s"
[ "$rc" -eq 0 ] && running "$(cname "$s")" && [ "$(docker ps -q --filter "label=dev.airlock.home-id=$(hid)" | wc -l)" -eq 4 ] \
  && ok "refresh at the limit replaces its own container (it does not count itself)" \
  || not_ok "refresh with max_containers sessions running (exit $rc): $(short "$aerr")"
for n in 1 2 3 4 5 6 7; do "$bin" delete --force --delete-branch "$run-p$n" >/dev/null 2>&1 || true; done

# ---- 4. refresh: doctor --fix during it, and kills at each step -----------------------------------
s=$run-r
a create-r create --agent shell --name "$s" --repo "$repo" --prompt 'sleep 300'
set +e
AIRLOCK_TEST_PAUSE_AFTER=refresh:recorded "$bin" refresh "$s" >"$logs/refresh-paused.out" 2>"$logs/refresh-paused.err" &
rpid=$!
set -e
for _ in $(seq 100); do [ "$(containers_of "$s" | wc -l)" -ge 2 ] && break; sleep 0.1; done
sleep 0.5
a doctor-during-refresh doctor --fix
a list-during-refresh list
during=$(grep "^$s " <<<"$aout" | awk '{print $2}')
wait "$rpid"; rrc=$?
if [ "$rrc" -eq 0 ] && running "$(cname "$s")" && [ "$(containers_of "$s" | wc -l)" -eq 1 ] && [ "$(state_of "$s")" = running ] \
    && ! grep -q "removing orphan\|marking $s" "$logs/doctor-during-refresh.out"; then
  ok "doctor --fix during a refresh touches nothing of it (list said '$during'); the refresh finishes"
else not_ok "doctor --fix during a refresh: refresh exit $rrc, containers: $(containers_of "$s" | tr '\n' ' '), state $(state_of "$s"); doctor: $(short "$(cat "$logs/doctor-during-refresh.out")")"; fi
for step in refresh:token refresh:created refresh:recorded refresh:old-removed refresh:renamed; do
  before=$(docker inspect -f '{{.Id}}' "$(cname "$s")" 2>/dev/null || echo none)
  set +e
  AIRLOCK_TEST_KILL_AFTER=$step "$bin" refresh "$s" >/dev/null 2>"$logs/kill-refresh.err"
  krc=$?
  set -e
  st=$(state_of "$s")
  [ "$krc" -eq 137 ] && [ "$st" != lost ] && ok "refresh killed after $step: list says '$st', not lost" \
    || not_ok "refresh killed after $step (exit $krc): list says '$st'"
  a "fix-refresh-$step" doctor --fix
  n=$(containers_of "$s" | wc -l)
  if [ "$n" -eq 1 ] && running "$(cname "$s")" && [ "$(state_of "$s")" = running ]; then
    ok "doctor --fix after a refresh killed at $step: one container, named $(cname "$s"), its agent running"
  else not_ok "doctor --fix after refresh killed at $step: containers $(containers_of "$s" | tr '\n' ' '), state $(state_of "$s"); $(short "$aout")"; fi
  if [ "$step" = refresh:token ] || [ "$step" = refresh:created ]; then
    [ "$(docker inspect -f '{{.Id}}' "$(cname "$s")" 2>/dev/null)" = "$before" ] \
      && ok "refresh killed before the new container was recorded: doctor --fix keeps the running agent" \
      || not_ok "the running agent was replaced or killed after a refresh killed at $step"
  fi
done
a refresh-again refresh "$s"
[ "$rc" -eq 0 ] && running "$(cname "$s")" && ok "refresh after the recoveries works" || not_ok "refresh again (exit $rc): $(short "$aerr")"

# ---- 9. logs -f follows a refresh --------------------------------------------------------------
s2=$run-logs
a create-logs create --agent shell --name "$s2" --repo "$repo" --prompt 'echo "hello from $(hostname)"; sleep 300'
set +e
timeout 40 "$bin" logs -f "$s2" >"$logs/logsf.out" 2>"$logs/logsf.err" &
lpid=$!
set -e
sleep 1
a refresh-logs refresh "$s2"
sleep 3
kill "$lpid" 2>/dev/null || true
wait "$lpid" 2>/dev/null || true
if grep -q "was refreshed; following its new container" "$logs/logsf.err" && [ "$(grep -c '^hello from' "$logs/logsf.out")" -ge 2 ]; then
  ok "logs -f says the session was refreshed and follows the new container"
else not_ok "logs -f across a refresh: out $(short "$(cat "$logs/logsf.out")") err $(short "$(cat "$logs/logsf.err")")"; fi
a del-logs delete --force "$s2"

# ---- 9. lost sessions, the engine down, 127 -----------------------------------------------------
docker rm -f "$(cname "$s")" >/dev/null
for cmd in start stop logs attach; do
  a "lost-$cmd" "$cmd" "$s"
  [ "$rc" -eq 1 ] && grep -q "run 'airlock refresh $s'" <<<"$aerr" && ! grep -qi "no such container" <<<"$aerr" \
    && ok "$cmd of a lost session says run 'airlock refresh $s'" || not_ok "$cmd of a lost session (exit $rc): $(short "$aerr")"
done
set +e
DOCKER_HOST=unix:///nonexistent "$bin" list >"$logs/down.out" 2>"$logs/down.err"; drc=$?
DOCKER_HOST=unix:///nonexistent "$bin" show "$s" --json >"$logs/down-show.out" 2>"$logs/down-show.err"; src=$?
set -e
if [ "$drc" -eq 0 ] && grep -q "^$s .*(stored)" "$logs/down.out" && grep -q "store's view" "$logs/down.err" \
    && [ "$src" -eq 0 ] && grep -q '"from_engine":false' "$logs/down-show.out"; then
  ok "list and show with the engine down: the store's view, marked as such"
else not_ok "list/show with the engine down: list exit $drc $(short "$(cat "$logs/down.out" "$logs/down.err")"); show exit $src"; fi
s3=$run-127
a create-127 create --agent shell --name "$s3" --repo "$repo" --prompt 'exec /nonexistent/agent-binary'
sleep 1.5
a show-127 show "$s3" --json
grep -q '"state":"exited (127)"' <<<"$aout" && grep -q 'not found or not executable' <<<"$aout" \
  && ok "an agent command missing from the image: show gives exit 127 and says so in last_error" \
  || not_ok "show of a 127 agent: $(short "$aout")"
a del-127 delete --force "$s3"

# ---- 9. a moved repository: the session can still be deleted --------------------------------------
repo2=$tmp/repo2
new_repo "$repo2"
s4=$run-moved
a create-moved create --agent shell --name "$s4" --repo "$repo2" --prompt 'sleep 300'
mv "$repo2" "$tmp/repo2-moved"
a del-moved delete "$s4"
[ "$rc" -eq 1 ] && grep -q -- "--force" <<<"$aerr" && ok "delete with the repository moved away: refuses without --force, one line" \
  || not_ok "delete after moving the repository (exit $rc): $(short "$aerr")"
a del-moved-force delete --force "$s4"
if [ "$rc" -eq 0 ] && left=$(nothing_left "$s4"); then ok "delete --force with the repository moved: nothing left"
else not_ok "delete --force after the repository moved (exit $rc): ${left:-} $(short "$aerr")"; fi

# ---- 9. usage errors -------------------------------------------------------------------------------
a bad-name create --agent shell --name 'café' --repo "$repo" --prompt true
[ "$rc" -eq 2 ] && grep -q "session name 'café' contains 'é'" <<<"$aerr" && ok "a non-ASCII --name: exit 2, shown as typed" \
  || not_ok "--name café (exit $rc): $(short "$aerr")"
for p in 0 -1 1; do
  a "bad-pids$p" create --agent shell --name "$run-pids" --repo "$repo" --pids-limit "$p" --prompt true
  [ "$rc" -eq 2 ] && grep -q "at least 32" <<<"$aerr" && ok "--pids-limit $p: exit 2, at least 32" \
    || not_ok "--pids-limit $p (exit $rc): $(short "$aerr")"
done
a bad-mem create --agent shell --name "$run-mem" --repo "$repo" --memory-limit 10z --prompt true
[ "$rc" -eq 2 ] && grep -q "b, k, m, g or t" <<<"$aerr" && ok "--memory-limit 10z lists every unit" || not_ok "--memory-limit 10z: $(short "$aerr")"
a bad-base create --agent shell --name "$run-base" --repo "$repo" --base "x'; touch $tmp/pwned; '" --prompt true
suggest=$(sed -n 's/.*check the name with //p' <<<"$aerr")
set +e; (cd "$tmp" && bash -c "$suggest" >/dev/null 2>&1); set -e
[ "$rc" -eq 1 ] && [ -n "$suggest" ] && [ ! -e "$tmp/pwned" ] && ok "a bad --base: the suggested command quotes the user's text (running it runs nothing else)" \
  || not_ok "--base quoting: $(short "$aerr")"
a ps-running proxy status
a proxy-stop proxy stop --grace 1
a ps-stopped proxy status
[ "$rc" -eq 3 ] && grep -q "not running" <<<"$aout" && ok "proxy status exits 3 when the proxy is not running" \
  || not_ok "proxy status when stopped: exit $rc: $(short "$aout")"
long=$run-$(printf 'a%.0s' $(seq 36))
long=${long:0:48}
a create-long create --agent shell --name "$long" --repo "$repo" --prompt 'sleep 300'
a list-long list
hdr=$(head -1 <<<"$aout"); row=$(grep "^$long " <<<"$aout" || true)
col=$(awk -v h="$hdr" 'BEGIN{print index(h, "STATE")}')
[ -n "$row" ] && [ "${row:$((col - 1)):7}" = running ] && ok "list columns stay aligned with a 48-character name" \
  || not_ok "list with a long name: $(short "$aout")"
a del-long delete --force --delete-branch "$long"

# ==== 5. two homes, one engine, the same session name ===============================================
home_a=$AIRLOCK_HOME
home_b=$tmp/home-b
new_home "$home_b"
a create-xa create --agent shell --name "$run-x" --repo "$repo" --prompt 'echo a-secret > $HOME/mine; sleep 300'
xa_rc=$rc
repo_b=$tmp/repo-b  # the other user's repository (one repository cannot hold airlock/$run-x twice)
new_repo "$repo_b"
AIRLOCK_HOME=$home_b a create-xb create --agent shell --name "$run-x" --repo "$repo_b" --prompt 'sleep 300'
xb_rc=$rc
ca=airlock-$run-x-$(cat "$home_a/home-id"); cb=airlock-$run-x-$(cat "$home_b/home-id")
if [ "$xa_rc" -eq 0 ] && [ "$xb_rc" -eq 0 ] && running "$ca" && running "$cb" && [ "$ca" != "$cb" ]; then
  ok "two homes both create a session named $run-x ($ca, $cb)"
else not_ok "two homes, one name: create A exit $xa_rc, B exit $xb_rc: $(short "$(cat "$logs/create-xb.err")")"; fi
sleep 1
set +e; seen=$(docker exec "$cb" sh -c 'cat $HOME/mine 2>&1'); set -e
grep -q a-secret <<<"$seen" && not_ok "B's agent reads A's home volume" || ok "B's agent does not see A's home ($seen)"
idb=$(docker inspect -f '{{.Id}}' "$cb")
a refresh-xa refresh "$run-x"
[ "$rc" -eq 0 ] && [ "$(docker inspect -f '{{.Id}} {{.State.Running}}' "$cb")" = "$idb true" ] \
  && ok "refresh in home A leaves B's container running and untouched" || not_ok "refresh in A (exit $rc) touched B: $(docker inspect -f '{{.Id}} {{.State.Status}}' "$cb" 2>&1)"
docker run -d --name "airlock-$run-alien" --label dev.airlock.session="$run-x" --label "dev.airlock.home=$home_a" \
  --label dev.airlock.home-id=someoneelse "$BUSYBOX_IMAGE" sleep 300 >/dev/null
a doctor-a doctor --fix
a del-xa delete --force --delete-branch "$run-x"
if docker inspect "airlock-$run-alien" >/dev/null 2>&1 && [ "$(docker inspect -f '{{.Id}} {{.State.Running}}' "$cb")" = "$idb true" ] \
    && docker volume inspect "airlock-home-$run-x-$(cat "$home_b/home-id")" >/dev/null 2>&1; then
  ok "doctor --fix and delete in A never touch objects labelled for another home"
else not_ok "A's doctor --fix / delete touched another home's objects"; fi
docker rm -f "airlock-$run-alien" >/dev/null 2>&1
AIRLOCK_HOME=$home_b a del-xb delete --force --delete-branch "$run-x"
[ "$rc" -eq 0 ] && ok "B deletes its own session" || not_ok "delete in B (exit $rc): $(short "$aerr")"

# ==== 2. a non-root user, an image whose /home/agent is root's 0755 ==================================
if ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null || [ "$(id -u)" -ne 0 ] || ! getent group docker >/dev/null; then
  echo "# SKIP the non-root user checks: need root, useradd, setpriv and a docker group"
else
  printf 'FROM %s\nRUN mkdir -p /home/agent /var/cache && chown 0:0 /home/agent && chmod 0755 /home/agent\n' "$BUSYBOX_IMAGE" \
    | DOCKER_BUILDKIT=0 docker build -q -t "$rootless_image" - >"$logs/build-rootless.out" 2>&1 \
    || { echo "Bail out! docker build $rootless_image: $(tail -3 "$logs/build-rootless.out")"; exit 1; }
  useradd -M -N -g docker -s /bin/sh "$testuser"
  uid=$(id -u "$testuser"); gid=$(id -g "$testuser")
  uhome=$tmp/home-user
  new_home "$uhome"
  cat >>"$uhome/config.toml" <<TOML

[[cache]]
name = "$run-cache"
target = "/home/agent/.cache/it"

[[cache]]
name = "$run-cache2"
target = "/var/cache/it2"
TOML
  sed -i "s|^image = .*|image = \"$rootless_image\"|" "$uhome/config.toml"
  urepo=$tmp/repo-user
  new_repo "$urepo"
  chown -R "$uid:$gid" "$uhome" "$urepo"
  asuser() { setpriv --reuid="$uid" --regid="$gid" --init-groups env HOME="$uhome" AIRLOCK_HOME="$uhome" "$@"; }
  for n in 1 2; do
    [ "$n" = 2 ] && { docker volume rm -f "airlock-cache-$run-cache" "airlock-cache-$run-cache2" >/dev/null; }  # as after clean-cache
    set +e
    asuser "$bin" create --agent shell --name "$run-u$n" --repo "$urepo" \
      --prompt 'touch $HOME/h /home/agent/.cache/it/c /var/cache/it2/c && mkdir $HOME/.cache/mine && echo WROTE; sleep 300' >"$logs/u$n.out" 2>"$logs/u$n.err"
    urc=$?
    set -e
    c=airlock-$run-u$n-$(cat "$uhome/home-id")
    for _ in $(seq 50); do docker logs "$c" 2>&1 | grep -q WROTE && break; sleep 0.1; done
    if [ "$urc" -eq 0 ] && docker logs "$c" 2>&1 | grep -q WROTE; then
      ok "uid $uid ($([ "$n" = 1 ] && echo "first use" || echo "after the cache volumes were removed")): the agent writes its home, both caches and ~/.cache (made by the engine for a nested cache)"
    else not_ok "uid $uid, run $n (exit $urc): $(short "$(cat "$logs/u$n.err")") logs: $(docker logs "$c" 2>&1 | tail -3 | tr '\n' '|')"; fi
    set +e; asuser "$bin" delete --force --delete-branch "$run-u$n" >/dev/null 2>&1; set -e
  done
  asuser "$bin" proxy stop --grace 1 >/dev/null 2>&1 || true
  docker volume rm -f "airlock-cache-$run-cache2" >/dev/null 2>&1 || true
fi

AIRLOCK_HOME=$home_a a doctor-end doctor
leftover=$(docker ps -aq --filter "label=dev.airlock.home-id=$(cat "$home_a/home-id")")
[ -z "$leftover" ] && ok "no container of home A is left" || not_ok "containers of home A left: $leftover"
finish
