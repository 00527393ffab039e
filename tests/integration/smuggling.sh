#!/usr/bin/env bash
# Request smuggling and ambiguous framing, as attacks: raw bytes through the real proxy to a
# local TLS upstream that reads bare LF as a line end (upstream.py --lenient, like nginx) and
# logs every request head it parses. The checks themselves are in smuggling.py.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=${AIRLOCK_BIN:?set AIRLOCK_BIN to the airlock binary}
here=$(cd "$(dirname "$0")" && pwd)
for tool in openssl python3; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed"; exit 77; }
done

tmp=$(mktemp -d)
logs=$tmp/airlock-output
mkdir -p "$logs"
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

# An upstream CA and a leaf for api.anthropic.com (a host with a credential preset).
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$tmp/test-ca.key" -out "$tmp/test-ca.pem" -days 2 \
  -subj /CN=airlock-test-upstream-ca -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req "${ec[@]}" -keyout "$tmp/up.key" -out "$tmp/up.csr" -subj /CN=api.anthropic.com 2>/dev/null
printf 'subjectAltName=DNS:api.anthropic.com\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >"$tmp/up.ext"
openssl x509 -req -in "$tmp/up.csr" -CA "$tmp/test-ca.pem" -CAkey "$tmp/test-ca.key" -CAcreateserial \
  -days 2 -out "$tmp/up.pem" -extfile "$tmp/up.ext" 2>/dev/null

python3 "$here/upstream.py" --cert "$tmp/up.pem" --key "$tmp/up.key" --port 0 --port-file "$tmp/up.port" \
  --lenient --log "$tmp/requests.jsonl" >"$tmp/upstream.log" 2>&1 </dev/null &
upstream_pid=$!
for _ in $(seq 100); do [ -s "$tmp/up.port" ] && break; sleep 0.1; done
[ -s "$tmp/up.port" ] || { echo "Bail out! upstream did not start: $(cat "$tmp/upstream.log")"; exit 1; }

export AIRLOCK_HOME=$tmp/home
mkdir -p "$AIRLOCK_HOME/secrets"
al ca-init ca init >/dev/null
proxy_port=$(free_port)
cat >"$AIRLOCK_HOME/config.toml" <<TOML
[proxy]
port = $proxy_port
upstream_ca = "$tmp/test-ca.pem"
ports = [443]
threads = 1
[proxy.resolve]
"api.anthropic.com:443" = "127.0.0.1:$(cat "$tmp/up.port")"
[[credential]]
name = "anthropic"
preset = "anthropic"
secret = { file = "secrets/anthropic" }
TOML
secret="sk-ant-api03-REALSECRET-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
(umask 077; printf '%s\n' "$secret" >"$AIRLOCK_HOME/secrets/anthropic")
url=$(al client-add proxy client add attacker)
run_capture al start proxy start
[ "$rc" -eq 0 ] || { echo "Bail out! proxy start failed (exit $rc): $out $(cat "$logs/start.err")"; exit 1; }

set +e
PROXY_URL=$url AIRLOCK_CA=$AIRLOCK_HOME/ca/ca.pem SMUGGLING_SECRET=$secret \
  UPSTREAM_REQUEST_LOG=$tmp/requests.jsonl python3 "$here/smuggling.py" >"$tmp/smuggling.txt" 2>&1
set -e
cat "$tmp/smuggling.txt"
fails=$((fails + $(grep -c '^not ok' "$tmp/smuggling.txt" || true)))
grep -q '^ok' "$tmp/smuggling.txt" || not_ok "smuggling.py ran: $(tail -3 "$tmp/smuggling.txt")"

run_capture al stop proxy stop
[ "$rc" -eq 0 ] && ok "proxy stop after the attacks" || not_ok "proxy stop (exit $rc): $out"
finish
