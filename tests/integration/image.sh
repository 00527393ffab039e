#!/usr/bin/env bash
# `airlock image build` against the real engine: the Dockerfile carried in the binary, a tar
# context airlock writes, the agents staged with npm on the host. Offline there is no
# registry, so the base is the local debootstrap image (tests/images/build-images) and the
# test builds Codex only (the smallest set that proves the agent path). The engine's layer
# cache and airlock's content-hash label keep later runs quick.
# Run it under the shared lock: flock /tmp/airlock-docker.lock meson test -C build image
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=${AIRLOCK_BIN:?set AIRLOCK_BIN to the airlock binary}
require_docker
command -v npm >/dev/null || { echo "skip: npm not installed on the host"; exit 77; }
base=airlock-test/agent:latest
docker image inspect "$base" >/dev/null 2>&1 || { echo "Bail out! $base is missing: run tests/images/build-images"; exit 1; }

tmp=$(mktemp -d)
tag=airlock-test/built-agent:latest
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
export AIRLOCK_HOME=$tmp/home
# The staged agents are cached per home: share one cache between runs (and with agents.sh).
cache=${AIRLOCK_TEST_AGENT_CACHE:-${AIRLOCK_TEST_CACHE:-/var/cache/airlock-test}/airlock-cache}
mkdir -p "$AIRLOCK_HOME" "$cache"
ln -s "$cache" "$AIRLOCK_HOME/cache"

# ---- bad input: one line, exit 2, nothing built --------------------------------------------
expect "an unknown agent is a usage error" 2 "unknown agent 'aider'; use some of claude,codex,gemini" \
  "$bin" image build --agents aider --tag "$tag"
expect "a bad version is a usage error" 2 "is not an npm version" "$bin" image build --version 'codex=1;rm' --tag "$tag"

# ---- the build -------------------------------------------------------------------------------
run_capture "$bin" image build --base "$base" --agents codex --tag "$tag" --force  # a tag left by an earlier run would be "up to date"
if [ "$rc" -eq 0 ] && grep -q '^Step [0-9]*/[0-9]* : FROM' <<<"$out" && grep -q "^built $tag (sha256:" <<<"$out"; then
  ok "image build streams the engine's steps and reports the image"
else not_ok "image build (exit $rc): $(tail -c 1500 <<<"$out")"; fi
check "the image carries the content-hash label" \
  sh -c "docker image inspect '$tag' --format '{{index .Config.Labels \"dev.airlock.image-hash\"}}' | grep -Eq '^[0-9a-f]{64}$'"
id1=$(docker image inspect "$tag" --format '{{.Id}}')

# As airlock runs it: the host user's uid (not 1000), HOME on /home/agent, the engine's init.
run_capture docker run --rm --init --user 4242:4242 -e HOME=/home/agent "$tag" sh -c \
  'codex --version && git --version && rg --version && jq --version && python3 --version && node --version && npm --version && curl --version >/dev/null && touch /home/agent/x && pwd'
if [ "$rc" -eq 0 ] && grep -q '^codex-cli ' <<<"$out" && grep -q '^ripgrep ' <<<"$out" && grep -q '^jq-' <<<"$out" &&
   grep -q '^/workspace$' <<<"$out"; then
  ok "the image runs codex, git, rg, jq, python3, node, npm as an arbitrary uid with a writable home"
else not_ok "image contents (exit $rc): $out"; fi
check "the image's user is not root" sh -c "[ \"\$(docker image inspect '$tag' --format '{{.Config.User}}')\" = agent ]"

# ---- cached: a second run changes nothing ----------------------------------------------------
expect "a second build is skipped by content hash" 0 "^$tag is up to date \(content hash [0-9a-f]{12}\)" \
  "$bin" image build --base "$base" --agents codex --tag "$tag"
check "the image is the same one" test "$(docker image inspect "$tag" --format '{{.Id}}')" = "$id1"

# ---- --json: the engine's events, one JSON object per line -----------------------------------
"$bin" image build --base "$base" --agents codex --tag "$tag" --force --json >"$tmp/events.jsonl" 2>"$tmp/events.err" && rc=0 || rc=$?
if [ "$rc" -eq 0 ] && python3 - "$tmp/events.jsonl" <<'PY'
import json, sys
events = [json.loads(line) for line in open(sys.argv[1])]
assert any("stream" in e and e["stream"].startswith("Step ") for e in events), "no stream event"
assert any(e.get("aux", {}).get("ID", "").startswith("sha256:") for e in events), "no aux ID"
assert any(str(e.get("airlock", "")).startswith("built ") for e in events), "no airlock line"
PY
then ok "--json prints only JSON events (engine steps, the image ID, airlock's lines)"
else not_ok "--json (exit $rc): $(head -c 800 "$tmp/events.jsonl") $(head -c 400 "$tmp/events.err")"; fi

# ---- create/doctor with the default image missing --------------------------------------------
if ! docker image inspect airlock/agent:latest >/dev/null 2>&1; then
  "$bin" ca init >/dev/null
  run_capture "$bin" doctor
  if grep -q "PROBLEM  default image airlock/agent:latest is not present" <<<"$out" &&
     grep -q "fix: run 'airlock image build'" <<<"$out"; then
    ok "doctor: the default image missing says run 'airlock image build'"
  else not_ok "doctor on the missing default image: $out"; fi
  git init -q "$tmp/repo" && git -C "$tmp/repo" -c user.name=t -c user.email=t@t commit -q --allow-empty -m init
  run_capture sh -c "cd '$tmp/repo' && '$bin' create --agent shell --prompt true"
  if [ "$rc" -eq 1 ] && grep -q "image airlock/agent:latest is not present; run 'airlock image build'" <<<"$out" &&
     [ "$(wc -l <<<"$out")" -eq 1 ] && [ -z "$(docker ps -aq --filter label=dev.airlock.home="$AIRLOCK_HOME")" ]; then
    ok "create: the default image missing says run 'airlock image build', creates nothing"
  else not_ok "create with the default image missing (exit $rc): $out"; fi
else
  echo "# airlock/agent:latest exists on this engine: the missing-default-image checks are skipped"
fi
cat >"$AIRLOCK_HOME/config.toml" <<'TOML'
[docker]
image = "airlock-test/never-built:latest"
TOML
run_capture "$bin" doctor
if grep -q "default image airlock-test/never-built:latest is not present" <<<"$out" && grep -q "docker pull" <<<"$out"; then
  ok "doctor: a user's image that is missing says docker pull"
else not_ok "doctor on a missing user image: $out"; fi
finish
