#!/usr/bin/env bash
# The credential proxy end to end: real curl, openssl and python clients, a local TLS upstream
# (upstream.py) behind [proxy.resolve], all on loopback. Builds its own CA, certificates and
# AIRLOCK_HOME in a temp dir. AIRLOCK_TEST_BIG=1G (default) or 256M sizes the big transfers;
# AIRLOCK_TEST_KEEP=1 keeps the temp dir.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=${AIRLOCK_BIN:?set AIRLOCK_BIN to the airlock binary}
here=$(cd "$(dirname "$0")" && pwd)
for tool in curl openssl python3; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed"; exit 77; }
done
big=${AIRLOCK_TEST_BIG:-1G}
big_bytes=$(numfmt --from=iec "$big")

tmp=$(mktemp -d)
logs=$tmp/airlock-output   # every stdout/stderr of an airlock command
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

# ---- certificates -------------------------------------------------------------------------
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$tmp/test-ca.key" -out "$tmp/test-ca.pem" -days 2 \
  -subj /CN=airlock-test-upstream-ca -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
leaf() {  # leaf NAME SAN
  openssl req "${ec[@]}" -keyout "$tmp/$1.key" -out "$tmp/$1.csr" -subj "/CN=$1" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' "$2" >"$tmp/$1.ext"
  openssl x509 -req -in "$tmp/$1.csr" -CA "$tmp/test-ca.pem" -CAkey "$tmp/test-ca.key" -CAcreateserial \
    -days 2 -out "$tmp/$1.pem" -extfile "$tmp/$1.ext" 2>/dev/null
}
leaf api.anthropic.com DNS:api.anthropic.com,DNS:upstream.test
leaf plain.test DNS:plain.test
openssl req -x509 "${ec[@]}" -keyout "$tmp/bad.test.key" -out "$tmp/bad.test.pem" -days 2 \
  -subj /CN=bad.test -addext subjectAltName=DNS:bad.test 2>/dev/null

# ---- upstreams ----------------------------------------------------------------------------
start_upstream() {  # start_upstream NAME -> sets port_NAME
  python3 "$here/upstream.py" --cert "$tmp/$1.pem" --key "$tmp/$1.key" --port 0 \
    --port-file "$tmp/$1.port" >"$tmp/upstream-$1.log" 2>&1 </dev/null &
  upstream_pids+=($!)
  for _ in $(seq 100); do [ -s "$tmp/$1.port" ] && break; sleep 0.1; done
  [ -s "$tmp/$1.port" ] || { echo "Bail out! upstream $1 did not start: $(cat "$tmp/upstream-$1.log")"; exit 1; }
}
start_upstream api.anthropic.com; start_upstream plain.test; start_upstream bad.test
port_anthropic=$(cat "$tmp/api.anthropic.com.port")
port_plain=$(cat "$tmp/plain.test.port")
port_bad=$(cat "$tmp/bad.test.port")

# ---- airlock home -------------------------------------------------------------------------
export AIRLOCK_HOME=$tmp/home
mkdir -p "$AIRLOCK_HOME/secrets"
al ca-init ca init >/dev/null
proxy_port=$(free_port)
cat >"$AIRLOCK_HOME/config.toml" <<TOML
[proxy]
port = $proxy_port
upstream_ca = "$tmp/test-ca.pem"
ports = [443]
threads = 2
[proxy.resolve]
"api.anthropic.com:443" = "127.0.0.1:$port_anthropic"
"plain.test:443" = "127.0.0.1:$port_plain"
"bad.test:443" = "127.0.0.1:$port_bad"
[[credential]]
name = "anthropic"
preset = "anthropic"
secret = { file = "secrets/anthropic" }
[[credential]]
name = "bad"
hosts = ["bad.test"]
header = "Authorization"
template = "Bearer {secret}"
secret = { env = "BAD_SECRET" }
TOML
rand() { python3 -c 'import secrets; print(secrets.token_hex(12))'; }
secret_api="sk-ant-api03-REALSECRET-$(rand)"
secret_api2="sk-ant-api03-RELOADED-$(rand)"
secret_oat="sk-ant-oat01-REALOAUTH-$(rand)"
export BAD_SECRET="bad-REALSECRET-$(rand)"
all_secrets=("$secret_api" "$secret_api2" "$secret_oat" "$BAD_SECRET")
secret_file=$AIRLOCK_HOME/secrets/anthropic
(umask 077; printf '%s\n' "$secret_api" >"$secret_file")
chmod 600 "$secret_file"
placeholder=sk-ant-api03-airlock-placeholder
ca=$AIRLOCK_HOME/ca/ca.pem

