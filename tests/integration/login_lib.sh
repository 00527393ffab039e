# Sourced by login.sh and login_docker.sh: a test CA, the providers' stand-ins
# (login_standin.py) on one TLS port for every login host, and helpers to ask them.
# Needs $tmp, $here; sets $port_up, $control, $standin_pid, $hosts, and writes each CLI's
# login file into $tmp/host/.
hosts=(api.anthropic.com platform.claude.com console.anthropic.com chatgpt.com auth.openai.com
       cloudcode-pa.googleapis.com oauth2.googleapis.com)
mkdir -p "$tmp/host"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$tmp/test-ca.key" -out "$tmp/test-ca.pem" -days 2 \
  -subj /CN=airlock-test-login-ca -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req "${ec[@]}" -keyout "$tmp/up.key" -out "$tmp/up.csr" -subj /CN=standin 2>/dev/null
san=$(printf 'DNS:%s,' "${hosts[@]}"); san=${san%,}
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' "$san" >"$tmp/up.ext"
openssl x509 -req -in "$tmp/up.csr" -CA "$tmp/test-ca.pem" -CAkey "$tmp/test-ca.key" -CAcreateserial \
  -days 2 -out "$tmp/up.pem" -extfile "$tmp/up.ext" 2>/dev/null
python3 "$here/login_standin.py" --cert "$tmp/up.pem" --key "$tmp/up.key" --port-file "$tmp/up.port" \
  --control-port-file "$tmp/control.port" --dir "$tmp/host" --lifetime 4 >"$tmp/standin.log" 2>&1 </dev/null &
standin_pid=$!
for _ in $(seq 100); do [ -s "$tmp/up.port" ] && [ -s "$tmp/control.port" ] && break; sleep 0.1; done
[ -s "$tmp/up.port" ] || { echo "Bail out! stand-in did not start: $(cat "$tmp/standin.log")"; exit 1; }
port_up=$(cat "$tmp/up.port")
control="http://127.0.0.1:$(cat "$tmp/control.port")"
standin_state() { curl -sf "$control/state"; }
standin_post() { curl -sf -X POST "$control/$1" >/dev/null; }

# The [proxy] and [proxy.resolve] lines of config.toml that send every login host to the stand-in.
login_proxy_config() {  # login_proxy_config PORT
  printf '[proxy]\nport = %s\nupstream_ca = "%s"\n\n[proxy.resolve]\n' "$1" "$tmp/test-ca.pem"
  for h in "${hosts[@]}"; do printf '"%s:443" = "127.0.0.1:%s"\n' "$h" "$port_up"; done
}

# login_verdict OUT1 OUT2: the checks on two clients' results (login_client.py) and the
# stand-in's state after a run through several refreshes.
login_verdict() {
  standin_state >"$tmp/state.json"
  python3 - "$1" "$2" "$tmp/state.json" >"$tmp/verdict" <<'PY' || true
import json, sys
c = []
for p in sys.argv[1:3]:
    try:
        c.append(json.load(open(p)))
    except (OSError, ValueError):
        c.append({"api": {}, "own_refresh": {}, "problems": ["no result in %s" % p]})
s = json.load(open(sys.argv[3]))
out = []
ok_all = all(r["api"] for r in c) and all(set(r["api"][p]) == {"200"} and r["api"][p]["200"] > 20 for r in c for p in r["api"])
out.append(("every API request of both clients got 200 (%s)" % [r["api"] for r in c], ok_all))
out.append(("the stand-in saw no violation: valid current tokens only, each rotating refresh token spent once, no placeholder upstream (%s)" % s["violations"][:5], not s["violations"]))
out.append(("each login was refreshed by the proxy at least twice during the run (%s)" % s["refreshes"], all(n >= 2 for n in s["refreshes"].values())))
out.append(("each client's own refreshes were answered with placeholders by the proxy, never forwarded (%s %s)" % ([r["own_refresh"] for r in c], [r["problems"][:3] for r in c]), all(r["own_refresh"] for r in c) and all(n >= 1 for r in c for n in r["own_refresh"].values()) and not any(r["problems"] for r in c)))
for name, good in out:
    print(("ok - " if good else "not ok - ") + name)
PY
  while read -r line; do case $line in "ok - "*) ok "${line#ok - }";; *) not_ok "${line#not ok - }";; esac; done <"$tmp/verdict"
}
