#!/usr/bin/env bash
# shellcheck disable=SC2016  # container commands are single-quoted on purpose
# The real agents, inside real sessions: Claude Code, Codex and Gemini CLI as npm ships them,
# in the image `airlock image build` makes, each in its own confined session (no network but
# the relay to the proxy), run non-interactively with one prompt against local stand-ins for
# their APIs (agent_apis.py: its own CA made here, reached through [proxy.resolve], so the
# CLIs talk to the real host names), each as the agent of its session with airlock's built-in
# definition (env and files in the session's home) and only the command made non-interactive
# (claude -p, codex exec, gemini -p). Each must print the stand-in's answer; every request the
# stand-in saw must carry the real key and never the placeholder; Codex is run twice, once
# over its default WebSocket transport (permessage-deflate negotiated end to end) and once
# with the upgrade refused, over HTTPS SSE; Claude Code runs a Bash tool call its stand-in
# asks for and commits; nothing in a container (`docker inspect`: env, mounts, labels; the
# files in its home volume, /tmp and worktree) may hold a secret. Then the three built-in
# agents run once more as airlock starts them (interactive, nobody attached) and must get past
# sign-in, trust and onboarding to send the prompt.
#
# Offline there is no registry for a base image: the base is the local debootstrap trixie
# image (tests/images/build-images agent-trixie; Gemini CLI needs node >= 20). The agents come
# from npm, staged by `airlock image build` under $AIRLOCK_HOME/cache/agents, which here is a
# shared cache (AIRLOCK_TEST_AGENT_CACHE, default $AIRLOCK_TEST_CACHE/airlock-cache) so a
# second run reinstalls nothing, and the built image is reused by its content hash.
# Needs an engine, npm on the host. Run it under the shared lock:
#   flock -o /tmp/airlock-docker.lock meson test -C build agents
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bin=${AIRLOCK_BIN:?set AIRLOCK_BIN to the airlock binary}
root=${AIRLOCK_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}

require_docker
for tool in npm openssl python3 git; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed"; exit 77; }
done
base=airlock-test/agent-trixie:latest
docker image inspect "$base" >/dev/null 2>&1 || "$root/tests/images/build-images" agent-trixie >&2 \
  || { echo "Bail out! cannot build $base (tests/images/build-images agent-trixie)"; exit 1; }
tag=airlock-test/agents:latest

tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
logs=$tmp/airlock-output
mkdir -p "$logs" "$tmp/out"
export AIRLOCK_HOME=$tmp/home
mkdir -p "$AIRLOCK_HOME"
hid=a$(printf '%09d' $$ | tail -c 9)   # containers are airlock-<session>-<hid>
echo "$hid" >"$AIRLOCK_HOME/home-id"
cache=${AIRLOCK_TEST_AGENT_CACHE:-${AIRLOCK_TEST_CACHE:-/var/cache/airlock-test}/airlock-cache}
mkdir -p "$cache"
ln -s "$cache" "$AIRLOCK_HOME/cache"
run=ag$$
sessions=()
upstream_pid=
cleanup() {
  set +e
  local s ids
  for s in "${sessions[@]}"; do "$bin" delete --force --delete-branch "$s" >>"$logs/trap.out" 2>>"$logs/trap.err"; done
  "$bin" proxy stop --grace 1 >>"$logs/trap.out" 2>>"$logs/trap.err"
  ids=$(docker ps -aq --filter "label=dev.airlock.home=$AIRLOCK_HOME")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
  ids=$(docker volume ls -q --filter "label=dev.airlock.home=$AIRLOCK_HOME")
  [ -z "$ids" ] || docker volume rm -f $ids >/dev/null 2>&1
  [ -z "$upstream_pid" ] || kill "$upstream_pid" 2>/dev/null
  if [ "${AIRLOCK_TEST_KEEP:-}" = 1 ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- the image -------------------------------------------------------------------------------
run_capture "$bin" image build --base "$base" --tag "$tag"
if [ "$rc" -eq 0 ]; then ok "airlock image build --base $base (all three agents): $(tail -n 1 <<<"$out")"
else echo "Bail out! image build failed (exit $rc): $(tail -c 2000 <<<"$out")"; exit 1; fi
versions=$(docker run --rm --network none "$tag" sh -c 'claude --version; codex --version; gemini --version; node --version' 2>&1 | tr '\n' ' ')
echo "# agents in $tag: $versions"

# ---- the stand-ins: one TLS listener for every API host, its own CA ---------------------------
hosts="api.anthropic.com api.openai.com chatgpt.com generativelanguage.googleapis.com"
( cd "$tmp/out"
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key
  openssl req -x509 -new -key ca.key -subj "/CN=agent stand-in CA $run" -days 1 -out ca.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
  openssl ecparam -name prime256v1 -genkey -noout -out api.key
  openssl req -new -key api.key -subj /CN=api.anthropic.com -out api.csr
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$(printf 'DNS:%s,' $hosts | sed 's/,$//')" >ext
  openssl x509 -req -in api.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext -out api.pem
) >"$logs/certs.log" 2>&1
answer="stand-in answer $run-$RANDOM"
api_log=$tmp/out/api.jsonl
refuse=$tmp/out/refuse-ws
decline=$tmp/out/decline-deflate
: >"$api_log"
python3 "$here/agent_apis.py" --cert "$tmp/out/api.pem" --key "$tmp/out/api.key" --port 0 \
  --port-file "$tmp/out/api.port" --log "$api_log" --answer "$answer" --refuse-ws-file "$refuse" \
  --decline-deflate-file "$decline" \
  --bash 'echo "written by Claude Code" >NOTES.md && git add NOTES.md && git commit -qm "agent: add notes" && git log --oneline -1' \
  >"$logs/agent_apis.log" 2>&1 &
upstream_pid=$!
for _ in $(seq 100); do [ -s "$tmp/out/api.port" ] && break; sleep 0.1; done
api_port=$(cat "$tmp/out/api.port")

# The real keys, each only in a 0600 file on the host.
mkdir -p "$AIRLOCK_HOME/secrets"
declare -A secret
secret[anthropic]=sk-ant-api03-real-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
secret[openai]=sk-proj-real-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
secret[gemini]=AIzaReal$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
for name in anthropic openai gemini; do
  printf '%s\n' "${secret[$name]}" >"$AIRLOCK_HOME/secrets/$name"
  chmod 600 "$AIRLOCK_HOME/secrets/$name"
done
{
  cat <<TOML
[docker]
image = "$tag"
pull_policy = "never"

[proxy]
port = $(free_port)
upstream_ca = "$tmp/out/ca.pem"

[proxy.resolve]
TOML
  for h in $hosts; do echo "\"$h:443\" = \"127.0.0.1:$api_port\""; done
  for name in anthropic openai gemini; do
    printf '\n[[credential]]\nname = "%s"\npreset = "%s"\nsecret = { file = "secrets/%s" }\n' "$name" "$name" "$name"
  done
} >"$AIRLOCK_HOME/config.toml"

export GIT_AUTHOR_NAME="airlock test" GIT_AUTHOR_EMAIL=test@airlock.invalid
export GIT_COMMITTER_NAME="airlock test" GIT_COMMITTER_EMAIL=test@airlock.invalid
repo=$tmp/repo
git init -q "$repo"
echo "# agents" >"$repo/README.md"
git -C "$repo" add -A
git -C "$repo" commit -q -m initial

# ---- the sessions ----------------------------------------------------------------------------
# Each agent runs as a session's agent: airlock's built-in definition (its env and the files
# it writes into the session's home: Codex's auth.json and config.toml, Gemini's settings.json
# and GEMINI_CLI_TRUST_WORKSPACE, Claude Code's onboarding state), with only the command
# changed to the CLI's non-interactive form, so each answers the one prompt and exits. Claude
# Code's stand-in first asks it to run a Bash command that commits in the worktree.
cat >>"$AIRLOCK_HOME/config.toml" <<'TOML'

[agent.claude]
command = ["claude", "--dangerously-skip-permissions", "-p"]

[agent.codex]
command = ["codex", "exec"]

[agent.gemini]
command = ["gemini", "-p"]
TOML
prompt="Reply with one short greeting."
start_session() {  # start_session NAME AGENT: create the session (the agent starts at once)
  local s=$run-$1
  sessions+=("$s")
  "$bin" create --agent "$2" --name "$s" --repo "$repo" --prompt "$prompt" >"$logs/create-$1.out" 2>"$logs/create-$1.err" ||
    not_ok "create $s (--agent $2): $(cat "$logs/create-$1.err")"
}
wait_agent() {  # wait_agent NAME: until the agent (the container's process) has exited, at most ~180 s
  local c=airlock-$run-$1-$hid
  for _ in $(seq 360); do
    [ "$(docker inspect -f '{{.State.Running}}' "$c" 2>/dev/null)" = true ] || return 0
    sleep 0.5
  done
  return 1
}
agent_rc() { docker inspect -f '{{.State.ExitCode}}' "airlock-$run-$1-$hid" 2>&1; }
agent_report() { echo "exit $(agent_rc "$1"), output: $(docker logs "airlock-$run-$1-$hid" 2>&1 | tail -c 1500)"; }

start_session claude claude
start_session gemini gemini
start_session codex-ws codex
for a in claude gemini codex-ws; do wait_agent "$a" || true; done
touch "$decline"  # the stand-in accepts the upgrade but declines permessage-deflate
start_session codex-plain codex
wait_agent codex-plain || true
rm -f "$decline"
touch "$refuse"   # the stand-in refuses the WebSocket upgrade
start_session codex-sse codex
wait_agent codex-sse || true
rm -f "$refuse"

for a in claude gemini codex-ws codex-plain codex-sse; do
  api=$a
  case $a in claude) api=anthropic ;; codex-*) api=openai ;; esac
  run_capture "$bin" logs "$run-$a"
  if [ "$(agent_rc "$a")" = 0 ] && grep -qF "$answer ($api)" <<<"$out"; then
    ok "$a: the real CLI, as the agent of a confined session, printed the stand-in's answer (airlock logs)"
  else not_ok "$a printed the stand-in's answer: $(agent_report "$a")"; fi