url=$(al client-add proxy client add tester)
url2=$(al client-add2 proxy client add tester2)
url3=$(al client-add3 proxy client add tester3)
token=$(sed -E 's|^http://[^:]+:([^@]+)@.*|\1|' <<<"$url")
if [[ "$url" =~ ^http://tester:[^@]+@127\.0\.0\.1:$proxy_port$ ]]; then ok "client add prints the proxy URL"
else not_ok "client add prints the proxy URL (got: $url)"; fi
bare=http://127.0.0.1:$proxy_port

run_capture al start proxy start
if [ "$rc" -eq 0 ]; then ok "proxy start"; else
  echo "Bail out! proxy start failed (exit $rc): $out $(cat "$logs/start.err")"; exit 1; fi
proxy_pid=$(cat "$AIRLOCK_HOME/proxy.pid")

c() { curl -sS --max-time 20 --proxy "$url" --cacert "$ca" "$@"; }
# has_json FILE PYTHON-EXPR: evaluates EXPR with e = the JSON in FILE, h = its header list
# lowercased ([(name, value)]), hv(name) = the values of that header; succeeds if true
has_json() {
  python3 - "$@" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
h = [(k.lower(), v) for k, v in e.get("headers", [])]
hv = lambda name: [v for k, v in h if k == name]
ok = eval(sys.argv[2])
if not ok:
    print(json.dumps(e)[:1500], file=sys.stderr)
sys.exit(0 if ok else 1)
PY
}
json_check() {  # json_check NAME FILE EXPR: ok/not ok, showing the JSON on failure
  local name=$1 file=$2 expr=$3 why
  if why=$(has_json "$file" "$expr" 2>&1); then ok "$name"; else not_ok "$name: $why"; fi
}
set_secret() {  # set_secret VALUE NAME: rewrite the secret file, reload, wait until the upstream sees it
  printf '%s\n' "$1" >"$secret_file"
  al "reload-$2" proxy reload >/dev/null || { echo "# proxy reload failed: $(cat "$logs/reload-$2.err")"; return 1; }
  for _ in $(seq 50); do
    c https://api.anthropic.com/echo -o "$tmp/out/set-secret.json" 2>/dev/null || true
    grep -qF -- "$1" "$tmp/out/set-secret.json" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "# the upstream never saw the new secret within 5 s after reload"
  return 1
}

# ---- credential injection -----------------------------------------------------------------
if c https://api.anthropic.com/echo -H "x-api-key: $placeholder" -o "$tmp/out/inject.json" 2>"$tmp/out/inject.err"; then
  json_check "the placeholder x-api-key is replaced by the real secret, once" "$tmp/out/inject.json" \
    "hv('x-api-key') == ['$secret_api'] and '$placeholder' not in json.dumps(e)"
  json_check "the upstream sees the original SNI" "$tmp/out/inject.json" "e['sni'] == 'api.anthropic.com'"
else not_ok "intercepted request to api.anthropic.com: $(cat "$tmp/out/inject.err")"; fi

if c https://api.anthropic.com/echo -o "$tmp/out/inject2.json" 2>"$tmp/out/inject2.err"; then
  json_check "a client without x-api-key gets the secret too" "$tmp/out/inject2.json" "hv('x-api-key') == ['$secret_api']"
else not_ok "a client without x-api-key gets the secret too: $(cat "$tmp/out/inject2.err")"; fi

if c https://api.anthropic.com/echo -H "X-Api-Key: $placeholder" -H "x-api-key: second" -o "$tmp/out/inject3.json" 2>"$tmp/out/inject3.err"; then
  json_check "two client x-api-key fields become one real one" "$tmp/out/inject3.json" "hv('x-api-key') == ['$secret_api']"
else not_ok "two client x-api-key fields: $(cat "$tmp/out/inject3.err")"; fi

# ---- plain.test is tunnelled blind -----------------------------------------------------------
if c https://plain.test/echo --cacert "$tmp/test-ca.pem" -H "x-api-key: $placeholder" -o "$tmp/out/plain.json" 2>"$tmp/out/plain.err"; then
  json_check "plain.test (no rule) is tunnelled untouched" "$tmp/out/plain.json" "hv('x-api-key') == ['$placeholder']"
else not_ok "plain.test with the upstream's CA: $(cat "$tmp/out/plain.err")"; fi
run_capture curl -sS --max-time 20 --proxy "$url" --cacert "$ca" https://plain.test/echo
if [ "$rc" -eq 60 ] || [ "$rc" -eq 35 ]; then ok "plain.test does not present an airlock certificate (curl exit $rc)"
else not_ok "plain.test with only the airlock CA must fail verification (exit $rc: $(head -c 300 <<<"$out"))"; fi
run_capture timeout 20 openssl s_client -proxy "127.0.0.1:$proxy_port" -proxy_user tester -proxy_pass "pass:$token" \
  -connect plain.test:443 -servername plain.test -CAfile "$tmp/test-ca.pem" </dev/null
if grep -q 'Verify return code: 0' <<<"$out" && grep -q 'issuer=CN = airlock-test-upstream-ca' <<<"$out"; then
  ok "s_client through the proxy sees plain.test's own certificate"
else not_ok "s_client through the proxy sees plain.test's own certificate (exit $rc): $(grep -E 'issuer|subject|Verify|error|errno' <<<"$out" | head -5)"; fi

# ---- proxy authentication -----------------------------------------------------------------
code_of() { curl -s --max-time 20 -o /dev/null -w '%{http_connect}' "$@" || true; }
got=$(code_of --proxy "$bare" --cacert "$ca" https://api.anthropic.com/echo)
[ "$got" = 407 ] && ok "CONNECT without credentials is 407" || not_ok "CONNECT without credentials is 407 (got '$got')"
got=$(code_of --proxy "http://tester:wrong-token@127.0.0.1:$proxy_port" --cacert "$ca" https://api.anthropic.com/echo)
[ "$got" = 407 ] && ok "CONNECT with a wrong token is 407" || not_ok "CONNECT with a wrong token is 407 (got '$got')"
got=$(code_of --proxy "http://nobody:$token@127.0.0.1:$proxy_port" --cacert "$ca" https://api.anthropic.com/echo)
[ "$got" = 407 ] && ok "CONNECT with another client's token is 407" || not_ok "CONNECT with another client's token is 407 (got '$got')"

# ---- misdirected requests -----------------------------------------------------------------
got=$(c -o "$tmp/out/421.body" -D "$tmp/out/421.head" -w '%{http_code}' https://api.anthropic.com/echo -H 'Host: evil.example' || true)
[ "$got" = 421 ] && ok "a Host different from the CONNECT host is 421" || not_ok "Host mismatch is 421 (got '$got': $(cat "$tmp/out/421.body" 2>/dev/null))"

sclient() {  # sclient S_CLIENT-ARGS...: one GET /echo through the proxy to api.anthropic.com
  run_capture bash -c "printf 'GET /echo HTTP/1.1\r\nHost: api.anthropic.com\r\nConnection: close\r\n\r\n' | timeout 20 openssl s_client -quiet -proxy 127.0.0.1:$proxy_port -proxy_user tester -proxy_pass pass:$token -connect api.anthropic.com:443 -CAfile '$ca' $*"
}
sclient -servername api.anthropic.com
if grep -q 'HTTP/1.1 200' <<<"$out"; then ok "s_client with the right SNI gets 200 (control)"
else not_ok "s_client with the right SNI gets 200 (control; exit $rc): $(head -c 400 <<<"$out")"; fi
sclient -servername other.example
if ! grep -q 'HTTP/1.1 200' <<<"$out" && ! grep -q connection_id <<<"$out"; then ok "an SNI different from the CONNECT host is refused (s_client exit $rc)"
else not_ok "an SNI different from the CONNECT host is refused: $(head -c 400 <<<"$out")"; fi
sclient -servername api.anthropic.com:443
if grep -q 'HTTP/1.1 200' <<<"$out"; then ok "an SNI of host:port with the CONNECT port is accepted (Go clients such as hey send it)"
else not_ok "an SNI of host:port with the CONNECT port is accepted (exit $rc): $(head -c 400 <<<"$out")"; fi
sclient -servername api.anthropic.com:8443
if ! grep -q 'HTTP/1.1 200' <<<"$out" && ! grep -q connection_id <<<"$out"; then ok "an SNI of host:port with another port is refused"
else not_ok "an SNI of host:port with another port is refused: $(head -c 400 <<<"$out")"; fi
sclient -noservername
if ! grep -q 'HTTP/1.1 200' <<<"$out" && ! grep -q connection_id <<<"$out"; then ok "a TLS client without SNI to a named host is refused (s_client exit $rc)"
else not_ok "a TLS client without SNI to a named host is refused: $(head -c 400 <<<"$out")"; fi

for target in 169.254.169.254 127.0.0.1; do
  got=$(code_of --proxy "$url" --cacert "$ca" "https://$target/")
  [ "$got" = 403 ] && ok "CONNECT to $target:443 is 403" || not_ok "CONNECT to $target:443 is 403 (got '$got')"
done
got=$(code_of --proxy "$url" --cacert "$ca" "https://api.anthropic.com:8443/")
[ "$got" = 403 ] && ok "CONNECT to a port not in [proxy] ports is 403" || not_ok "CONNECT to api.anthropic.com:8443 is 403 (got '$got')"

# ---- bad upstream certificate ---------------------------------------------------------------
run_capture curl -sS -i --max-time 20 --proxy "$url" --cacert "$ca" https://bad.test/echo
if grep -q '^HTTP/1.1 502' <<<"$out" && grep -qi '^X-Airlock-Error: tls-verify' <<<"$out"; then
  ok "a bad upstream certificate is 502 with X-Airlock-Error: tls-verify"
else not_ok "a bad upstream certificate is 502 tls-verify (exit $rc): $(tr -d '\r' <<<"$out" | head -c 600)"; fi

# ---- SSE arrives event by event --------------------------------------------------------------
python3 - "$url" "$ca" >"$tmp/out/sse.txt" 2>&1 <<'PY' && ok "SSE: $(cat "$tmp/out/sse.txt")" || not_ok "SSE events arrive one by one: $(cat "$tmp/out/sse.txt")"
import json, subprocess, sys, time
n, interval = 10, 0.1
p = subprocess.Popen(["curl", "-sS", "-N", "--max-time", "20", "--proxy", sys.argv[1], "--cacert", sys.argv[2],
                      "https://api.anthropic.com/sse?n=%d&interval_ms=%d" % (n, interval * 1000)],
                     stdout=subprocess.PIPE, bufsize=0)
delays, arrivals = [], []
for line in p.stdout:
    if line.startswith(b"data: "):
        now = time.time()
        arrivals.append(now)
        delays.append(now - json.loads(line[6:])["t"])
p.wait()
spread = arrivals[-1] - arrivals[0] if arrivals else 0
msg = "%d events, max delay %.1f ms, spread %.0f ms" % (len(delays), max(delays or [0]) * 1000, spread * 1000)
print(msg)
sys.exit(0 if len(delays) == n and max(delays) < 0.05 and spread > 0.8 * (n - 1) * interval else 1)
PY

# ---- keep-alive reuse ------------------------------------------------------------------------
if c https://api.anthropic.com/echo https://api.anthropic.com/echo -o "$tmp/out/ka1.json" -o "$tmp/out/ka2.json" 2>"$tmp/out/ka.err"; then
  id1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["connection_id"])' "$tmp/out/ka1.json")
  id2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["connection_id"])' "$tmp/out/ka2.json")
  [ "$id1" = "$id2" ] && ok "keep-alive: two requests in one curl share the upstream connection ($id1)" \
    || not_ok "keep-alive: two requests in one curl share the upstream connection ($id1 vs $id2)"
else not_ok "keep-alive: two URLs in one curl: $(cat "$tmp/out/ka.err")"; fi

# ---- python clients: WebSocket, a connection across reload, a removed client -------------------
cat >"$tmp/pyclient.py" <<'PY'
import base64, json, os, socket, ssl, struct, subprocess, sys, time, urllib.parse, zlib

def tunnel(proxy_url, ca, host="api.anthropic.com"):
    p = urllib.parse.urlsplit(proxy_url)
    raw = socket.create_connection((p.hostname, p.port), timeout=20)
    auth = base64.b64encode(("%s:%s" % (p.username, p.password)).encode()).decode()
    raw.sendall(("CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\nProxy-Authorization: Basic %s\r\n\r\n" % (host, host, auth)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = raw.recv(1)
        if not chunk: raise RuntimeError("proxy closed during CONNECT")
        head += chunk
    if b" 200" not in head.split(b"\r\n")[0]: raise RuntimeError("CONNECT: %r" % head)
    return ssl.create_default_context(cafile=ca).wrap_socket(raw, server_hostname=host)

class Conn:
    def __init__(self, sock): self.sock, self.buf = sock, b""
    def need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk: raise EOFError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out
    def head(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk: raise EOFError("closed before a response")
            self.buf += chunk
        h, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = h.decode("latin-1").split("\r\n")
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(":"); hdrs[k.strip().lower()] = v.strip()
        return int(lines[0].split()[1]), hdrs
    def request(self, path, extra=""):
        self.sock.sendall(("GET %s HTTP/1.1\r\nHost: api.anthropic.com\r\n%s\r\n" % (path, extra)).encode())
        status, hdrs = self.head()
        body = self.need(int(hdrs.get("content-length", "0")))
        return status, hdrs, body

def ws_frame(opcode, payload, rsv=0):
    mask = os.urandom(4)
    n = len(payload)
    first = 0x80 | rsv | opcode
    head = struct.pack(">BB", first, 0x80 | n) if n < 126 else struct.pack(">BBH", first, 0x80 | 126, n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

def ws_read(conn, frame=None):  # frame: a dict that gets the first byte and the frame's size
    b0, b1 = conn.need(2)
    size = 2
    n = b1 & 0x7F
    if n == 126: (n,) = struct.unpack(">H", conn.need(2)); size += 2
    elif n == 127: (n,) = struct.unpack(">Q", conn.need(8)); size += 8
    if frame is not None: frame.update(first=b0, size=size + n)
    return b0 & 0x0F, conn.need(n)

def main():
    cmd = sys.argv[1]
    if cmd == "ws":
        conn = Conn(tunnel(sys.argv[2], sys.argv[3]))
        key = base64.b64encode(os.urandom(16)).decode()
        offer = "permessage-deflate; client_max_window_bits"
        conn.sock.sendall(("GET /ws HTTP/1.1\r\nHost: api.anthropic.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: %s\r\n\r\n"
                           % (key, offer)).encode())
        status, hdrs = conn.head()
        res = {"status": status, "accept_ok": False, "offer": offer}
        sent = received = 0  # frame bytes each way after the upgrade, as the audit line must count them
        def send(frame):
            nonlocal sent
            conn.sock.sendall(frame)
            sent += len(frame)
        def read():
            nonlocal received
            f = {}
            op, data = ws_read(conn, f)
            received += f["size"]
            return op, data, f["first"]
        if status == 101:
            import hashlib
            want = base64.b64encode(hashlib.sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()).decode()
            res["accept_ok"] = hdrs.get("sec-websocket-accept") == want
            res["extensions"] = hdrs.get("sec-websocket-extensions")
            send(ws_frame(1, b"hello through airlock"))
            op, data, _ = read()
            res["text"] = [op, data.decode()]
            blob = os.urandom(70000)
            send(ws_frame(2, blob[:100]))
            op, data, _ = read()
            res["binary_ok"] = op == 2 and data == blob[:100]
            # A compressed message (RFC 7692: RSV1, raw deflate without the trailing 00 00 ff ff).
            c = zlib.compressobj(wbits=-15)
            deflated = (c.compress(b"compressed " * 20) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
            send(ws_frame(1, deflated, rsv=0x40))
            op, data, first = read()
            res["deflate_ok"] = op == 1 and first & 0x40 != 0 and \
                zlib.decompressobj(wbits=-15).decompress(data + b"\x00\x00\xff\xff") == b"compressed " * 20
            send(ws_frame(1, b"airlock-test:headers"))
            op, data, _ = read()
            res["upgrade"] = json.loads(data)
            time.sleep(1.2)  # a lifetime the audit line must show
            send(ws_frame(8, struct.pack(">H", 1000)))
            op, data, _ = read()
            res["close"] = [op, list(data)]
        res["sent"], res["received"] = sent, received
        print(json.dumps(res))
    elif cmd == "across":  # across PROXY CA SHELL-CMD: request, run the command, request again on the same connection
        conn = Conn(tunnel(sys.argv[2], sys.argv[3]))
        s1, _, b1 = conn.request("/echo")
        subprocess.run(sys.argv[4], shell=True, check=True)
        try:
            s2, h2, b2 = conn.request("/echo")
            second = {"status": s2, "airlock_error": h2.get("x-airlock-error"), "body": b2.decode(errors="replace")}
        except Exception as e:
            second = {"status": None, "error": "%s: %s" % (type(e).__name__, e)}
        print(json.dumps({"first": {"status": s1, "body": b1.decode(errors="replace")}, "second": second}))

main()
PY

if python3 "$tmp/pyclient.py" ws "$url" "$ca" >"$tmp/out/ws.json" 2>"$tmp/out/ws.err"; then
  json_check "WebSocket: 101 with the right Sec-WebSocket-Accept through the proxy" "$tmp/out/ws.json" "e['status'] == 101 and e['accept_ok']"
  json_check "WebSocket: text and binary frames echo" "$tmp/out/ws.json" \
    "e.get('text') == [1, 'hello through airlock'] and e.get('binary_ok')"
  json_check "WebSocket: close is answered" "$tmp/out/ws.json" "e.get('close', [None])[0] == 8"
  json_check "WebSocket: the upgrade request carried the credential" "$tmp/out/ws.json" \
    "[v for k, v in e['upgrade']['headers'] if k.lower() == 'x-api-key'] == ['$secret_api']"
  json_check "WebSocket: the client's permessage-deflate offer reached the upstream unchanged" "$tmp/out/ws.json" \
    "[v for k, v in e['upgrade']['headers'] if k.lower() == 'sec-websocket-extensions'] == [e['offer']]"
  json_check "WebSocket: the upstream's permessage-deflate answer reached the client; a compressed message echoes" \
    "$tmp/out/ws.json" "e.get('extensions') == 'permessage-deflate' and e.get('deflate_ok')"
  # The audit line of a WebSocket is written when it closes: its lifetime and the frame
  # bytes each way (once, not "101, 0 bytes, a few ms" at the upgrade).
  python3 - "$AIRLOCK_HOME/audit.jsonl" "$tmp/out/ws.json" >"$tmp/out/ws-audit.json" <<'PY'
import json, sys, time
ws = json.load(open(sys.argv[2]))
found = []
for _ in range(50):
    found = [r for r in map(json.loads, open(sys.argv[1])) if r.get("path") == "/ws" and r.get("status") == 101]
    if found: break
    time.sleep(0.1)
print(json.dumps({"records": found, "sent": ws["sent"], "received": ws["received"]}))
PY
  json_check "WebSocket: one audit line, written at close: lifetime and frame bytes each way" "$tmp/out/ws-audit.json" \
    "len(e['records']) == 1 and e['records'][0]['duration_ms'] >= 1000 and e['records'][0]['bytes_up'] == e['sent'] and e['records'][0]['bytes_down'] == e['received'] and e['sent'] > 0 and e['received'] > 0 and e['records'][0]['rule'] == 'anthropic'"
else not_ok "WebSocket through the proxy: $(tail -3 "$tmp/out/ws.err")"; fi

if python3 "$tmp/pyclient.py" across "$url" "$ca" \
    "printf '%s\n' '$secret_api2' >'$secret_file' && '$bin' proxy reload >'$logs/reload-across.out' 2>'$logs/reload-across.err' && sleep 1" \
    >"$tmp/out/across.json" 2>"$tmp/out/across.err"; then
  json_check "reload: the first request on the connection had the old secret" "$tmp/out/across.json" \
    "e['first']['status'] == 200 and '$secret_api' in e['first']['body']"
  json_check "reload keeps an open connection, and its next request carries the new secret" "$tmp/out/across.json" \
    "e['second']['status'] == 200 and '$secret_api2' in e['second']['body'] and '$secret_api\"' not in e['second']['body']"
else not_ok "a connection across reload: $(tail -3 "$tmp/out/across.err")"; fi
current_secret=$secret_api2

# OAuth tokens go to Authorization: Bearer, never x-api-key.
if set_secret "$secret_oat" oauth; then
  c https://api.anthropic.com/echo -H "x-api-key: $placeholder" -o "$tmp/out/oat.json" 2>"$tmp/out/oat.err" || true
  json_check "an OAuth secret is sent as Authorization: Bearer, with no x-api-key" "$tmp/out/oat.json" \
    "hv('authorization') == ['Bearer $secret_oat'] and hv('x-api-key') == []"
  c https://api.anthropic.com/echo -H "Authorization: Bearer sk-ant-oat01-airlock-placeholder" -o "$tmp/out/oat2.json" 2>"$tmp/out/oat2.err" || true
  json_check "an OAuth secret replaces the client's Authorization placeholder" "$tmp/out/oat2.json" \
    "hv('authorization') == ['Bearer $secret_oat'] and hv('x-api-key') == []"
  set_secret "$secret_api2" back || true
else not_ok "reload to an OAuth secret takes effect"; fi

# A removed client: refused on a new connection, and on its open one.
got=$(code_of --proxy "$url2" --cacert "$ca" https://api.anthropic.com/echo)
[ "$got" = 200 ] || not_ok "tester2 works before removal (got '$got')"
al client-remove2 proxy client remove tester2 >/dev/null
got=$(code_of --proxy "$url2" --cacert "$ca" https://api.anthropic.com/echo)
[ "$got" = 407 ] && ok "a removed client is refused on a new connection (407)" || not_ok "a removed client is refused on a new connection (got '$got')"
if python3 "$tmp/pyclient.py" across "$url3" "$ca" \
    "'$bin' proxy client remove tester3 >'$logs/client-remove3.out' 2>'$logs/client-remove3.err'" \
    >"$tmp/out/removed.json" 2>"$tmp/out/removed.err"; then
  json_check "a removed client's next request on its open connection is refused" "$tmp/out/removed.json" \
    "e['first']['status'] == 200 and e['second']['status'] in (407, None) and '$current_secret' not in e['second'].get('body', '')"
else not_ok "a removed client on its open connection: $(tail -3 "$tmp/out/removed.err")"; fi

# ---- Python's urllib with https_proxy -----------------------------------------------------------
if https_proxy=$url HTTPS_PROXY=$url SSL_CERT_FILE=$ca python3 -c '
import urllib.request, sys
sys.stdout.write(urllib.request.urlopen("https://api.anthropic.com/echo", timeout=20).read().decode())' \
    >"$tmp/out/urllib.json" 2>"$tmp/out/urllib.err"; then
  json_check "urllib with https_proxy and SSL_CERT_FILE gets the credential injected" "$tmp/out/urllib.json" \
    "hv('x-api-key') == ['$current_secret']"
else not_ok "urllib with https_proxy: $(tail -2 "$tmp/out/urllib.err")"; fi

# ---- big transfers, memory ---------------------------------------------------------------------
# Flat memory: the peak after a warm-up transfer of 64 MiB each way is the baseline; the 1 GiB
# transfers must not raise it by more than 32 MiB. (Sanitizer builds carry allocator overhead,
# so the absolute bound below applies to plain builds only.)
curl -sS --max-time 300 --proxy "$url" --cacert "$ca" "https://api.anthropic.com/bytes?n=67108864" -o /dev/null || true
head -c 67108864 /dev/zero | curl -sS --max-time 300 --proxy "$url" --cacert "$ca" -X POST -T - \
  -H 'Transfer-Encoding: chunked' https://api.anthropic.com/upload -o /dev/null || true
hwm_warm=$(awk '/^VmHWM/ {print $2}' "/proc/$proxy_pid/status" 2>/dev/null || echo 0)
want=$(python3 "$here/upstream.py" --pattern-sha256 "$big_bytes")
t0=$(date +%s.%N)
set +e
got=$(curl -sS --max-time 900 --proxy "$url" --cacert "$ca" "https://api.anthropic.com/bytes?n=$big_bytes" 2>"$tmp/out/down.err" | sha256sum | cut -d' ' -f1)
st=("${PIPESTATUS[@]}")
set -e
secs=$(python3 -c "import time; print('%.1f' % (time.time() - $t0))")
if [ "${st[0]}" -eq 0 ] && [ "$got" = "$want" ]; then ok "download $big through the intercepted host: sha256 matches (${secs}s)"
else not_ok "download $big: curl exit ${st[0]}, sha256 $got, want $want: $(cat "$tmp/out/down.err")"; fi

t0=$(date +%s.%N)
set +e
head -c "$big_bytes" /dev/urandom | tee >(sha256sum | cut -d' ' -f1 >"$tmp/out/up.sha") |
  curl -sS --max-time 900 --proxy "$url" --cacert "$ca" -X POST -T - -H 'Transfer-Encoding: chunked' \
    https://api.anthropic.com/upload -o "$tmp/out/up.json" 2>"$tmp/out/up.err"
st=("${PIPESTATUS[@]}")
set -e
for _ in $(seq 100); do [ -s "$tmp/out/up.sha" ] && break; sleep 0.1; done
secs=$(python3 -c "import time; print('%.1f' % (time.time() - $t0))")
if [ "${st[2]}" -eq 0 ] && has_json "$tmp/out/up.json" "e['sha256'] == '$(cat "$tmp/out/up.sha")' and e['len'] == $big_bytes" 2>/dev/null; then
  ok "upload $big through the intercepted host: sha256 matches (${secs}s)"
else not_ok "upload $big: curl exit ${st[2]}, sent $(cat "$tmp/out/up.sha"), upstream: $(cat "$tmp/out/up.json" 2>/dev/null) $(cat "$tmp/out/up.err")"; fi

hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$proxy_pid/status" 2>/dev/null || echo 0)
echo "# proxy peak RSS (VmHWM) after the big transfers: $((hwm / 1024)) MiB"
growth=$(( ${hwm:-0} - ${hwm_warm:-0} ))
echo "# proxy peak RSS after 64 MiB warm-up: $((hwm_warm / 1024)) MiB; growth over the $big transfers: $((growth / 1024)) MiB"
# Sanitizer allocators add noise (quarantine, shadow pages): there the bound is 256 MiB, still
# a quarter of what buffering a 1 GiB body would add.
limit=32768
[ "${AIRLOCK_SANITIZE:-none}" = none ] || limit=262144
[ "${hwm:-0}" -gt 0 ] && [ "$growth" -lt "$limit" ] && ok "proxy memory flat over $big transfers (grew ${growth} kB < ${limit} kB)" ||
  not_ok "proxy memory grew ${growth} kB over the $big transfers (peak ${hwm:-?} kB)"
if [ "${AIRLOCK_SANITIZE:-none}" = none ]; then
  [ "${hwm:-0}" -gt 0 ] && [ "$hwm" -lt 102400 ] && ok "proxy peak RSS ${hwm} kB < 100 MB" || not_ok "proxy peak RSS ${hwm:-?} kB < 100 MB"
fi

# Framing and smuggling: smuggling.sh, against an upstream that accepts bare LF.

# ---- upstream connection pool -------------------------------------------------------------------
cid() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["connection_id"])' "$1" 2>/dev/null || echo "?"; }
handshakes() { al status proxy status | sed -n 's/^upstream TLS handshakes: \([0-9]*\).*/\1/p'; }
h0=$(handshakes)
for i in 1 2 3 4 5 6; do c -o "$tmp/out/pool$i.json" https://api.anthropic.com/echo || true; done
h1=$(handshakes)
# Pools are per worker thread (threads = 2): at most one new upstream connection each.
[ -n "$h0" ] && [ -n "$h1" ] && [ $((h1 - h0)) -le 2 ] && ok "six connections one after another reuse idle upstream connections ($((h1 - h0)) new)" \
  || not_ok "six connections one after another reuse idle upstream connections (handshakes $h0 -> $h1)"
mine=$(for i in 1 2 3 4 5 6; do cid "$tmp/out/pool$i.json"; done | sort -u)
url4=$(al client-add4 proxy client add tester4)
for i in 1 2 3 4; do
  curl -sS --max-time 20 --proxy "$url4" --cacert "$ca" -o "$tmp/out/other$i.json" https://api.anthropic.com/echo || true
done
theirs=$(for i in 1 2 3 4; do cid "$tmp/out/other$i.json"; done | sort -u)
if [ -n "$theirs" ] && ! grep -qx '?' <<<"$theirs" && [ -z "$(comm -12 <(echo "$mine") <(echo "$theirs"))" ]; then
  ok "another client never gets those upstream connections"
else not_ok "another client never gets those upstream connections (mine: $(echo $mine), theirs: $(echo $theirs))"; fi
# Two connections after each of these cover both workers, so one of them meets the
# connection the upstream closed (or will drop) in its worker's pool.
c -o "$tmp/out/soon.json" https://api.anthropic.com/close-soon || true
sleep 0.6
codes=$(for i in 1 2; do c -o "$tmp/out/after-soon$i.json" -w '%{http_code} ' https://api.anthropic.com/echo || true; done)
ids=$(for i in 1 2; do cid "$tmp/out/after-soon$i.json"; done)
[ "$codes" = "200 200 " ] && ! grep -qx "$(cid "$tmp/out/soon.json")" <<<"$ids" \
  && ok "an idle upstream connection the upstream closed is not reused" \
  || not_ok "an idle upstream connection the upstream closed is not reused (codes '$codes', $(cid "$tmp/out/soon.json") then $(echo $ids))"
c -o "$tmp/out/drop.json" https://api.anthropic.com/drop-next || true
codes=$(for i in 1 2; do c -o "$tmp/out/after-drop$i.json" -w '%{http_code} ' https://api.anthropic.com/echo || true; done)
ids=$(for i in 1 2; do cid "$tmp/out/after-drop$i.json"; done)
[ "$codes" = "200 200 " ] && ! grep -qx "$(cid "$tmp/out/drop.json")" <<<"$ids" \
  && ok "a request whose reused upstream connection closes unanswered is sent again on a new one" \
  || not_ok "a request whose reused upstream closes unanswered is sent again (codes '$codes', $(cid "$tmp/out/drop.json") then $(echo $ids))"

# ---- status, audit ------------------------------------------------------------------------------
run_capture al status proxy status
if grep -q '^open connections:' <<<"$out" && grep -q '^requests:' <<<"$out"; then ok "proxy status shows connections and requests"
else not_ok "proxy status shows connections and requests: $out"; fi
resumed=$(sed -n 's/^upstream TLS handshakes: [0-9]* (\([0-9]*\) resumed)$/\1/p' <<<"$out")
if [ "${resumed:-0}" -ge 1 ]; then ok "new connections to an upstream resume its TLS session ($(grep '^upstream TLS' <<<"$out"))"
else not_ok "new connections to an upstream resume its TLS session: $out"; fi

audit=$AIRLOCK_HOME/audit.jsonl
before=$(cat "$audit" 2>/dev/null | wc -l)
c "https://api.anthropic.com/echo/audit-one?token=do-not-log" "https://api.anthropic.com/echo/audit-two?x=1" \
  "https://api.anthropic.com/echo/audit-three" -o /dev/null -o /dev/null -o /dev/null 2>/dev/null || true
sleep 1
after=$(cat "$audit" 2>/dev/null | wc -l)
[ $((after - before)) -eq 3 ] && ok "audit: one line per request (3 requests, 3 lines)" \
  || not_ok "audit: one line per request (3 requests, $((after - before)) new lines)"
if python3 - "$audit" >"$tmp/out/audit.txt" 2>&1 <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
mine = [r for r in lines if r.get("path", "").startswith("/echo/audit-")]
assert len(mine) == 3, "want 3 audit-* records, got %d" % len(mine)
for r in mine:
    for k in ("client", "method", "host", "path", "status", "decision", "rule"):
        assert k in r, "missing %s in %s" % (k, r)
    assert r["client"] == "tester" and r["method"] == "GET" and r["host"] == "api.anthropic.com", r
    assert r["status"] == 200 and r["decision"] == "intercept" and r["rule"] == "anthropic", r
    assert "?" not in r["path"] and "do-not-log" not in json.dumps(r), r
denied = [r for r in lines if r.get("status") == 407]
assert denied, "no 407 record"
PY
then ok "audit: client, method, host, path without query, status, decision, rule"
else not_ok "audit records: $(tail -3 "$tmp/out/audit.txt")"; fi

# ---- stop, then no secret anywhere airlock wrote --------------------------------------------------
run_capture al stop proxy stop
[ "$rc" -eq 0 ] && ok "proxy stop" || not_ok "proxy stop (exit $rc): $out"
[ ! -e "$AIRLOCK_HOME/proxy.pid" ] && ok "proxy stop removes proxy.pid" || not_ok "proxy stop removes proxy.pid"
leaks=$( { grep -rlF "${all_secrets[@]/#/-e}" "$AIRLOCK_HOME" "$logs" --exclude-dir=secrets 2>/dev/null || true; } )
if [ -z "$leaks" ]; then ok "no secret in audit.jsonl, proxy.log, sessions.db or any airlock output"
else not_ok "a secret leaked into: $leaks"; fi
ls "$AIRLOCK_HOME"/audit.jsonl >/dev/null 2>&1 && [ -s "$AIRLOCK_HOME/proxy.log" ] && ok "audit.jsonl and proxy.log exist (the grep saw them)" \
  || not_ok "audit.jsonl and proxy.log exist: $(ls "$AIRLOCK_HOME")"

# ---- connection limits ([proxy] max_connections, max_connections_per_client) -------------------
sed -i 's/^threads = 2$/threads = 2\nmax_connections = 3\nmax_connections_per_client = 2/' "$AIRLOCK_HOME/config.toml"
run_capture al start-limits proxy start
if [ "$rc" -eq 0 ]; then
  if python3 - "$proxy_port" "$url" "$url4" >"$tmp/out/limits.txt" 2>&1 <<'PY'
import base64, socket, sys, time, urllib.parse
port = int(sys.argv[1])
def connect(url):
    u = urllib.parse.urlsplit(url)
    auth = base64.b64encode(f"{u.username}:{u.password}".encode()).decode()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n"
              f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head.decode("latin-1")
held = []
a1, h = connect(sys.argv[2]); held.append(a1); assert " 200 " in h.split("\r\n")[0], h
a2, h = connect(sys.argv[2]); held.append(a2); assert " 200 " in h.split("\r\n")[0], h
a3, h = connect(sys.argv[2])
assert " 503 " in h.split("\r\n")[0] and "X-Airlock-Error: limit" in h, "third of one client: " + h
print("per client:", h.split("\r\n")[0])
a3.close()
time.sleep(0.5)  # the refused connection's count goes when the proxy has closed it
b1, h = connect(sys.argv[3]); held.append(b1); assert " 200 " in h.split("\r\n")[0], "other client: " + h
b2, h = connect(sys.argv[3])
assert " 503 " in h.split("\r\n")[0] and "X-Airlock-Error: limit" in h, "fourth in all: " + h
print("in all:", h.split("\r\n")[0])
PY
  then ok "connection limits: a client's third connection and the proxy's fourth are refused with 503 limit"
  else not_ok "connection limits: $(tail -3 "$tmp/out/limits.txt")"; fi
  al stop-limits proxy stop >/dev/null || true
else not_ok "proxy start with connection limits (exit $rc): $out $(cat "$logs/start-limits.err")"; fi

finish
