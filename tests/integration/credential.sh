#!/usr/bin/env bash
# `airlock credential add|list|remove` and `airlock init` with the real binary: config.toml
# edited with the user's comments kept, a running proxy (real curl, a local TLS upstream behind
# [proxy.resolve]) injecting a credential added a moment ago without a restart, bad input
# refused in one line with exit 2 and config.toml unchanged, doctor naming a missing source.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=${AIRLOCK_BIN:?set AIRLOCK_BIN to the airlock binary}
here=$(cd "$(dirname "$0")" && pwd)
for tool in curl openssl python3; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed"; exit 77; }
done

tmp=$(mktemp -d)
logs=$tmp/airlock-output
mkdir -p "$logs" "$tmp/out" "$tmp/bin"
upstream_pid=
cleanup() {
  set +e
  if [ -n "${AIRLOCK_HOME:-}" ] && [ -f "$AIRLOCK_HOME/proxy.pid" ]; then
    "$bin" proxy stop --grace 2 >>"$logs/stop-trap.out" 2>>"$logs/stop-trap.err"
  fi
  [ -n "$upstream_pid" ] && kill "$upstream_pid" 2>/dev/null
  if [ "${AIRLOCK_TEST_KEEP:-}" = 1 ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sum() { sha256sum "$1" | cut -d' ' -f1; }

# ---- a local TLS upstream for api.anthropic.com and internal.test --------------------------
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$tmp/test-ca.key" -out "$tmp/test-ca.pem" -days 2 \
  -subj /CN=airlock-test-upstream-ca -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req "${ec[@]}" -keyout "$tmp/up.key" -out "$tmp/up.csr" -subj /CN=upstream 2>/dev/null
printf 'subjectAltName=DNS:api.anthropic.com,DNS:internal.test\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >"$tmp/up.ext"
openssl x509 -req -in "$tmp/up.csr" -CA "$tmp/test-ca.pem" -CAkey "$tmp/test-ca.key" -CAcreateserial \
  -days 2 -out "$tmp/up.pem" -extfile "$tmp/up.ext" 2>/dev/null
python3 "$here/upstream.py" --cert "$tmp/up.pem" --key "$tmp/up.key" --port 0 --port-file "$tmp/up.port" \
  >"$tmp/upstream.log" 2>&1 </dev/null &
upstream_pid=$!
for _ in $(seq 100); do [ -s "$tmp/up.port" ] && break; sleep 0.1; done
[ -s "$tmp/up.port" ] || { echo "Bail out! upstream did not start: $(cat "$tmp/upstream.log")"; exit 1; }
port_up=$(cat "$tmp/up.port")

# ---- a home whose config.toml a person wrote --------------------------------------------------
export AIRLOCK_HOME=$tmp/home
mkdir -p "$AIRLOCK_HOME"
"$bin" ca init >/dev/null
proxy_port=$(free_port)
cfg=$AIRLOCK_HOME/config.toml
cat >"$cfg" <<TOML
# My airlock setup -- keep these notes!
#   (tabs and odd spacing on purpose)

[docker]
image   =   "node:22"	# pinned

[proxy]
port=$proxy_port
upstream_ca = "$tmp/test-ca.pem"   # the local test CA
threads = 1
[proxy.resolve]
"api.anthropic.com:443" = "127.0.0.1:$port_up"
"internal.test:443"     = "127.0.0.1:$port_up"

# agents below
[agent.mine]
command = [
  "sh", "-c",   # a multi-line array
]
TOML
chmod 600 "$cfg"
cp "$cfg" "$tmp/original.toml"
original=$(sum "$cfg")

# The proxy gets the key in its environment (as when `airlock create` starts it from a shell).
export AIRLOCK_TEST_ANTHROPIC=sk-ant-real-key-0123456789
placeholder=sk-ant-api03-airlock-placeholder
"$bin" proxy start >"$logs/start.out" 2>&1 || { echo "Bail out! proxy start: $(cat "$logs/start.out")"; exit 1; }
url=$("$bin" proxy client add tester 2>/dev/null)
ca=$AIRLOCK_HOME/ca/ca.pem
# via URL FILE [curl args...]: a request through the proxy, trusting airlock's CA only
via() { local u=$1 f=$2; shift 2; curl -sS --max-time 20 --proxy "$url" --cacert "$ca" "$@" "$u" -o "$f"; }

# Before: no rule for api.anthropic.com, so it is tunnelled (airlock's CA is not presented).
if via https://api.anthropic.com/echo "$tmp/out/before.json" -H "x-api-key: $placeholder" 2>"$tmp/out/before.err"; then
  not_ok "without a rule api.anthropic.com is not intercepted (it was)"
else ok "without a rule api.anthropic.com is not intercepted"; fi

# ---- add: the running proxy injects the new credential, no restart ----------------------------
pid_before=$(cat "$AIRLOCK_HOME/proxy.pid")
expect "credential add --preset --env reloads the running proxy" 0 'the running proxy reloaded' \
  "$bin" credential add anthropic --preset anthropic --env AIRLOCK_TEST_ANTHROPIC
if via https://api.anthropic.com/echo "$tmp/out/after.json" -H "x-api-key: $placeholder" 2>"$tmp/out/after.err" &&
   grep -qF "$AIRLOCK_TEST_ANTHROPIC" "$tmp/out/after.json" && ! grep -qF "$placeholder" "$tmp/out/after.json"; then
  ok "the upstream gets the real key, never the placeholder, right after add"
else not_ok "injection after add: $(cat "$tmp/out/after.err" "$tmp/out/after.json" 2>/dev/null | head -c 600)"; fi
check "the proxy was not restarted" test "$(cat "$AIRLOCK_HOME/proxy.pid")" = "$pid_before"
if head -c "$(stat -c %s "$tmp/original.toml")" "$cfg" | cmp -s - "$tmp/original.toml"; then
  ok "add keeps every byte the user wrote (comments, spacing, tables)"
else not_ok "add changed the user's lines: $(diff "$tmp/original.toml" "$cfg" | head -20)"; fi
check "config.toml keeps its mode 0600" test "$(stat -c %a "$cfg")" = 600
check "config.toml holds the variable's name, not the key" sh -c "! grep -qF '$AIRLOCK_TEST_ANTHROPIC' '$cfg' && grep -q AIRLOCK_TEST_ANTHROPIC '$cfg'"

# --stdin: the secret goes to secrets/<name>, 0600; a custom rule
printf 'internal-secret-42\n' >"$tmp/secret-in"
expect "credential add --host --header --template --stdin" 0 "added credential 'internal'" \
  "$bin" credential add internal --host internal.test --header Authorization --template 'Bearer {secret}' \
  --placeholder-env INTERNAL_TOKEN --stdin <"$tmp/secret-in"
check "the --stdin secret is stored 0600 under secrets/" test "$(stat -c %a "$AIRLOCK_HOME/secrets/internal")" = 600
check "config.toml never holds the --stdin secret" sh -c "! grep -q internal-secret-42 '$cfg'"
if via https://internal.test/echo "$tmp/out/internal.json" 2>"$tmp/out/internal.err" &&
   grep -qF 'Bearer internal-secret-42' "$tmp/out/internal.json"; then
  ok "the custom rule's header reaches its host"
else not_ok "custom rule: $(cat "$tmp/out/internal.err" "$tmp/out/internal.json" 2>/dev/null | head -c 600)"; fi

# ---- list ----------------------------------------------------------------------------------
run_capture "$bin" credential list
if [ "$rc" -eq 0 ] && grep -Eq '^anthropic +api\.anthropic\.com +x-api-key +env AIRLOCK_TEST_ANTHROPIC +ANTHROPIC_API_KEY=sk-ant-api03-airlock-placeholder +20[0-9-]+T' <<<"$out" &&
   grep -Eq '^internal +internal\.test +Authorization +file secrets/internal +INTERNAL_TOKEN=airlock-placeholder +20' <<<"$out"; then
  ok "list: name, hosts, header, source, placeholder, last used from the audit log"
else not_ok "list: $out"; fi
if ! grep -qE 'sk-ant-real|internal-secret' <<<"$out"; then ok "list never shows a secret"; else not_ok "list shows a secret: $out"; fi

# ---- bad input: one line, exit 2, config.toml untouched ----------------------------------------
before=$(sum "$cfg")
bad() {  # bad NAME PATTERN ARGS...
  local name=$1 pattern=$2; shift 2
  run_capture "$bin" "$@" </dev/null
  if [ "$rc" -eq 2 ] && [ "$(wc -l <<<"$out")" -eq 1 ] && grep -Eq -- "$pattern" <<<"$out" && [ "$(sum "$cfg")" = "$before" ]; then
    ok "bad input: $name (exit 2, one line, config.toml unchanged)"
  else not_ok "bad input: $name (exit $rc): $out"; fi
}
bad "no secret source" '--env VAR, --file PATH, --command' credential add openai --preset openai
bad "two secret sources" 'only one secret source \(got --env and --file\)' credential add openai --preset openai --env A --file /x
bad "unknown preset" "unknown preset 'opena'" credential add --preset opena --env OPENAI_API_KEY
bad "missing variable" "environment variable NO_SUCH_VAR_AIRLOCK for credential 'openai' is not set" \
  credential add --preset openai --env NO_SUCH_VAR_AIRLOCK
bad "missing file" "secret file $tmp/nope for credential 'openai' does not exist" \
  credential add --preset openai --file "$tmp/nope"
bad "command not found" "could not run 'no-such-command-airlock' for the secret of credential 'openai'" \
  credential add --preset openai --command "no-such-command-airlock auth token"
bad "unterminated quote" "unterminated" credential add --preset openai --command "op read 'x"
bad "custom rule without header" 'missing --header, --template' credential add x --host x.test --env HOME
bad "bad host" 'hosts\[0\] must be a host name' credential add x --host 'bad host' --header X-Key --template '{secret}' --env HOME
bad "template without {secret}" 'must contain \{secret\}' credential add x --host x.test --header X-Key --template 'Bearer' --env HOME
bad "name taken" "credential 'anthropic' already exists" credential add anthropic --preset anthropic --env HOME
bad "host taken" 'already covered by credential "anthropic"' credential add other --host api.anthropic.com --header X --template '{secret}' --env HOME
bad "bad name" "must be lowercase letters" credential add 'Bad Name' --preset openai --env HOME
bad "empty stdin" 'no secret on standard input' credential add gem --preset gemini --stdin
bad "remove unknown" "no credential named 'nope'" credential remove nope
check "a refused --stdin add leaves no secret file" test ! -e "$AIRLOCK_HOME/secrets/gem"

# ---- a source the proxy does not have: a clear error naming the rule, old rules kept -----------
export ONLY_IN_THIS_SHELL=abc
expect "a reload the proxy refuses is an error naming the rule and the fix" 1 \
  "did not reload.*credential 'shellonly' is not set; export it where the proxy starts" \
  "$bin" credential add shellonly --host shellonly.test --header X-Key --template '{secret}' --env ONLY_IN_THIS_SHELL
if via https://api.anthropic.com/echo "$tmp/out/kept.json" 2>/dev/null && grep -qF "$AIRLOCK_TEST_ANTHROPIC" "$tmp/out/kept.json"; then
  ok "the proxy keeps serving its previous rules after a refused reload"
else not_ok "previous rules kept after a refused reload"; fi
expect "proxy reload reports the proxy's refusal, naming the rule" 1 \
  "did not reload and keeps its previous rules: environment variable ONLY_IN_THIS_SHELL for credential 'shellonly'" \
  "$bin" proxy reload
unset ONLY_IN_THIS_SHELL
run_capture env DOCKER_HOST=unix://$tmp/no-engine.sock "$bin" doctor
if grep -q "PROBLEM  environment variable ONLY_IN_THIS_SHELL for credential 'shellonly' is not set" <<<"$out" &&
   grep -q "fix: export ONLY_IN_THIS_SHELL in the shell that starts the proxy" <<<"$out" &&
   grep -q "ok       credential 'anthropic' (env AIRLOCK_TEST_ANTHROPIC)" <<<"$out"; then
  ok "doctor names the rule whose source is missing, and the fix"
else not_ok "doctor on a missing source: $out"; fi
expect "remove the rule the proxy could not load" 0 "removed credential 'shellonly'.*" "$bin" credential remove shellonly

# ---- remove: comments kept, the proxy stops injecting -------------------------------------------
expect "remove internal removes its secret file too" 0 "removed credential 'internal' and its secret file" \
  "$bin" credential remove internal
check "the --stdin secret file is gone" test ! -e "$AIRLOCK_HOME/secrets/internal"
expect "remove anthropic reloads the proxy" 0 'the running proxy reloaded' "$bin" credential remove anthropic
if cmp -s "$cfg" "$tmp/original.toml"; then ok "add then remove gives back the user's file byte for byte"
else not_ok "round trip changed the file: $(diff "$tmp/original.toml" "$cfg" | head -20)"; fi
if via https://api.anthropic.com/echo "$tmp/out/removed.json" 2>/dev/null; then
  not_ok "after remove api.anthropic.com is no longer intercepted (it still is)"
else ok "after remove api.anthropic.com is no longer intercepted"; fi
expect "list with no rules says how to add one" 0 "no credentials; add one with 'airlock credential add" "$bin" credential list
"$bin" proxy stop --grace 2 >/dev/null

# ---- init: finds what the host has, never shows values ----------------------------------------
export AIRLOCK_HOME=$tmp/init-home
cat >"$tmp/bin/gh" <<'SH'
#!/bin/sh
[ "$1 $2" = "auth token" ] && echo gho_fromghcli_0123456789 && exit 0
exit 1
SH
chmod +x "$tmp/bin/gh"
initenv=(env -u ANTHROPIC_API_KEY -u CLAUDE_CODE_OAUTH_TOKEN -u OPENAI_API_KEY -u GEMINI_API_KEY -u GOOGLE_API_KEY
         -u GH_TOKEN -u GITHUB_TOKEN PATH="$tmp/bin:$PATH" ANTHROPIC_API_KEY=sk-ant-init-value-777
         OPENAI_API_KEY=sk-openai-init-value-888)
run_capture "${initenv[@]}" "$bin" init </dev/null
if [ "$rc" -eq 0 ] && grep -q 'found environment variable ANTHROPIC_API_KEY for anthropic' <<<"$out" &&
   grep -q 'found environment variable OPENAI_API_KEY for openai' <<<"$out" &&
   grep -q 'found command gh auth token for github' <<<"$out" &&
   grep -q "nothing added (no terminal to ask): run 'airlock init --yes'" <<<"$out"; then
  ok "init without a terminal lists what it found and says how to add it"
else not_ok "init listing (exit $rc): $out"; fi
if ! grep -qE 'init-value|gho_fromghcli' <<<"$out"; then ok "init never prints a value"; else not_ok "init printed a value: $out"; fi
check "init without --yes writes nothing" test ! -e "$AIRLOCK_HOME/config.toml"
expect "init --yes --only openai,github adds just those" 0 "added credential 'openai'.*" \
  "${initenv[@]}" "$bin" init --yes --only openai,github
if grep -q 'secret = { env = "OPENAI_API_KEY" }' "$AIRLOCK_HOME/config.toml" &&
   grep -q 'secret = { command = \["gh", "auth", "token"\] }' "$AIRLOCK_HOME/config.toml" &&
   ! grep -q '^preset = "anthropic"' "$AIRLOCK_HOME/config.toml" && ! grep -qE 'init-value|gho_' "$AIRLOCK_HOME/config.toml"; then
  ok "init wrote the openai and github rules (names and commands, no values)"
else not_ok "init --yes result: $(tail -12 "$AIRLOCK_HOME/config.toml")"; fi
check "init started from the commented starter config" grep -q '^# \[docker\]' "$AIRLOCK_HOME/config.toml"
expect "init again: already configured" 0 "OPENAI_API_KEY for openai: already configured" \
  "${initenv[@]}" "$bin" init --only openai,github
expect "init --only with an unknown service is a usage error" 2 "unknown service 'claude'" \
  "${initenv[@]}" "$bin" init --yes --only claude
finish