done

for _ in $(seq 50); do git -C "$repo" rev-parse -q --verify "airlock/$run-claude" >/dev/null && break; sleep 0.2; done
if [ "$(git -C "$repo" log -1 --format=%s "airlock/$run-claude" 2>/dev/null)" = "agent: add notes" ] &&
   [ "$(git -C "$repo" show "airlock/$run-claude:NOTES.md" 2>/dev/null)" = "written by Claude Code" ]; then
  ok "claude: its Bash tool ran the stand-in's command in the worktree, and the commit is on airlock/$run-claude"
else not_ok "claude's commit on airlock/$run-claude: $(git -C "$repo" log --oneline -3 "airlock/$run-claude" 2>&1 | tr '\n' '|')"; fi

# ---- the built-in agents as they are: interactive, in the session's terminal ----------------
# Without the command overrides each CLI starts its interactive UI with the prompt as the first
# message; nobody is attached. It must get past sign-in, trust and onboarding on its own: the
# stand-in then receives the prompt from each.
python3 - "$AIRLOCK_HOME/config.toml" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
open(path, "w").write(text[:text.index("\n[agent.claude]")] + "\n")
PY
interactive_prompt="Say hello from the interactive $run session."
for a in claude codex gemini; do
  sessions+=("$run-i-$a")
  "$bin" create --agent "$a" --name "$run-i-$a" --repo "$repo" --prompt "$interactive_prompt" \
    >"$logs/create-i-$a.out" 2>"$logs/create-i-$a.err" || not_ok "create $run-i-$a: $(cat "$logs/create-i-$a.err")"
done
prompted() {  # prompted API: the stand-in got a model request for API holding the interactive prompt
  python3 - "$api_log" "$1" "$interactive_prompt" <<'PY'
import json, sys
log, api, prompt = sys.argv[1:]
for line in open(log):
    r = json.loads(line)
    body = r.get("message") if r.get("transport") == "websocket-message" else r.get("body")
    if r.get("api") == api and prompt in json.dumps(body):
        sys.exit(0)
sys.exit(1)
PY
}
for a in claude:anthropic codex:openai gemini:gemini; do
  for _ in $(seq 120); do prompted "${a#*:}" && break; sleep 0.5; done
  if prompted "${a#*:}"; then
    ok "${a%%:*} (built-in, interactive): started without a sign-in, trust or onboarding prompt and sent the prompt"
  else not_ok "${a%%:*} (built-in, interactive) sent the prompt: $(docker logs "airlock-$run-i-${a%%:*}-$hid" 2>&1 | tail -c 800 | tr -cd '[:print:]\n')"; fi
