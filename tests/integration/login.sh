#!/usr/bin/env bash
# Subscription logins through the real proxy, against local stand-ins of the providers
# (login_standin.py: token endpoints and APIs of Claude, ChatGPT and Google on one TLS port,
# a test CA made here, [proxy.resolve]), with 4-second tokens so the proxy refreshes several
# times while two clients (two proxy clients, as two sessions) call all three APIs at once:
#  - `credential add NAME --login P --from FILE` imports each CLI's login file (0600, 0700),
#    bad input is refused in one line with config.toml unchanged;
#  - every API request reached the stand-in with a valid current access token (never the
#    placeholder), each refresh token was spent exactly once, the CLIs' own refreshes were
#    answered by the proxy with placeholders and never reached the provider;
#  - a 401 from the service makes the proxy refresh once;
#  - a refused refresh token: 401 X-Airlock-Error: login-expired, audit, credential list,
#    doctor, and one command fixes it;
#  - no token the stand-in issued appears in proxy.log, the audit log or any airlock output.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=${AIRLOCK_BIN:?set AIRLOCK_BIN to the airlock binary}
here=$(cd "$(dirname "$0")" && pwd)
for tool in curl openssl python3; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed"; exit 77; }
done

tmp=$(mktemp -d)
logs=$tmp/airlock-output
mkdir -p "$logs"
standin_pid=
cleanup() {
  set +e
  if [ -n "${AIRLOCK_HOME:-}" ] && [ -f "$AIRLOCK_HOME/proxy.pid" ]; then
    "$bin" proxy stop --grace 2 >>"$logs/stop-trap.out" 2>>"$logs/stop-trap.err"
  fi
  [ -n "$standin_pid" ] && kill "$standin_pid" 2>/dev/null
  if [ "${AIRLOCK_TEST_KEEP:-}" = 1 ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

. "$here/login_lib.sh"

export AIRLOCK_HOME=$tmp/home
mkdir -p "$AIRLOCK_HOME"
"$bin" ca init >/dev/null
proxy_port=$(free_port)
cfg=$AIRLOCK_HOME/config.toml
login_proxy_config "$proxy_port" >"$cfg"

# ---- import ------------------------------------------------------------------------------
sum() { sha256sum "$1" | cut -d' ' -f1; }
before=$(sum "$cfg")
expect "--login with an unknown provider is refused in one line (exit 2)" 2 "^airlock: (error: )?--login must be claude, chatgpt or google" \
  "$bin" credential add x --login bogus --from "$tmp/host/claude.json"
expect "--login with a secret source is refused, naming the flag" 2 "drop --env" \
  "$bin" credential add x --login chatgpt --env FOO --from "$tmp/host/codex.json"
expect "--from a file that is not there is refused" 2 "no chatgpt login at" \
  "$bin" credential add x --login chatgpt --from "$tmp/host/missing.json"
expect "the wrong provider's file is refused, naming what is missing" 2 "no \"claudeAiOauth\"" \
  "$bin" credential add x --login claude --from "$tmp/host/codex.json"
expect "--from without --login is refused" 2 "--from goes with --login" \
  "$bin" credential add x --preset openai --env X --from "$tmp/host/codex.json"
if [ "$(sum "$cfg")" = "$before" ] && [ ! -e "$AIRLOCK_HOME/logins/x.json" ]; then
  ok "refused imports leave config.toml and logins/ untouched"
else not_ok "refused imports leave config.toml and logins/ untouched"; fi

expect "credential add claude --login claude imports the Claude login" 0 "added credential 'claude': the claude login" \
  al add-claude credential add claude --login claude --from "$tmp/host/claude.json"
expect "credential add gpt --login chatgpt imports the Codex login" 0 "added credential 'gpt': the chatgpt login" \
  al add-gpt credential add gpt --login chatgpt --from "$tmp/host/codex.json"
expect "credential add gem --login google imports the Gemini login" 0 "added credential 'gem': the google login" \
  al add-gem credential add gem --login google --from "$tmp/host/gemini.json"
modes=$(stat -c '%a' "$AIRLOCK_HOME/logins" "$AIRLOCK_HOME/logins/claude.json" "$AIRLOCK_HOME/logins/gpt.json" "$AIRLOCK_HOME/logins/gem.json" | tr '\n' ' ')
if [ "$modes" = "700 600 600 600 " ]; then ok "logins/ is 0700 and each login 0600"; else not_ok "logins/ is 0700 and each login 0600 (got $modes)"; fi
if grep -q 'login = "chatgpt"' "$cfg" && ! grep -q 'real-' "$cfg"; then ok "config.toml names the login, never a token"
else not_ok "config.toml names the login, never a token"; fi

# ---- two clients through several refreshes --------------------------------------------------
al start proxy start >/dev/null
url1=$("$bin" proxy client add s1 | grep -Eo 'http://[^ ]+' | head -1)
url2=$("$bin" proxy client add s2 | grep -Eo 'http://[^ ]+' | head -1)
ca=$AIRLOCK_HOME/ca/ca.pem
python3 "$here/login_client.py" --proxy "$url1" --ca "$ca" --seconds 14 >"$tmp/c1.json" 2>"$tmp/c1.err" &
c1=$!
python3 "$here/login_client.py" --proxy "$url2" --ca "$ca" --seconds 14 >"$tmp/c2.json" 2>"$tmp/c2.err" &
c2=$!
wait $c1 || true
wait $c2 || true
login_verdict "$tmp/c1.json" "$tmp/c2.json"
if python3 - "$AIRLOCK_HOME/logins/gpt.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["refreshes"] >= 2 and r["state"] == "ok" and r["refresh_token"].startswith("real-chatgpt-refresh") else 1)
PY
then ok "the refreshed tokens were written back to logins/gpt.json (rotated refresh token, refresh count)"
else not_ok "the refreshed tokens were written back to logins/gpt.json"; fi
if grep -q "answered by the proxy: the CLI's own token refresh" "$AIRLOCK_HOME/audit.jsonl"; then
  ok "the audit records the CLIs' own refreshes as answered by the proxy"
else not_ok "the audit records the CLIs' own refreshes as answered by the proxy"; fi

# ---- a 401 from the service: one refresh ------------------------------------------------------
# The stand-in answers the next request 401 as if it had revoked the token; the proxy refreshes
# at once (a scheduled refresh in the same instant can take its place: then try again).
n_before=$(standin_state | python3 -c 'import json,sys; print(json.load(sys.stdin)["refreshes"]["claude"])')
first= got=
for attempt in 1 2 3; do
  standin_post "reject-next?provider=claude&n=1"
  first=$(python3 "$here/login_client.py" --proxy "$url1" --ca "$ca" --once claude)
  for _ in $(seq 30); do
    grep -q "login claude: refreshed after a 401" "$AIRLOCK_HOME/proxy.log" && break
    sleep 0.1
  done
  grep -q "login claude: refreshed after a 401" "$AIRLOCK_HOME/proxy.log" && break
done
again=$(python3 "$here/login_client.py" --proxy "$url1" --ca "$ca" --once claude)
case $again in *'"status": 200'*) got=1;; esac
n_after=$(standin_state | python3 -c 'import json,sys; print(json.load(sys.stdin)["refreshes"]["claude"])')
if [[ $first == *'"status": 401'* ]] && [ -n "$got" ] && [ "$n_after" -ge $((n_before + 1)) ] && grep -q "login claude: refreshed after a 401" "$AIRLOCK_HOME/proxy.log"; then
  ok "a 401 to the current token makes the proxy refresh at once; the next request succeeds"
else not_ok "a 401 to the current token makes the proxy refresh at once (first: $first; refreshes $n_before -> $n_after)"; fi

# ---- the refresh token is refused: login-expired, and the one-command fix -------------------------
standin_post "revoke?provider=google"
expired=
for _ in $(seq 80); do
  grep -q '"state":"expired"' "$AIRLOCK_HOME/logins/gem.json" && { expired=1; break; }
  sleep 0.1
done
r=$(python3 "$here/login_client.py" --proxy "$url2" --ca "$ca" --once google)
if [ -n "$expired" ] && [[ $r == *'"status": 401'* ]] && [[ $r == *'"x_airlock_error": "login-expired"'* ]] &&
   [[ $r == *"airlock credential add gem --login google"* ]]; then
  ok "a refused refresh token: the session's request gets 401 X-Airlock-Error: login-expired naming the fix"
else not_ok "a refused refresh token: 401 login-expired (expired=$expired; got $r)"; fi
if grep -Eq '"status":401,.*"rule":"gem","error":"login-expired: ' "$AIRLOCK_HOME/audit.jsonl"; then
  ok "the audit says login-expired"
else not_ok "the audit says login-expired"; fi
expect "credential list shows the login EXPIRED with the fix" 0 "gem .*login google: EXPIRED .*airlock credential add gem --login google" \
  al list credential list
expect "doctor names the expired login and the fix" 1 "fix: log in with the google CLI on the host, then run 'airlock credential add gem --login google'" \
  al doctor doctor
standin_post "relogin?provider=google"
expect "the fix: credential add again imports the new login" 0 "imported the google login of credential 'gem' again" \
  al fix credential add gem --login google --from "$tmp/host/gemini.json"
fixed=
for _ in $(seq 50); do
  r=$(python3 "$here/login_client.py" --proxy "$url2" --ca "$ca" --once google)
  [[ $r == *'"status": 200'* ]] && { fixed=1; break; }
  sleep 0.1
done
if [ -n "$fixed" ]; then ok "after the fix the session's requests work again, without a restart"; else not_ok "after the fix the requests work again ($r)"; fi

# ---- the refresh verifies TLS: without the stand-in's CA no refresh token leaves ----------------
total() { standin_state | python3 -c 'import json,sys; print(sum(json.load(sys.stdin)["refreshes"].values()))'; }
sed -i '/^upstream_ca = /d' "$cfg"
"$bin" proxy reload >/dev/null 2>&1 || true
n0=$(total)
sleep 6
n1=$(total)
if [ "$n1" = "$n0" ] && grep -Eq "login [a-z]+: refresh failed, retrying in 5 s: .*(verif|certificate)" "$AIRLOCK_HOME/proxy.log"; then
  ok "the proxy's refresh verifies the token endpoint's certificate: an unverifiable one gets no refresh token"
else not_ok "the refresh verifies TLS (refreshes $n0 -> $n1; $(grep 'refresh failed' "$AIRLOCK_HOME/proxy.log" | tail -1))"; fi

# ---- no token anywhere it must not be -------------------------------------------------------------
"$bin" proxy stop --grace 2 >/dev/null 2>&1 || true
standin_state | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["issued"]))' >"$tmp/issued"
leaks=
for f in "$AIRLOCK_HOME"/proxy.log* "$AIRLOCK_HOME"/audit.jsonl* "$logs"/* "$tmp"/c1.json "$tmp"/c2.json "$cfg" "$AIRLOCK_HOME/sessions.db"; do
  [ -f "$f" ] || continue
  if grep -qFf "$tmp/issued" "$f"; then leaks="$leaks $f"; fi
done
if [ -z "$leaks" ] && [ "$(wc -l <"$tmp/issued")" -gt 20 ]; then
  ok "no access or refresh token in proxy.log, the audit log, config.toml, sessions.db or any airlock output"
else not_ok "no token in logs, audit or output (found in:$leaks)"; fi
finish
