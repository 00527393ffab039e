#!/usr/bin/env bash
# shellcheck disable=SC2016  # the attacker's commands are single-quoted on purpose
# The agent cannot change the user's repository beyond its own branch, and running git on the
# host never runs anything the agent wrote. The attacker is a real session's agent, in a real
# container on a real engine, in a repository with a submodule: it moves main, makes tags,
# plants hooks, core.fsmonitor, core.hooksPath, core.pager, include lines and filters in every
# git config and git dir it can reach (the repository's, the submodule's, its own), rewrites
# its work tree's .git file to a git dir of its own, deletes objects. Then the user runs git
# status, checkout, diff and add on the host, in the repository, in the submodule and at the
# root of the session's directory, and airlock diff, show and sync; nothing the agent wrote may
# run (a marker file any payload would create must not exist), git fsck must be clean, every
# ref but airlock/<name> (and airlock's refs/airlock/<name>/*) must be as before, and the
# user's config, hooks, info/, HEAD, index and packed-refs unchanged. The agent's commit still
# reaches airlock/<name>. Then a session created from a linked worktree's subdirectory with
# --base: its commit comes back on top of the base; when the user moves airlock/<name>, sync
# and delete refuse (list notes it) until sync --force. An agent that commits and exits with
# no airlock command running: its commit still arrives when its container stops.
#
# Needs a Docker engine and the local test images (tests/images/build-images); exit 77 without
# an engine (1 under CI=true). Env: AIRLOCK_BIN (required), AIRLOCK_SOURCE_ROOT,
# AIRLOCK_TEST_KEEP=1 keeps the temp dir.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bin=${AIRLOCK_BIN:?set AIRLOCK_BIN to the airlock binary}
root=${AIRLOCK_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}

require_docker
command -v git >/dev/null || { echo "skip: git not installed"; exit 77; }
AGENT_IMAGE=airlock-test/agent:latest
docker image inspect "$AGENT_IMAGE" >/dev/null 2>&1 || "$root/tests/images/build-images" >&2 \
  || { echo "Bail out! cannot build the test images (tests/images/build-images)"; exit 1; }

tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
export AIRLOCK_HOME=$tmp/home
# This home's id, so container names (airlock-<session>-<id>) are known up front.
hid=r$(printf '%09d' $$ | tail -c 9)
mkdir -p "$AIRLOCK_HOME"
echo "$hid" >"$AIRLOCK_HOME/home-id"
s=rs$$-attack
s2=rs$$-linked
s3=rs$$-exits
cleanup() {
  set +e
  "$bin" delete --force "$s" >/dev/null 2>&1
  "$bin" delete --force "$s2" >/dev/null 2>&1
  "$bin" delete --force "$s3" >/dev/null 2>&1
  "$bin" proxy stop --grace 1 >/dev/null 2>&1
  local ids
  ids=$(docker ps -aq --filter "label=dev.airlock.home=$AIRLOCK_HOME")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
  ids=$(docker volume ls -q --filter "label=dev.airlock.home=$AIRLOCK_HOME")
  [ -z "$ids" ] || docker volume rm -f $ids >/dev/null 2>&1
  if [ "${AIRLOCK_TEST_KEEP:-}" = 1 ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$AIRLOCK_HOME"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$AIRLOCK_HOME/config.toml" <<TOML
[docker]
image = "$AGENT_IMAGE"
pull_policy = "never"

[proxy]
port = $port
TOML

# ---- the user's repository, with a submodule ------------------------------------------------
export GIT_AUTHOR_NAME="airlock test" GIT_AUTHOR_EMAIL=test@airlock.invalid
export GIT_COMMITTER_NAME="airlock test" GIT_COMMITTER_EMAIL=test@airlock.invalid
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=$tmp/gitconfig
printf '[protocol "file"]\n\tallow = always\n[advice]\n\tdetachedHead = false\n' >"$GIT_CONFIG_GLOBAL"
lib=$tmp/lib
git init -q -b main "$lib"
echo "lib v1" >"$lib/lib.txt"
git -C "$lib" add -A && git -C "$lib" commit -q -m lib-initial
repo=$tmp/repo
git init -q -b main "$repo"
echo "hello" >"$repo/README.md"
git -C "$repo" add -A && git -C "$repo" commit -q -m initial
git -C "$repo" submodule --quiet add "$lib" libsub
git -C "$repo" commit -q -m "add libsub"
git -C "$repo" tag v1
git -C "$repo" branch feature
gitdir=$repo/.git
subgit=$gitdir/modules/libsub
[ -d "$subgit" ] || { echo "Bail out! the submodule's git dir $subgit was not made"; exit 1; }
marker=$tmp/PWNED     # any payload the agent plants creates this file when it runs on the host
wt=$AIRLOCK_HOME/worktrees/$s

fingerprint() {  # everything of a git dir that must not change: refs, config, hooks, info, HEAD, index, packed-refs
  local d=$1
  (
    cd "$d"
    git --git-dir=. for-each-ref --format='%(refname) %(objectname)' | grep -Ev "^refs/(heads/)?airlock/$s(/| )" || true
    for f in config HEAD index packed-refs info/exclude info/attributes; do
      if [ -e "$f" ]; then echo "$f $(sha256sum <"$f" | cut -c1-64)"; else echo "$f absent"; fi
    done
    find hooks info -type f -printf '%p %s\n' 2>/dev/null | sort
  )
}
fingerprint "$gitdir" >"$tmp/repo.before"
fingerprint "$subgit" >"$tmp/sub.before"
find "$gitdir/objects" "$subgit/objects" -type f | sort >"$tmp/objects.before"

# ---- the attacker ------------------------------------------------------------------------------
# Payloads name host paths: the attacker knows airlock's layout and reads the rest from
# /proc/self/mountinfo; here the test hands them over.
cat >"$tmp/attack.sh" <<ATTACK
G=$gitdir
SUB=$subgit
M=$marker
WT=$wt
ATTACK
cat >>"$tmp/attack.sh" <<'ATTACK'
try() { name=$1; shift; if ( "$@" ) >/dev/null 2>&1; then echo "ATTACK $name: done"; else echo "ATTACK $name: failed"; fi; }
payload="touch $M; false"
cd /workspace
# The legitimate work first: a commit on the session branch, and git log / diff / status.
echo "agent work" > work.txt
if git add work.txt && git commit -q -m "agent: work" && git log --oneline -1 >/dev/null && git diff HEAD~1 --stat >/dev/null \
   && git status --porcelain >/dev/null; then echo "LEGIT commit, log, diff, status: ok"; else echo "LEGIT: failed"; fi
own=$(git rev-parse --git-dir); common=$(git rev-parse --git-common-dir)
echo "AGENT git dir $own, common $common"
# An evil config and git dir of the agent's own, inside the work tree (so at a host path too).
mkdir -p /workspace/.evil/hooks
printf '[core]\n\tfsmonitor = %s\n\thooksPath = %s\n\tpager = %s\n' "$payload" "$WT/.evil/hooks" "$payload" > /workspace/.evil/evil.cfg
printf '#!/bin/sh\ntouch %s\n' "$M" > /workspace/.evil/hooks/post-checkout
cp /workspace/.evil/hooks/post-checkout /workspace/.evil/hooks/pre-commit
chmod +x /workspace/.evil/hooks/*
git init -q /workspace/.evil/repo && git -C /workspace/.evil/repo config core.fsmonitor "$payload"
# The user's repository.
try "move main" git --git-dir="$G" update-ref refs/heads/main HEAD
try "tag" git --git-dir="$G" tag -f airlock-evil HEAD
try "move v1" git --git-dir="$G" tag -f v1 HEAD
try "delete feature" git --git-dir="$G" update-ref -d refs/heads/feature
try "packed-refs" sh -c 'echo "$(git rev-parse HEAD) refs/heads/evil" >> "$1/packed-refs"' - "$G"
try "repo HEAD" sh -c 'echo "ref: refs/heads/evil" > "$1/HEAD"' - "$G"
try "repo index" sh -c ': > "$1/index"' - "$G"
try "repo hook" sh -c 'printf "#!/bin/sh\ntouch %s\n" "$2" > "$1/hooks/post-checkout" && chmod +x "$1/hooks/post-checkout"' - "$G" "$M"
try "repo fsmonitor" git config -f "$G/config" core.fsmonitor "$payload"
try "repo include" sh -c 'printf "[include]\n\tpath = %s\n" "$2" >> "$1/config"' - "$G" "$WT/.evil/evil.cfg"
try "repo info/attributes filter" sh -c 'mkdir -p "$1/info" && echo "* filter=evil diff=evil" > "$1/info/attributes"' - "$G"
try "repo info/exclude" sh -c 'echo "*" >> "$1/info/exclude"' - "$G"
# The submodule's git dir.
try "submodule hook" sh -c 'mkdir -p "$1/hooks" && printf "#!/bin/sh\ntouch %s\n" "$2" > "$1/hooks/post-checkout" && chmod +x "$1/hooks/post-checkout"' - "$SUB" "$M"
try "submodule fsmonitor" git config -f "$SUB/config" core.fsmonitor "$payload"
try "submodule hooksPath" git config -f "$SUB/config" core.hooksPath "$WT/.evil/hooks"
try "submodule pager" git config -f "$SUB/config" core.pager "$payload"
try "submodule include" sh -c 'printf "[include]\n\tpath = %s\n" "$2" >> "$1/config"' - "$SUB" "$WT/.evil/evil.cfg"
try "submodule filter" sh -c 'mkdir -p "$1/info" && echo "* filter=evil" > "$1/info/attributes" && git config -f "$1/config" filter.evil.clean "$2"' - "$SUB" "$payload"
try "submodule move main" git --git-dir="$SUB" update-ref refs/heads/main HEAD
# The session's own git dir (its config and hooks).
try "own hook" sh -c 'printf "#!/bin/sh\ntouch %s\n" "$2" > "$1/hooks/post-checkout" && chmod +x "$1/hooks/post-checkout"' - "$common" "$M"
try "own fsmonitor" git config core.fsmonitor "$payload"
try "own include" sh -c 'printf "[include]\n\tpath = %s\n" "$2" >> "$1/config"' - "$own" "$WT/.evil/evil.cfg"
try "own info/attributes filter" sh -c 'mkdir -p "$1/info" && echo "* filter=evil" > "$1/info/attributes"' - "$own"
for cfg in "$G"/worktrees/*/config.worktree; do try "worktree config" sh -c 'printf "[core]\n\tfsmonitor = %s\n" "$2" >> "$1"' - "$cfg" "$payload"; done
# Redirects: the worktree's .git file, and a commondir in the agent's git dir.
try "rewrite .git file" sh -c 'printf "gitdir: %s\n" "$1" > /workspace/.git' - "$WT/.evil/repo/.git"
try "replace .git" sh -c 'rm -f /workspace/.git && printf "gitdir: %s\n" "$1" > /workspace/.git' - "$WT/.evil/repo/.git"
try "commondir" sh -c 'printf "%s\n" "$2" > "$1/commondir"' - "$own" "$WT/.evil/repo/.git"
# Objects: delete the user's, and the submodule's.
try "delete objects" sh -c 'find "$1/objects" -type f -delete && [ -z "$(find "$1/objects" -type f)" ]' - "$G"
try "delete submodule objects" sh -c 'find "$1/objects" -type f -delete' - "$SUB"
echo ATTACK-DONE
sleep 600
ATTACK

logs=$tmp/logs
mkdir -p "$logs"
al create create --agent shell --name "$s" --repo "$repo" --prompt "$(cat "$tmp/attack.sh")" >/dev/null \
  || { echo "Bail out! create failed: $(tail -3 "$logs/create.err" | tr '\n' '|')"; exit 1; }
for _ in $(seq 240); do docker logs "airlock-$s-$hid" 2>&1 | grep -q ATTACK-DONE && break; sleep 0.5; done
docker logs "airlock-$s-$hid" 2>&1 | tr -d '\r' >"$tmp/agent.log" || true
grep -q ATTACK-DONE "$tmp/agent.log" || { echo "Bail out! the attacker did not finish: $(tail -5 "$tmp/agent.log" | tr '\n' '|')"; exit 1; }
sed 's/^/# /' "$tmp/agent.log" | grep -E '^# (ATTACK|LEGIT|AGENT)' || true
grep -q "LEGIT commit, log, diff, status: ok" "$tmp/agent.log" && ok "inside the container: git commit, log, diff and status work" \
  || not_ok "inside the container: git commit, log, diff and status: $(grep LEGIT "$tmp/agent.log")"
# What "succeeded" inside may have written only into the container's own filesystem (paths
# that are not mounted) or the session's own repository; the host-side checks below decide.
echo "# attacks that wrote something inside: $(grep -E '^ATTACK .*: done$' "$tmp/agent.log" | sed 's/^ATTACK //; s/: done$//' | tr '\n' ',')"
grep -q '^ATTACK rewrite .git file: failed$' "$tmp/agent.log" && grep -q '^ATTACK replace .git: failed$' "$tmp/agent.log" \
  && ok "the work tree's .git file cannot be rewritten or replaced from inside" \
  || not_ok "the agent rewrote its work tree's .git file: $(grep -E '^ATTACK (rewrite|replace) .git' "$tmp/agent.log" | tr '\n' '|')"

# ---- the user, on the host ------------------------------------------------------------------
al stop stop "$s" >/dev/null || not_ok "airlock stop (exit $?)"
# What the agent left, before the user touches anything.
fsck=$(git -C "$repo" fsck --strict --no-dangling --no-progress 2>&1) && [ -z "$fsck" ] && ok "git fsck of the repository is clean" \
  || not_ok "git fsck of the repository: $(head -c 400 <<<"$fsck" | tr '\n' '|')"
fsck=$(git -C "$repo/libsub" fsck --strict --no-dangling --no-progress 2>&1) && [ -z "$fsck" ] && ok "git fsck of the submodule is clean" \
  || not_ok "git fsck of the submodule: $(head -c 400 <<<"$fsck" | tr '\n' '|')"
fingerprint "$gitdir" >"$tmp/repo.after"
fingerprint "$subgit" >"$tmp/sub.after"
cmp -s "$tmp/repo.before" "$tmp/repo.after" && ok "every ref but airlock/$s, and config, hooks, info/, HEAD, index, packed-refs of the repository are as before" \
  || not_ok "the repository changed: $(diff "$tmp/repo.before" "$tmp/repo.after" | grep '^[<>]' | head -8 | tr '\n' '|')"
cmp -s "$tmp/sub.before" "$tmp/sub.after" && ok "the submodule's refs, config, hooks and info/ are as before" \
  || not_ok "the submodule's git dir changed: $(diff "$tmp/sub.before" "$tmp/sub.after" | grep '^[<>]' | head -8 | tr '\n' '|')"
find "$gitdir/objects" "$subgit/objects" -type f | sort >"$tmp/objects.after"
missing=$(comm -23 "$tmp/objects.before" "$tmp/objects.after")
[ -z "$missing" ] && ok "no object file of the repository or the submodule was deleted" \
  || not_ok "object files gone: $(head -3 <<<"$missing" | tr '\n' ' ')"
hostgit() {  # hostgit DIR ARGS...: the user's git, as they would type it (a tty pager would run too)
  local dir=$1; shift
  GIT_PAGER=cat timeout 30 git -C "$dir" "$@" >>"$tmp/hostgit.log" 2>&1 || echo "# host: git -C $dir $* -> exit $?" >>"$tmp/hostgit.log"
}
set +e
echo "user edit" >>"$repo/README.md"
hostgit "$repo" status
hostgit "$repo" diff
hostgit "$repo" add README.md
hostgit "$repo" checkout -q feature
hostgit "$repo" checkout -q main
hostgit "$repo" submodule status
hostgit "$repo" reset -q
git -C "$repo" checkout -q -- README.md 2>/dev/null || true
echo "user edit" >>"$repo/libsub/lib.txt"
hostgit "$repo/libsub" status
hostgit "$repo/libsub" diff
hostgit "$repo/libsub" add lib.txt
hostgit "$repo/libsub" checkout -q -b probe
hostgit "$repo/libsub" checkout -q -
hostgit "$repo/libsub" reset -q
git -C "$repo/libsub" checkout -q -- lib.txt 2>/dev/null || true
git -C "$repo/libsub" branch -q -D probe 2>/dev/null || true
# The session's directory: plain git finds no repository at its root (docs/security.md: use
# airlock diff / show / sync, never plain git, in there).
hostgit "$wt" status
hostgit "$wt" diff
hostgit "$wt" add -A
hostgit "$wt" checkout -q -b probe
set -e
[ ! -e "$marker" ] && ok "git status, diff, add and checkout on the host (repository, submodule, session directory) ran nothing the agent wrote" \
  || not_ok "a payload the agent planted ran on the host: $marker exists ($(tr '\n' '|' <"$tmp/hostgit.log" | head -c 600))"

al diff diff "$s" >"$tmp/diff.out" 2>"$tmp/diff.err" && grep -q '^+agent work' "$tmp/diff.out" \
  && ok "airlock diff shows the agent's committed work" || not_ok "airlock diff: $(head -c 300 "$tmp/diff.err" "$tmp/diff.out" | tr '\n' '|')"
al show show "$s" >"$tmp/show.out" 2>"$tmp/show.err" && grep -q 'agent: work' "$tmp/show.out" \
  && ok "airlock show lists the branch's commits" || not_ok "airlock show: $(head -c 300 "$tmp/show.err" "$tmp/show.out" | tr '\n' '|')"
al sync sync "$s" >"$tmp/sync.out" 2>"$tmp/sync.err" && ok "airlock sync: $(head -1 "$tmp/sync.out")" \
  || not_ok "airlock sync: $(head -c 300 "$tmp/sync.err" | tr '\n' '|')"
[ ! -e "$marker" ] && ok "airlock diff, show and sync ran nothing the agent wrote" || not_ok "$marker exists after airlock diff/show/sync"

[ "$(git -C "$repo" log -1 --format=%s "airlock/$s" 2>/dev/null)" = "agent: work" ] \
  && ok "the agent's commit is on airlock/$s in the user's repository" \
  || not_ok "airlock/$s in the user's repository: $(git -C "$repo" log --oneline -3 "airlock/$s" 2>&1 | tr '\n' '|')"
fsck=$(git -C "$repo" fsck --strict --no-dangling --no-progress 2>&1) && [ -z "$fsck" ] && ok "git fsck is still clean after the sync" \
  || not_ok "git fsck after the sync: $(head -c 400 <<<"$fsck" | tr '\n' '|')"
extra_refs=$(git -C "$repo" for-each-ref --format='%(refname)' | grep -E "airlock" | tr '\n' ' ')
echo "# airlock's refs in the repository: $extra_refs"

al delete delete --force "$s" >/dev/null || not_ok "airlock delete --force (exit $?)"
[ "$(git -C "$repo" log -1 --format=%s "airlock/$s" 2>/dev/null)" = "agent: work" ] && ! git -C "$repo" rev-parse -q --verify "refs/airlock/$s/base" >/dev/null \
  && ok "delete keeps the branch and drops airlock's keep refs" || not_ok "after delete: branch or keep refs wrong"
[ ! -e "$marker" ] && ok "no payload ran at any point" || not_ok "$marker exists at the end"

# ---- create from a linked worktree's subdirectory with --base; refusals of sync and delete ----
s2=rs$$-linked
git -C "$repo" worktree add -q "$tmp/linked" -b linked
mkdir -p "$tmp/linked/deep"
al create2 create --agent shell --name "$s2" --repo "$tmp/linked/deep" --base v1 \
  --prompt 'pwd > /workspace/where.txt; git add -A && git commit -q -m "agent: from linked" && echo COMMITTED; sleep 600' >/dev/null \
  || not_ok "create from a linked worktree's subdirectory with --base v1: $(tail -1 "$logs/create2.err")"
for _ in $(seq 120); do docker logs "airlock-$s2-$hid" 2>&1 | grep -q COMMITTED && break; sleep 0.5; done
al sync2 sync "$s2" >/dev/null || not_ok "sync $s2: $(tail -1 "$logs/sync2.err")"
if [ "$(git -C "$repo" rev-parse "airlock/$s2^" 2>/dev/null)" = "$(git -C "$repo" rev-parse v1)" ] \
   && [ "$(git -C "$repo" show "airlock/$s2:where.txt" 2>/dev/null)" = /workspace/deep ]; then
  ok "create from a linked worktree's subdirectory with --base: starts at v1 in /workspace/deep; the commit comes back"
else not_ok "linked worktree + --base: parent $(git -C "$repo" rev-parse "airlock/$s2^" 2>&1), where $(git -C "$repo" show "airlock/$s2:where.txt" 2>&1)"; fi
# The user commits on airlock/<name> meanwhile: sync and delete refuse, list says so, --force replaces.
mine=$(git -C "$repo" commit-tree -p "airlock/$s2" -m "user: my own" "airlock/$s2^{tree}")
git -C "$repo" update-ref "refs/heads/airlock/$s2" "$mine"
docker exec "airlock-$s2-$hid" sh -c 'cd /workspace && echo more > more.txt && git add more.txt && git commit -q -m "agent: more"' >/dev/null 2>&1 \
  || not_ok "a second commit inside $s2"
set +e
"$bin" sync "$s2" >"$logs/sync3.out" 2>"$logs/sync3.err"; rc=$?
set -e
[ "$rc" -eq 1 ] && grep -q -- '--force' "$logs/sync3.err" && [ "$(git -C "$repo" rev-parse "airlock/$s2")" = "$mine" ] \
  && ok "sync refuses a branch the user moved (one line, names --force); nothing moves" \
  || not_ok "sync after the user moved airlock/$s2: exit $rc, $(tr '\n' '|' <"$logs/sync3.err")"
"$bin" list >/dev/null 2>"$logs/list3.err" || true
grep -q "^note: $s2: .*--force" "$logs/list3.err" && ok "list notes the branch it could not bring across" \
  || not_ok "list's note for $s2: $(tr '\n' '|' <"$logs/list3.err")"
set +e
"$bin" delete "$s2" >"$logs/del3.out" 2>"$logs/del3.err"; rc=$?
set -e
[ "$rc" -eq 1 ] && [ "$(grep -c . "$logs/del3.err")" -eq 1 ] && docker inspect "airlock-$s2-$hid" >/dev/null 2>&1 \
  && ok "delete refuses a session whose commits cannot reach airlock/$s2 ($(cut -c1-90 "$logs/del3.err")...)" \
  || not_ok "delete of unmerged work: exit $rc, $(tr '\n' '|' <"$logs/del3.err")"
al sync4 sync --force "$s2" >/dev/null && [ "$(git -C "$repo" log -1 --format=%s "airlock/$s2")" = "agent: more" ] \
  && ok "sync --force replaces it with the session's branch" || not_ok "sync --force: $(tail -1 "$logs/sync4.err")"
al del4 delete "$s2" >/dev/null && ok "then delete succeeds, keeping airlock/$s2" || not_ok "delete $s2: $(tail -1 "$logs/del4.err")"
git -C "$repo" worktree remove --force "$tmp/linked" 2>/dev/null || true

# An agent that commits and exits on its own, with no airlock command running: its commit
# reaches airlock/<name> when the container stops (the watcher create leaves behind).
al create3 create --agent shell --name "$s3" --repo "$repo" --prompt 'echo done > done.txt && git add done.txt && git commit -q -m "agent: done and exit"' >/dev/null \
  || not_ok "create $s3: $(tail -1 "$logs/create3.err")"
for _ in $(seq 60); do
  [ "$(git -C "$repo" log -1 --format=%s "airlock/$s3" 2>/dev/null)" = "agent: done and exit" ] && break
  sleep 0.5
done
[ "$(git -C "$repo" log -1 --format=%s "airlock/$s3" 2>/dev/null)" = "agent: done and exit" ] \
  && ok "an agent that exits on its own: its commit reaches airlock/$s3 with no airlock command run" \
  || not_ok "the exited agent's commit did not reach airlock/$s3 (container: $(docker inspect -f '{{.State.Status}}' "airlock-$s3" 2>&1))"
al del5 delete "$s3" >/dev/null || not_ok "delete $s3: $(tail -1 "$logs/del5.err")"
[ ! -e "$marker" ] && ok "still no payload ran" || not_ok "$marker exists"
finish