done

# ---- what the stand-ins saw ------------------------------------------------------------------
python3 - "$api_log" "${secret[anthropic]}" "${secret[openai]}" "${secret[gemini]}" >"$tmp/out/verdicts" <<'PY' || true
import json, sys
log, real = sys.argv[1], {"anthropic": sys.argv[2], "openai": sys.argv[3], "gemini": sys.argv[4]}
placeholders = ["sk-ant-api03-airlock-placeholder", "sk-airlock-placeholder", "airlock-placeholder"]
records = [json.loads(line) for line in open(log)]
requests = [r for r in records if "headers" in r]
def hdr(r, name):
    return [v for k, v in r["headers"] if k.lower() == name]
want = {"anthropic": ("x-api-key", "{}"), "openai": ("authorization", "Bearer {}"), "gemini": ("x-goog-api-key", "{}")}
def verdict(name, good, detail=""):
    print(("ok - " if good else "not ok - ") + name + (f" ({detail})" if detail and not good else ""))
hosts = {"anthropic": ["api.anthropic.com"], "openai": ["api.openai.com"],
         "gemini": ["generativelanguage.googleapis.com"]}
for api, (header, template) in want.items():
    seen = [r for r in requests if r["host"] in hosts[api]]
    bad = [(r["method"], r["target"], hdr(r, header)) for r in seen if hdr(r, header) != [template.format(real[api])]]
    verdict(f"{api}: every request the stand-in saw for {'/'.join(hosts[api])} ({len(seen)}) carries the real key in {header}",
            bool(seen) and not bad, f"bad: {bad[:3]}")
text = json.dumps(requests)
verdict("no request the stand-ins saw holds a placeholder key anywhere", not any(p in text for p in placeholders),
        [p for p in placeholders if p in text])
# Anthropic: Messages with SSE.
verdict("anthropic: claude -p streamed /v1/messages (stream: true)",
        any(r["api"] == "anthropic" and r["target"].startswith("/v1/messages") and (r["body"] or {}).get("stream") for r in requests))
# Gemini: streamGenerateContent?alt=sse.
verdict("gemini: gemini -p called :streamGenerateContent?alt=sse",
        any(r["api"] == "gemini" and ":streamGenerateContent" in r["target"] and "alt=sse" in r["target"] for r in requests))
# OpenAI: one WebSocket session with response.create messages, compressed; then HTTPS SSE.
ups = [r for r in requests if r["api"] == "openai" and r["transport"] == "websocket"]
accepted = [r for r in records if r.get("transport") == "websocket-accepted"]
messages = [r for r in records if r.get("transport") == "websocket-message"]
creates = [m for m in messages if (m.get("message") or {}).get("type") == "response.create"]
verdict("codex: WebSocket upgrade to /v1/responses through the proxy, key injected on the upgrade",
        bool(ups) and bool(accepted) and bool(creates))
offers = {v for r in ups for v in hdr(r, "sec-websocket-extensions")}
verdict("codex: permessage-deflate offered by codex reached the stand-in untouched and was negotiated",
        any("permessage-deflate" in o for o in offers) and any((a.get("extensions") or "").startswith("permessage-deflate") for a in accepted),
        f"offers {offers}, accepted {[a.get('extensions') for a in accepted]}")
verdict("codex: its response.create messages arrived compressed (RSV1) and inflated",
        any(m.get("compressed") for m in creates), f"{[m.get('compressed') for m in creates]}")
declined = [a for a in accepted if not a.get("extensions")]
verdict("codex: with permessage-deflate declined it spoke uncompressed frames over the same proxy",
        bool(declined) and any(not m.get("compressed") for m in creates))
