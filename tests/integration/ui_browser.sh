#!/usr/bin/env bash
# shellcheck disable=SC2016  # container commands are single-quoted on purpose
# The dashboard in a real browser: `airlock ui` against a real Docker engine, a running proxy
# and a local TLS upstream standing in for api.anthropic.com (credential rule "anthropic"),
# driven in Debian's headless chromium by tests/browser/ui_browser.cjs (puppeteer-core):
# sign in with the one-time URL, create a session through the form (local test image, pull
# policy never), see it running, type into its terminal and see the output, follow the
# window's size, make a request through the proxy from the terminal and see it in the
# timeline with its credential rule (and a refused one highlighted), logs, the branch's commit
# and diff, the proxy view, and delete it through the uncommitted-work confirmation. Around
# it: what the upstream received (the real key), and that nothing reaches the page or the API
# without the cookie.
#
# Screenshots of the main views go to $AIRLOCK_UI_SCREENSHOTS when set (docs/images to
# refresh the documentation's), else into the temp dir.
#
# Needs a Docker engine, the local test images, chromium and node (scripts/setup --test
# installs them; puppeteer-core comes from npm via scripts/npm-modules). Missing: exit 77
# with a banner, or 1 when CI=true.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bin=${AIRLOCK_BIN:?set AIRLOCK_BIN to the airlock binary}
root=${AIRLOCK_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
helpers=$here/session_helpers.py

missing() {
  if [ "${CI:-}" = true ]; then echo "Bail out! $1 (CI=true: not skipping; scripts/setup --test installs it)"; exit 1; fi
  echo "# SKIPPED: $1 (scripts/setup --test installs it)" >&2
  exit 77
}
require_docker
for tool in curl openssl python3 git node; do
  command -v "$tool" >/dev/null || missing "$tool is not installed"
done
chromium=${AIRLOCK_CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || missing "no chromium at $chromium"
modules=$("$root/scripts/npm-modules" "$root/tests/browser") || missing "cannot install puppeteer-core from npm"

AGENT_IMAGE=airlock-test/agent:latest
docker image inspect "$AGENT_IMAGE" >/dev/null 2>&1 || "$root/tests/images/build-images" agent >&2 \
  || { echo "Bail out! cannot build the test images (tests/images/build-images)"; exit 1; }

tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
logs=$tmp/airlock-output
mkdir -p "$logs" "$tmp/out"
run=ui$$
pids=()
export AIRLOCK_HOME=$tmp/home
hid=u$(printf '%09d' $$ | tail -c 9)
mkdir -p "$AIRLOCK_HOME"
echo "$hid" >"$AIRLOCK_HOME/home-id"

cleanup() {
  set +e
  local s ids
  for s in $("$bin" list --json 2>/dev/null | python3 -c 'import json,sys; print(" ".join(s["name"] for s in json.load(sys.stdin)))' 2>/dev/null); do
    "$bin" delete --force --delete-branch "$s" >>"$logs/trap.out" 2>>"$logs/trap.err"
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  "$bin" proxy stop --grace 1 >>"$logs/trap.out" 2>>"$logs/trap.err"
  ids=$(docker ps -aq --filter "label=dev.airlock.home=$AIRLOCK_HOME")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
  ids=$(docker volume ls -q --filter "label=dev.airlock.home=$AIRLOCK_HOME")
  [ -z "$ids" ] || docker volume rm -f $ids >/dev/null 2>&1
  if [ "${AIRLOCK_TEST_KEEP:-}" = 1 ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_file() { for _ in $(seq 150); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }
background() {  # background NAME CMD...: runs CMD (output in $tmp/NAME.log), remembers its pid
  local name=$1; shift
  "$@" >"$tmp/$name.log" 2>&1 </dev/null &
  pids+=($!)
}

# ---- the credential upstream (a local TLS server that answers as api.anthropic.com) --------
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$tmp/test-ca.key" -out "$tmp/test-ca.pem" -days 2 \
  -subj /CN=airlock-test-upstream-ca -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req "${ec[@]}" -keyout "$tmp/api.key" -out "$tmp/api.csr" -subj /CN=api.anthropic.com 2>/dev/null
printf 'subjectAltName=DNS:api.anthropic.com\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >"$tmp/api.ext"
openssl x509 -req -in "$tmp/api.csr" -CA "$tmp/test-ca.pem" -CAkey "$tmp/test-ca.key" -CAcreateserial \
  -days 2 -out "$tmp/api.pem" -extfile "$tmp/api.ext" 2>/dev/null
placeholder='sk-ant-api03-airlock-placeholder'
upstream_log=$tmp/upstream-requests.jsonl
: >"$upstream_log"
background upstream python3 "$helpers" upstream --log "$upstream_log" --placeholder "$placeholder" \
  --cert "$tmp/api.pem" --key "$tmp/api.key" --port 0 --port-file "$tmp/upstream.port"
wait_file "$tmp/upstream.port" || { echo "Bail out! the upstream did not start: $(cat "$tmp/upstream.log")"; exit 1; }
upstream_port=$(cat "$tmp/upstream.port")

# ---- airlock home: config (unmatched hosts are refused, so a refusal can be seen), secret ----
mkdir -p "$AIRLOCK_HOME/secrets"
proxy_port=$(free_port)
cat >"$AIRLOCK_HOME/config.toml" <<TOML
[docker]
image = "$AGENT_IMAGE"
pull_policy = "if-not-present"

[proxy]
port = $proxy_port
upstream_ca = "$tmp/test-ca.pem"
unmatched = "deny"

[proxy.resolve]
"api.anthropic.com:443" = "127.0.0.1:$upstream_port"

[[credential]]
name = "anthropic"
preset = "anthropic"
secret = { file = "secrets/anthropic" }
TOML
secret="sk-ant-api03-REALSECRET-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
(umask 077; printf '%s\n' "$secret" >"$AIRLOCK_HOME/secrets/anthropic")

export GIT_AUTHOR_NAME="airlock test" GIT_AUTHOR_EMAIL=test@airlock.invalid
export GIT_COMMITTER_NAME="airlock test" GIT_COMMITTER_EMAIL=test@airlock.invalid
repo=$tmp/repo
git init -q "$repo"
git -C "$repo" checkout -q -b main
echo "hello" >"$repo/README.md"
git -C "$repo" add -A
git -C "$repo" commit -q -m initial

"$bin" ca init >"$logs/ca-init.out" 2>&1 || { echo "Bail out! airlock ca init: $(cat "$logs/ca-init.out")"; exit 1; }
"$bin" proxy start >"$logs/proxy-start.out" 2>&1 || { echo "Bail out! airlock proxy start: $(cat "$logs/proxy-start.out")"; exit 1; }
ok "the proxy runs"

# Two more sessions made with the CLI, so the table has company: one running, one finished.
"$bin" create --agent shell --name update-docs --repo "$repo" --network none --prompt 'sleep 900' \
  >"$logs/create-docs.out" 2>&1 || { echo "Bail out! create update-docs: $(cat "$logs/create-docs.out")"; exit 1; }
"$bin" create --agent shell --name review-pr-42 --repo "$repo" --prompt 'echo reviewed' \
  >"$logs/create-review.out" 2>&1 || { echo "Bail out! create review-pr-42: $(cat "$logs/create-review.out")"; exit 1; }

# ---- airlock ui ---------------------------------------------------------------------------
ui_port=$(free_port)
background ui "$bin" ui --port "$ui_port" --repo "$repo"
url=
for _ in $(seq 150); do
  url=$(grep -Eo "http://127\.0\.0\.1:$ui_port/\?token=[0-9a-f]+" "$tmp/ui.log" 2>/dev/null | head -n 1 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "Bail out! airlock ui printed no URL: $(head -c 600 "$tmp/ui.log")"; exit 1; }
ok "airlock ui prints its one-time URL"
base=http://127.0.0.1:$ui_port

# Nothing without the cookie: the page, the API, the event stream, a WebSocket.
code() { curl -s -o "$tmp/out/body" -w '%{http_code}' "$@" || true; }
[ "$(code "$base/")" = 401 ] && grep -q 'airlock ui' "$tmp/out/body" \
  && ok "GET / without the cookie: 401, telling to run airlock ui" || not_ok "GET / without the cookie: $(code "$base/") $(head -c 200 "$tmp/out/body")"
[ "$(code "$base/app.js")" = 401 ] && ok "the page's script without the cookie: 401" || not_ok "GET /app.js without the cookie: $(code "$base/app.js")"
[ "$(code "$base/api/sessions")" = 401 ] && ok "GET /api/sessions without the cookie: 401" || not_ok "GET /api/sessions without the cookie: $(code "$base/api/sessions")"
[ "$(code -X POST -H 'Content-Type: application/json' -H "Origin: $base" --data '{}' "$base/api/sessions")" = 401 ] \
  && ok "POST /api/sessions without the cookie: 401" || not_ok "POST /api/sessions without the cookie: $(cat "$tmp/out/body")"
[ "$(code "$base/?token=0000000000000000000000000000000000000000000000000000000000000000")" = 401 ] \
  && ok "a wrong token: 401" || not_ok "a wrong token is refused: $(code "$base/?token=00")"
ws_code=$(code -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
  -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H "Origin: $base" "$base/api/sessions/x/terminal")
[ "$ws_code" = 401 ] && ok "a terminal WebSocket without the cookie: 401" || not_ok "a terminal WebSocket without the cookie: $ws_code"

# ---- the browser ----------------------------------------------------------------------------
shots=${AIRLOCK_UI_SCREENSHOTS:-$tmp/shots}
mkdir -p "$shots"
set +e
NODE_PATH=$modules UI_URL=$url UI_BASE=$base RUN=$run SECRET=$secret CHROMIUM=$chromium SHOTS=$shots REPO=$repo \
  PROFILE=$tmp/chromium-profile AGENT_IMAGE=$AGENT_IMAGE timeout 600 node "$root/tests/browser/ui_browser.cjs" \
  >"$tmp/browser.out" 2>"$tmp/browser.err"
brc=$?
set -e
cat "$tmp/browser.out"
fails=$((fails + $(grep -c '^not ok' "$tmp/browser.out" || true)))
if [ "$brc" -ne 0 ]; then
  not_ok "the browser test ran to its end (exit $brc): $(tail -c 1500 "$tmp/browser.err" | tr '\n' '|')"
  echo "# airlock ui log: $(tail -c 1500 "$tmp/ui.log" | tr '\n' '|')"
fi

# ---- what happened on the far side ----------------------------------------------------------
s=fix-failing-test
if python3 - "$upstream_log" "$secret" <<'PY'
import json, sys
log, secret = sys.argv[1:3]
lines = [json.loads(l) for l in open(log) if l.strip()]
mine = [l for l in lines if l["path"] == "/echo/from-the-browser"]
keys = [v for l in mine for k, v in l["headers"] if k.lower() == "x-api-key"]
sys.exit(0 if mine and keys == [secret] * len(mine) else 1)
PY
then ok "the upstream got the request typed in the browser's terminal, with the real key"
else not_ok "the upstream got /echo/from-the-browser with the real key: $(head -c 600 "$upstream_log")"; fi
"$bin" list --json >"$tmp/out/list.json" 2>&1 || true
grep -q "\"$s\"" "$tmp/out/list.json" && not_ok "the session deleted in the browser is gone from airlock list" \
  || ok "the session deleted in the browser is gone from airlock list"
[ -z "$(docker ps -aq --filter "label=dev.airlock.session=$s" --filter "label=dev.airlock.home=$AIRLOCK_HOME")" ] \
  && ok "its container is gone" || not_ok "its container is gone"
if grep -rqF "$secret" "$tmp/ui.log" "$AIRLOCK_HOME/audit.jsonl" 2>/dev/null; then not_ok "the secret appears in the ui log or the audit"
else ok "the secret appears in neither the ui log nor the audit"; fi
ls "$shots"/*.png >/dev/null 2>&1 && ok "screenshots in $shots: $(cd "$shots" && ls ./*.png | tr '\n' ' ')" || not_ok "no screenshots in $shots"
finish
