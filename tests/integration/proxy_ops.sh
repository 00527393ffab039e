#!/usr/bin/env bash
# The proxy as an operator meets it, tested as attacks where there is an attacker: parallel
# starts share one proxy, a killed server comes back by itself (and gives up on a crash loop),
# a flood of 407s with 64 KiB targets cannot wipe the audit history, an SNI with a newline
# cannot forge a line in proxy.log (which is rotated), and a secret command never sees another
# rule's env secret. Loopback only: a local TLS upstream (upstream.py) behind [proxy.resolve].
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=${AIRLOCK_BIN:?set AIRLOCK_BIN to the airlock binary}
here=$(cd "$(dirname "$0")" && pwd)
for tool in curl openssl python3; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed"; exit 77; }
done

tmp=$(mktemp -d)
logs=$tmp/airlock-output
mkdir -p "$logs" "$tmp/out"
upstream_pid=
export AIRLOCK_HOME=$tmp/home
cleanup() {
  set +e
  "$bin" proxy stop --grace 1 >>"$logs/trap.out" 2>>"$logs/trap.err"
  for f in proxy-supervisor.pid proxy.pid; do  # whatever a failed check left behind
    [ -f "$AIRLOCK_HOME/$f" ] && kill -9 "$(cat "$AIRLOCK_HOME/$f")" 2>/dev/null
  done
  [ -z "$upstream_pid" ] || kill "$upstream_pid" 2>/dev/null
  if [ "${AIRLOCK_TEST_KEEP:-}" = 1 ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_for SECONDS CMD...: polls CMD every 0.1 s; fails after SECONDS
wait_for() {
  local n=$(( $1 * 10 )); shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
pid_of() { cat "$AIRLOCK_HOME/$1" 2>/dev/null || echo 0; }
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null) && [[ "$s" != Z* ]]; }  # a zombie is dead
server_up() { local p; p=$(pid_of proxy.pid); [ "$p" != 0 ] && alive "$p"; }
# processes of this home, by role
count_procs() { pgrep -f -- "--home $AIRLOCK_HOME proxy $1" | wc -l; }

# ---- a TLS upstream for api.anthropic.com ------------------------------------------------
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$tmp/test-ca.key" -out "$tmp/test-ca.pem" -days 2 \
  -subj /CN=airlock-test-upstream-ca -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req "${ec[@]}" -keyout "$tmp/up.key" -out "$tmp/up.csr" -subj "/CN=api.anthropic.com" 2>/dev/null
printf 'subjectAltName=DNS:api.anthropic.com\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' >"$tmp/up.ext"
openssl x509 -req -in "$tmp/up.csr" -CA "$tmp/test-ca.pem" -CAkey "$tmp/test-ca.key" -CAcreateserial \
  -days 2 -out "$tmp/up.pem" -extfile "$tmp/up.ext" 2>/dev/null
python3 "$here/upstream.py" --cert "$tmp/up.pem" --key "$tmp/up.key" --port 0 --port-file "$tmp/up.port" \
  >"$tmp/upstream.log" 2>&1 </dev/null &
upstream_pid=$!
wait_for 10 test -s "$tmp/up.port" || { echo "Bail out! upstream did not start: $(cat "$tmp/upstream.log")"; exit 1; }

# ---- home: one rule with a command secret, one with an env secret ---------------------------
mkdir -p "$AIRLOCK_HOME"
al ca-init ca init >/dev/null
proxy_port=$(free_port)
rand() { python3 -c 'import secrets; print(secrets.token_hex(12))'; }
export OTHER_RULE_SECRET="other-REALSECRET-$(rand)"
export AIRLOCK_TEST_UNRELATED="unrelated-$(rand)"
cmd_secret="cmd-REALSECRET-$(rand)"
(umask 077; printf '%s' "$cmd_secret" >"$tmp/cmd-secret")
cat >"$AIRLOCK_HOME/config.toml" <<TOML
[proxy]
port = $proxy_port
upstream_ca = "$tmp/test-ca.pem"
threads = 2
[proxy.resolve]
"api.anthropic.com:443" = "127.0.0.1:$(cat "$tmp/up.port")"
[[credential]]
name = "anthropic"
preset = "anthropic"
secret = { command = ["sh", "-c", "env > '$tmp/command-env.txt'; cat '$tmp/cmd-secret'"] }
[[credential]]
name = "other"
hosts = ["other.test"]
header = "Authorization"
template = "Bearer {secret}"
secret = { env = "OTHER_RULE_SECRET" }
TOML
url=$(al client-add proxy client add tester)
token=$(sed -E 's|^http://[^:]+:([^@]+)@.*|\1|' <<<"$url")
ca=$AIRLOCK_HOME/ca/ca.pem
c() { curl -sS --max-time 20 --proxy "$url" --cacert "$ca" "$@"; }

# ---- parallel starts: one proxy, every starter succeeds ------------------------------------
export AIRLOCK_PROXY_LOG_MAX_BYTES=8192  # test hook: rotate proxy.log at 8 KiB
pids=()
for i in 1 2 3 4 5 6 7 8; do al "start$i" proxy start >/dev/null 9>>"$logs/held-by-starter" & pids+=($!); done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
started=$(cat "$logs"/start*.out | grep -c '^proxy started' || true)
if [ "$failed" -eq 0 ] && [ "$started" -eq 1 ] && [ "$(count_procs run)" -eq 1 ] && [ "$(count_procs supervise)" -eq 1 ]; then
  ok "8 parallel 'proxy start': all succeed, one started it, one server and one supervisor run"
else not_ok "8 parallel 'proxy start': $failed failed, $started said started, $(count_procs run) servers, $(count_procs supervise) supervisors: $(cat "$logs"/start*.err | sort | uniq -c | head -5)"; fi
server_up || { echo "Bail out! no proxy after the parallel starts: $(tail -5 "$AIRLOCK_HOME/proxy.log")"; exit 1; }
# The background proxy keeps none of its starter's descriptors: a lock held around
# 'proxy start' (as flock(1) does for a test harness; here fd 9) is free once start returns.
if [ -d "/proc/$(cat "$AIRLOCK_HOME/proxy-supervisor.pid" 2>/dev/null)/fd" ]; then
  fds=$(for p in $(cat "$AIRLOCK_HOME/proxy.pid" "$AIRLOCK_HOME/proxy-supervisor.pid"); do ls -l /proc/"$p"/fd 2>/dev/null; done | grep -F "$logs" || true)
  [ -z "$fds" ] && ok "the background proxy and its supervisor hold none of the starter's files" \
    || not_ok "the background proxy holds its starter's files: $fds"
fi

# ---- a secret command's environment ----------------------------------------------------------
if [ -s "$tmp/command-env.txt" ] && grep -q '^PATH=' "$tmp/command-env.txt"; then
  if grep -qF -e "$OTHER_RULE_SECRET" -e OTHER_RULE_SECRET "$tmp/command-env.txt"; then
    not_ok "a secret command never sees another rule's env secret (its env had OTHER_RULE_SECRET)"
  else ok "a secret command never sees another rule's env secret"; fi
  grep -qF "$AIRLOCK_TEST_UNRELATED" "$tmp/command-env.txt" && not_ok "a secret command gets a minimal environment (it had AIRLOCK_TEST_UNRELATED)" \
    || ok "a secret command gets a minimal environment (PATH, not the proxy's other variables)"
else not_ok "the secret command ran and wrote its environment: $(head -c 300 "$tmp/command-env.txt" 2>/dev/null)"; fi

# ---- an authenticated record, then a flood of 407s with 64 KiB targets ----------------------------
marker="/echo/authenticated-before-the-flood-$(rand)"
got=$(c -o "$tmp/out/auth.json" -w '%{http_code}' "https://api.anthropic.com$marker" || true)
[ "$got" = 200 ] && grep -qF "$cmd_secret" "$tmp/out/auth.json" && ok "the command secret is injected (control)" \
  || not_ok "an authenticated request through the proxy (got '$got')"
sleep 0.5
python3 - "$proxy_port" 3000 >"$tmp/out/flood.txt" 2>&1 <<'PY' || true
import socket, sys, threading
port, total = int(sys.argv[1]), int(sys.argv[2])
target = "http://flood.example/" + "A" * (62 * 1024)
req = ("GET %s HTTP/1.1\r\nHost: flood.example\r\nUser-Agent: %s\r\n\r\n" % (target, "U" * 1000)).encode()
done = [0]
lock = threading.Lock()
def worker(n):
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(req)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        s.close()
        if b" 407 " in got.split(b"\r\n")[0]:
            with lock:
                done[0] += 1
threads = [threading.Thread(target=worker, args=(total // 4,)) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print("407s:", done[0])
PY
n407=$(sed -n 's/^407s: //p' "$tmp/out/flood.txt")
[ "${n407:-0}" -ge 2900 ] && ok "the flood got its 407s ($n407 of 3000)" || not_ok "the flood of 407s ran: $(tail -3 "$tmp/out/flood.txt")"
sleep 1.2  # the refusal window ends; the next audit line flushes its summary
c -o /dev/null "https://api.anthropic.com/echo/after-the-flood" || true
sleep 0.5
audit=$AIRLOCK_HOME/audit.jsonl
if grep -qsF "$marker" "$audit" "$audit.1"; then ok "after 3000 refusals with 64 KiB targets, the earlier authenticated record is still in audit.jsonl"
else not_ok "the authenticated record was rotated away by the flood ($(ls "$AIRLOCK_HOME" | grep audit | tr '\n' ' '))"; fi
size=$(cat "$audit"* | wc -c)
[ "$size" -lt 1048576 ] && ok "the audit files stay small after the flood ($size bytes in all)" \
  || not_ok "the audit files grew by the flood: $size bytes ($(ls -l "$AIRLOCK_HOME" | grep audit | awk '{print $5, $9}' | tr '\n' ' '))"
if python3 - "$audit" >"$tmp/out/audit-check.txt" 2>&1 <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
refused = [r for r in lines if r.get("status") == 407 and "suppressed" not in r]
summaries = [r for r in lines if "suppressed" in r]
longest = max(len(json.dumps(r)) for r in lines)
assert refused, "no 407 line at all"
assert all("...[cut " in r["path"] for r in refused), "a long target not marked as cut"
assert longest < 4096, "a line of %d bytes" % longest
assert summaries and "more refusals" in summaries[0]["error"], "no summary line"
assert refused[0].get("peer") == "127.0.0.1", {k: str(v)[:80] for k, v in refused[0].items()}
print("%d refusal lines, %d summaries for %d more, longest line %d bytes" % (
    len(refused), len(summaries), sum(r["suppressed"] for r in summaries), longest))
PY
then ok "refusals are written cut and marked, the rest summarized: $(cat "$tmp/out/audit-check.txt")"
else not_ok "refusal lines: $(tail -2 "$tmp/out/audit-check.txt")"; fi

# ---- an SNI with a newline cannot forge a proxy.log line; proxy.log is rotated ----------------------
forged="2020-01-01T00:00:00Z airlock proxy: FORGED-LINE"
sni_attack() {
  printf 'GET /echo HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n' | timeout 20 openssl s_client -quiet \
    -proxy "127.0.0.1:$proxy_port" -proxy_user tester -proxy_pass "pass:$token" -connect api.anthropic.com:443 \
    -CAfile "$ca" -servername "$1" >/dev/null 2>&1 || true
}
sni_attack "api.anthropic.com"$'\n'"$forged"
sleep 0.3
if grep -q '^2020-01-01T00:00:00Z airlock proxy: FORGED-LINE' "$AIRLOCK_HOME/proxy.log"; then
  not_ok "an SNI with a newline forged a line in proxy.log"
elif grep -qF 'api.anthropic.com\x0a2020-01-01' "$AIRLOCK_HOME/proxy.log"; then
  ok "an SNI with a newline is logged on one line, the newline escaped (\\x0a)"
else not_ok "the SNI attack is logged at all: $(tail -3 "$AIRLOCK_HOME/proxy.log")"; fi
if LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$AIRLOCK_HOME/proxy.log"; then
  not_ok "proxy.log holds no control characters"
else ok "proxy.log holds no control characters"; fi
long_sni=$(python3 -c 'print("x" * 200 + ".example")')
for _ in $(seq 25); do sni_attack "$long_sni"; done
sleep 0.3
if [ -f "$AIRLOCK_HOME/proxy.log.1" ] && [ "$(stat -c %s "$AIRLOCK_HOME/proxy.log")" -le 8192 ] \
   && [ ! -e "$AIRLOCK_HOME/proxy.log.4" ] && [ "$(stat -c %a "$AIRLOCK_HOME/proxy.log")" = 600 ]; then
  ok "proxy.log is rotated by size (at most 8 KiB here, 3 old files kept, mode 0600)"
else not_ok "proxy.log is rotated: $(ls -l "$AIRLOCK_HOME" | grep proxy.log | awk '{print $1, $5, $9}' | tr '\n' ' ')"; fi

# ---- kill -9 the server: it comes back by itself ------------------------------------------------------
old=$(pid_of proxy.pid)
sup=$(pid_of proxy-supervisor.pid)
kill -9 "$old"
serving() { [ "$(pid_of proxy.pid)" != "$old" ] && server_up && c -o /dev/null https://api.anthropic.com/echo; }
if wait_for 10 serving; then ok "after kill -9 of the server, the proxy serves again within 10 s (pid $old -> $(pid_of proxy.pid))"
else not_ok "the proxy came back after kill -9: $(tail -3 "$AIRLOCK_HOME/proxy.log")"; fi
grep -q "airlock supervisor: the proxy (pid $old) was killed by signal 9" "$AIRLOCK_HOME/proxy.log" \
  && ok "proxy.log says the supervisor restarted it" || not_ok "proxy.log says the supervisor restarted it: $(grep supervisor "$AIRLOCK_HOME"/proxy.log* | tail -3)"
expect "proxy status names the server and its supervisor" 0 "^proxy: running, pid [0-9]+ \\(supervisor pid $sup\\)" "$bin" proxy status

# A crash loop: the config breaks, every restart dies at once; the supervisor gives up.
cp "$AIRLOCK_HOME/config.toml" "$tmp/config.good"
echo 'this is not toml' >>"$AIRLOCK_HOME/config.toml"
kill -9 "$(pid_of proxy.pid)"
gone() { ! alive "$sup"; }
if wait_for 30 gone && grep -q 'supervisor gives up' "$AIRLOCK_HOME/proxy.log"; then
  ok "a server that dies at once after each restart: the supervisor gives up with a clear line"
else not_ok "the supervisor gives up on a crash loop: $(grep supervisor "$AIRLOCK_HOME/proxy.log" | tail -3)"; fi
expect "proxy status says DOWN when the proxy is down (exit 3)" 3 "^proxy: DOWN \(not running\)" "$bin" proxy status
cp "$tmp/config.good" "$AIRLOCK_HOME/config.toml"
expect "doctor says the proxy is DOWN" 1 "PROBLEM  proxy: DOWN \(not running\)" "$bin" doctor
expect "proxy start after that starts it again" 0 "^proxy started" "$bin" proxy start

# While the supervisor waits to restart, 'proxy start' brings it back at once.
sup=$(pid_of proxy-supervisor.pid)
kill -STOP "$sup"; kill -9 "$(pid_of proxy.pid)"; sleep 0.2
expect "proxy status says DOWN while the supervisor restarts it (exit 3)" 3 "^proxy: DOWN, its supervisor \\(pid $sup\\) is restarting it" "$bin" proxy status
kill -CONT "$sup"
wait_for 10 server_up && ok "and it is back" || not_ok "the proxy is back after SIGCONT"

# ---- stop stops both -----------------------------------------------------------------------------------
sup=$(pid_of proxy-supervisor.pid); srv=$(pid_of proxy.pid)
expect "proxy stop" 0 "^proxy stopped" "$bin" proxy stop
sleep 0.3
if ! alive "$sup" && ! alive "$srv" && [ ! -e "$AIRLOCK_HOME/proxy.pid" ] \
   && [ ! -e "$AIRLOCK_HOME/proxy-supervisor.pid" ]; then ok "proxy stop stops the server and its supervisor, and removes both pid files"
else not_ok "proxy stop stops both (supervisor $sup alive: $(alive "$sup" && echo yes), server $srv alive: $(alive "$srv" && echo yes))"; fi
if ! grep -rlF -e "$OTHER_RULE_SECRET" -e "$cmd_secret" "$AIRLOCK_HOME" "$logs" --exclude-dir=secrets >/dev/null 2>&1; then
  ok "no secret in audit.jsonl, proxy.log or any airlock output"
else not_ok "a secret leaked into: $(grep -rlF -e "$OTHER_RULE_SECRET" -e "$cmd_secret" "$AIRLOCK_HOME" "$logs")"; fi

finish