refused = [r for r in records if r.get("transport") == "websocket-refused"]
posts = [r for r in requests if r["api"] == "openai" and r["method"] == "POST" and r["target"].startswith("/v1/responses")]
verdict("codex: with the upgrade refused it fell back to HTTPS SSE POST /v1/responses",
        bool(refused) and bool(posts) and all((p["body"] or {}).get("stream") for p in posts))
for r in requests:
    print(f"# stand-in saw: {r['api']} {r['transport']} {r['method']} {r['target'][:100]} {r['host']}")
PY
cat "$tmp/out/verdicts"
fails=$((fails + $(grep -c '^not ok' "$tmp/out/verdicts" || true)))
grep -q '^ok - anthropic' "$tmp/out/verdicts" || not_ok "the stand-in log could be read"

# What else the agents reached for (the proxy tunnels hosts without a rule; offline they fail).
python3 - "$AIRLOCK_HOME/audit.jsonl" <<'PY' || true
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("decision") != "intercept":
        print(f"# audit: {r.get('client')} {r.get('method')} {r.get('host')} {r.get('decision')} {r.get('status')} {r.get('error', '')[:60]}")
PY

# ---- no secret inside -------------------------------------------------------------------------
for a in claude gemini codex-ws codex-plain codex-sse; do
  c=airlock-$run-$a-$hid
  if ! docker inspect "$c" >/dev/null 2>&1; then not_ok "$a: no container to search for secrets"; continue; fi
  docker inspect "$c" >"$tmp/out/inspect-$a.json"
  docker cp "$c:/tmp" - >"$tmp/out/tmp-$a.tar" 2>/dev/null || true
  docker run --rm --network none --user "$(id -u):$(id -g)" -v "airlock-home-$run-$a-$hid:/h:ro" --entrypoint tar "$tag" -C /h -cf - . \
    >"$tmp/out/home-$a.tar" 2>"$logs/home-$a.err" || true
  leaks=""
  for name in anthropic openai gemini; do
    s=${secret[$name]}
    grep -qF "$s" "$tmp/out/inspect-$a.json" && leaks="$leaks inspect(env, mounts, labels):$name"
    grep -aqF "$s" "$tmp/out/home-$a.tar" && leaks="$leaks home-volume:$name"
    grep -aqF "$s" "$tmp/out/tmp-$a.tar" && leaks="$leaks /tmp:$name"
    grep -rqsF "$s" "$AIRLOCK_HOME/worktrees/$run-$a" && leaks="$leaks worktree:$name"
  done
  if [ -s "$tmp/out/home-$a.tar" ] && [ -z "$leaks" ]; then
    ok "$a: no secret in the container's configuration (env, mounts, labels), its home volume, /tmp or the worktree"
  else not_ok "$a: secret found:$leaks (home volume archive: $(wc -c <"$tmp/out/home-$a.tar") bytes)"; fi
done
check "the session homes hold what the built-in definitions write (Codex auth.json with the placeholder, Gemini and Claude Code settings)" sh -c "
  tar -tf '$tmp/out/home-codex-ws.tar' | grep -qx './.codex/auth.json' &&
  tar -xOf '$tmp/out/home-codex-ws.tar' ./.codex/auth.json | grep -q 'sk-airlock-placeholder' &&
  tar -tf '$tmp/out/home-gemini.tar' | grep -qx './.gemini/settings.json' &&
  tar -tf '$tmp/out/home-claude.tar' | grep -qx './.claude.json'"
check "the audit line of Codex's WebSocket has its lifetime and the bytes each way (written at close)" python3 -c "
import json, sys
lines = [json.loads(l) for l in open('$AIRLOCK_HOME/audit.jsonl')]
ws = [l for l in lines if l.get('client') == '$run-codex-ws' and l.get('status') == 101]
sys.exit(0 if ws and all(l['bytes_up'] > 0 and l['bytes_down'] > 0 for l in ws) else 1)"
check "the audit log names the three API hosts and holds no secret" sh -c "
  for h in api.anthropic.com api.openai.com generativelanguage.googleapis.com; do grep -q \"\$h\" '$AIRLOCK_HOME/audit.jsonl' || exit 1; done
  ! grep -qF -e '${secret[anthropic]}' -e '${secret[openai]}' -e '${secret[gemini]}' '$AIRLOCK_HOME/audit.jsonl'"
finish
