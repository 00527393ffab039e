#!/usr/bin/env bash
# The proxy's guarantees, tested as attacks against the built binary: two credential hosts on
# two separate local TLS upstreams (upstream.py --name/--log records what each one received),
# several clients, random interleavings over new and reused connections (routing.py).
# AIRLOCK_TEST_KEEP=1 keeps the temp dir; ROUTING_SEED=N replays a routing run.
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
upstream_pids=()
cleanup() {
  set +e
  if [ -n "${AIRLOCK_HOME:-}" ] && [ -f "$AIRLOCK_HOME/proxy.pid" ]; then
    "$bin" proxy stop --grace 2 >>"$logs/stop-trap.out" 2>>"$logs/stop-trap.err"
  fi
  for pid in "${upstream_pids[@]}"; do kill "$pid" 2>/dev/null; done
  if [ "${AIRLOCK_TEST_KEEP:-}" = 1 ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- certificates and upstreams -------------------------------------------------------------
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$tmp/test-ca.key" -out "$tmp/test-ca.pem" -days 2 \
  -subj /CN=airlock-test-upstream-ca -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
leaf() {  # leaf NAME: a certificate for NAME from the test CA
  openssl req "${ec[@]}" -keyout "$tmp/$1.key" -out "$tmp/$1.csr" -subj "/CN=$1" 2>/dev/null
  printf 'subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' "$1" >"$tmp/$1.ext"
  openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/test-ca.pem" -CAkey "$tmp/test-ca.key" -CAcreateserial \
    -days 2 -out "$tmp/$1.pem" -extfile "$tmp/$1.ext" 2>/dev/null
}
start_upstream() {  # start_upstream NAME: its port in $tmp/NAME.port, every request head in $tmp/NAME.log
  leaf "$1"
  python3 "$here/upstream.py" --cert "$tmp/$1.pem" --key "$tmp/$1.key" --port 0 --name "$1" \
    --log "$tmp/$1.log" --port-file "$tmp/$1.port" >"$tmp/upstream-$1.err" 2>&1 </dev/null &
  upstream_pids+=($!)
  for _ in $(seq 100); do [ -s "$tmp/$1.port" ] && break; sleep 0.1; done
  [ -s "$tmp/$1.port" ] || { echo "Bail out! upstream $1 did not start: $(cat "$tmp/upstream-$1.err")"; exit 1; }
}
start_upstream alpha.test
start_upstream beta.test

# ---- airlock home ---------------------------------------------------------------------------
export AIRLOCK_HOME=$tmp/home
mkdir -p "$AIRLOCK_HOME/secrets"
al ca-init ca init >/dev/null
ca=$AIRLOCK_HOME/ca/ca.pem
proxy_port=$(free_port)
rand() { python3 -c 'import secrets; print(secrets.token_hex(12))'; }
export ALPHA_SECRET="alpha-REALSECRET-$(rand)" BETA_SECRET="beta-REALSECRET-$(rand)"
write_config() {  # write_config [EXTRA [proxy] LINES]
  cat >"$AIRLOCK_HOME/config.toml" <<TOML
[proxy]
port = $proxy_port
upstream_ca = "$tmp/test-ca.pem"
$1
[proxy.resolve]
"alpha.test:443" = "127.0.0.1:$(cat "$tmp/alpha.test.port")"
"beta.test:443" = "127.0.0.1:$(cat "$tmp/beta.test.port")"
[[credential]]
name = "alpha"
hosts = ["alpha.test"]
header = "Authorization"
template = "Bearer {secret}"
secret = { env = "ALPHA_SECRET" }
[[credential]]
name = "beta"
hosts = ["beta.test"]
header = "Authorization"
template = "Bearer {secret}"
secret = { env = "BETA_SECRET" }
TOML
}
write_config "threads = 1"
clients=()
for n in c1 c2 c3; do
  url=$(al "client-add-$n" proxy client add "$n")
  clients+=(--client "$(sed -E 's|^http://([^@]+)@.*|\1|' <<<"$url")")
done
start_proxy() {  # start_proxy NAME
  run_capture al "start-$1" proxy start
  [ "$rc" -eq 0 ] || { echo "Bail out! proxy start ($1) failed (exit $rc): $out $(cat "$logs/start-$1.err")"; exit 1; }
}
stop_proxy() { al "stop-$1" proxy stop --grace 2 >/dev/null || true; }

# What the far side saw: no upstream ever received another host's secret.
upstreams_clean() {  # upstreams_clean LABEL
  local bad=""
  grep -qF -- "$BETA_SECRET" "$tmp/alpha.test.log" && bad="alpha.test received beta's secret; "
  grep -qF -- "$ALPHA_SECRET" "$tmp/beta.test.log" && bad+="beta.test received alpha's secret"
  if [ -z "$bad" ] && [ -s "$tmp/alpha.test.log" ] && [ -s "$tmp/beta.test.log" ]; then
    ok "$1: each upstream only ever received its own rule's secret ($(wc -l <"$tmp/alpha.test.log") + $(wc -l <"$tmp/beta.test.log") requests)"
  else not_ok "$1: each upstream only ever received its own rule's secret: ${bad:-an upstream saw no request}"; fi
}
routing() {  # routing LABEL [ROUTING ARGS]
  local label=$1; shift
  : >"$tmp/alpha.test.log"; : >"$tmp/beta.test.log"
  set +e
  python3 "$here/routing.py" --proxy "127.0.0.1:$proxy_port" --ca "$ca" "${clients[@]}" \
    --host "alpha.test=$ALPHA_SECRET" --host "beta.test=$BETA_SECRET" --label "$label: " \
    ${ROUTING_SEED:+--seed "$ROUTING_SEED"} "$@" >"$tmp/out/routing.txt" 2>&1
  set -e
  cat "$tmp/out/routing.txt"
  fails=$((fails + $(grep -c '^not ok' "$tmp/out/routing.txt" || true)))
  grep -q '^ok' "$tmp/out/routing.txt" || grep -q '^not ok' "$tmp/out/routing.txt" || not_ok "$label: routing.py ran: $(tail -3 "$tmp/out/routing.txt")"
  upstreams_clean "$label"
}

# ---- 1. the credential-routing invariant --------------------------------------------------------
start_proxy threads1
routing "threads = 1"
stop_proxy threads1
write_config ""
start_proxy threads-default
routing "threads = default"
mode=$(stat -c %a "$AIRLOCK_HOME/proxy.sock" 2>/dev/null || echo missing)
[ "$mode" = 600 ] && ok "the control socket is mode 0600" || not_ok "the control socket is mode 0600 (got $mode)"
stop_proxy threads-default

# ---- 2. a reload revokes what open tunnels carry ----------------------------------------------
# One tunnel, one request, then a reload that takes alpha.test out of its rule: the next
# request on the same open tunnel must not carry alpha's credential (the far side's log says).
across() {  # across HOST CMD: JSON {first, second} statuses and bodies of two requests on one tunnel
  python3 - "$here" "$proxy_port" "$ca" "${clients[1]}" "$1" "$2" <<'PY'
import json, subprocess, sys
sys.path.insert(0, sys.argv[1])
import routing
class A: unix = None; proxy = "127.0.0.1:" + sys.argv[2]; ca = sys.argv[3]
t = routing.Tunnel(A, sys.argv[4], sys.argv[5])
out = {}
st, _, body = t.request("/echo/first")
out["first"] = {"status": st, "body": body.decode()}
subprocess.run(sys.argv[6], shell=True, check=True)
try:
    st, _, body = t.request("/echo/second")
    out["second"] = {"status": st, "body": body.decode()}
except Exception as e:
    out["second"] = {"status": None, "error": str(e)}
print(json.dumps(out))
PY
}
start_proxy revoke
: >"$tmp/alpha.test.log"
sed -i 's/^hosts = \["alpha.test"\]$/hosts = ["alpha-elsewhere.test"]/' "$AIRLOCK_HOME/config.toml"
if across alpha.test "'$bin' proxy reload >'$logs/reload-revoke.out' 2>'$logs/reload-revoke.err' && sleep 1" >"$tmp/out/revoke.json" 2>"$tmp/out/revoke.err"; then
  if python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); sys.exit(0 if e["first"]["status"] == 200 and e["second"]["status"] == 421 else 1)' "$tmp/out/revoke.json" \
     && [ "$(grep -cF -- "$ALPHA_SECRET" "$tmp/alpha.test.log")" = 1 ] && ! grep -q '/echo/second' "$tmp/alpha.test.log"; then
    ok "after a reload takes a host out of its rule, an open tunnel's next request gets 421 and never reaches the upstream with the credential"
  else not_ok "reload revokes an open tunnel: $(head -c 600 "$tmp/out/revoke.json"); upstream saw: $(cut -c1-200 "$tmp/alpha.test.log")"; fi
else not_ok "reload revokes an open tunnel: $(tail -3 "$tmp/out/revoke.err")"; fi
write_config ""
al reload-back proxy reload >/dev/null
stop_proxy revoke

# ---- 3. unix socket listeners -------------------------------------------------------------------
sock=$tmp/listen.sock
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$sock"  # a stale socket file
"$bin" proxy run --port "$proxy_port" --listen-unix "$sock" >"$logs/run-unix.out" 2>"$logs/run-unix.err" &
run_pid=$!
for _ in $(seq 100); do
  python3 -c 'import socket, sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' "$sock" 2>/dev/null && break
  sleep 0.1
done
mode=$(stat -c %a "$sock" 2>/dev/null || echo missing)
[ "$mode" = 660 ] && ok "a unix socket listener replaces a stale socket file and is created mode 0660" \
  || not_ok "unix socket listener mode (got $mode): $(cat "$logs/run-unix.err")"
got=$(curl -s --max-time 10 --unix-socket "$sock" -o /dev/null -w '%{http_code}' http://alpha.test/echo || true)
[ "$got" = 407 ] && ok "the unix socket asks for proxy authentication like the TCP port (407)" \
  || not_ok "the unix socket asks for proxy authentication (got '$got')"
routing "unix socket" --unix "$sock" --steps 30
kill -TERM "$run_pid" 2>/dev/null || true; wait "$run_pid" || true
[ ! -e "$sock" ] && ok "stop removes the unix socket file" || not_ok "stop removes the unix socket file"
echo keep >"$tmp/not-a-socket"
expect "a unix listen path holding a regular file is refused, and the file kept" 1 "not a socket" \
  "$bin" proxy run --port "$proxy_port" --listen-unix "$tmp/not-a-socket"
[ "$(cat "$tmp/not-a-socket")" = keep ] || not_ok "the regular file at the unix listen path was changed"

# ---- 4. connections without a token cannot lock sessions out -----------------------------------
# A slowloris without a token: 100 connections (more than max_connections = 20 and more than
# the unauthenticated cap), each trickling one byte of a CONNECT head every 2 s. Meanwhile a
# real client must be served, and no trickling connection outlives the 10 s first-head deadline.
write_config "max_connections = 20"
start_proxy slowloris
if python3 - "$here" "$proxy_port" "$ca" "${clients[1]}" >"$tmp/out/slowloris.txt" 2>&1 <<'PY'
import socket, sys, time
sys.path.insert(0, sys.argv[1])
import routing
class A: unix = None; proxy = "127.0.0.1:" + sys.argv[2]; ca = sys.argv[3]
head = b"CONNECT alpha.test:443 HTTP/1.1\r\nHost: alpha.test:443\r\n\r\n"
start = time.time()
socks = []
for _ in range(100):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=5)
    s.setblocking(False)
    socks.append(s)
closed_at = {}
served = []
step = 0
while time.time() - start < 16:
    for i, s in enumerate(socks):
        if i in closed_at:
            continue
        try:
            if s.recv(4096) == b"":
                closed_at[i] = time.time() - start
                continue
        except BlockingIOError:
            pass
        except OSError:
            closed_at[i] = time.time() - start
            continue
        try:
            s.send(head[step:step + 1])
        except OSError:
            closed_at[i] = time.time() - start
    step += 1
    if step in (2, 4):  # a real client, while the trickle goes on
        t = routing.Tunnel(A, sys.argv[4], "alpha.test")
        st, _, body = t.request("/echo/real")
        served.append(st)
        t.close()
    time.sleep(2)
late = [round(t, 1) for t in closed_at.values() if t > 14]
print("real client: %s; %d of 100 trickling connections closed, last after %.1f s" % (
    served, len(closed_at), max(closed_at.values() or [0])))
assert served == [200, 200], "the real client was not served: %s" % served
assert len(closed_at) == 100, "%d trickling connections still open after 16 s" % (100 - len(closed_at))
assert not late, "closed too late: %s" % late
PY
then ok "a slowloris without a token (100 connections, a byte every 2 s) neither locks out a real client nor outlives the first-head deadline: $(tail -1 "$tmp/out/slowloris.txt")"
else not_ok "slowloris without a token: $(tail -3 "$tmp/out/slowloris.txt")"; fi
stop_proxy slowloris
write_config ""

finish
