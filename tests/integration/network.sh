#!/usr/bin/env bash
# shellcheck disable=SC2016  # container commands are single-quoted on purpose
# What a session can reach, against a real Docker engine, for --network confined (the
# default) and --network open (to prove the probes can tell the two apart).
#
# From inside a session, directly (never through the proxy): a host service listening on all
# addresses, via host.docker.internal, every bridge gateway and every other address of the
# host (IPv4 and IPv6); the proxy's own TCP port; another container on the default bridge;
# another session (an open one serving HTTP); a DNS server on the host (UDP) and the
# resolution of an outside name; a simulated cloud metadata endpoint (169.254.169.254 in a
# network namespace this test makes, routed only for the bridge's containers); the
# container's interfaces (IPv6 included). Confined must reach none of them, open must reach
# the host, the other container, the other session, the DNS server and the metadata address.
# Both must reach the proxy, which injects the credential.
#
# Then, confined only: python, a WebSocket upgrade and git over HTTPS through the relay; logs,
# attach, exit codes; a proxy restart (the mounted socket directory picks up the new socket);
# a 502 naming the problem while the proxy is down; refresh.
#
# Needs a Docker engine and the local test images (tests/images/build-images). The metadata
# check needs root (ip netns); without it those checks are skipped, saying so.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bin=${AIRLOCK_BIN:?set AIRLOCK_BIN to the airlock binary}
root=${AIRLOCK_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
helpers=$here/session_helpers.py

require_docker
for tool in curl openssl python3 git ip; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed"; exit 77; }
done
AGENT_IMAGE=airlock-test/agent:latest
docker image inspect "$AGENT_IMAGE" >/dev/null 2>&1 || "$root/tests/images/build-images" agent >&2 \
  || { echo "Bail out! cannot build the test images (tests/images/build-images)"; exit 1; }

tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
logs=$tmp/airlock-output
mkdir -p "$logs" "$tmp/out"
run=nt$$
sessions=()
pids=()
victim=airlock-test-$run-victim
netns=airlock-test-$run-md
veth_host=al$$h
md_table=$((20000 + $$ % 10000))
md_rule=
export AIRLOCK_HOME=$tmp/home
# This home's id, so container names (airlock-<session>-<id>) are known up front.
hid=n$(printf '%09d' $$ | tail -c 9)
mkdir -p "$AIRLOCK_HOME"
echo "$hid" >"$AIRLOCK_HOME/home-id"

cleanup() {
  set +e
  local s ids
  for s in "${sessions[@]}"; do "$bin" delete --force --delete-branch "$s" >>"$logs/trap.out" 2>>"$logs/trap.err"; done
  "$bin" proxy stop --grace 1 >>"$logs/trap.out" 2>>"$logs/trap.err"
  ids=$(docker ps -aq --filter "label=dev.airlock.home=$AIRLOCK_HOME")
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
  ids=$(docker volume ls -q --filter "label=dev.airlock.home=$AIRLOCK_HOME")
  [ -z "$ids" ] || docker volume rm -f $ids >/dev/null 2>&1
  docker rm -f "$victim" >/dev/null 2>&1
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -z "$md_rule" ] || ip rule del $md_rule 2>/dev/null
  ip route flush table "$md_table" 2>/dev/null
  ip link del "$veth_host" 2>/dev/null
  ip netns pids "$netns" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns del "$netns" 2>/dev/null
  if [ "${AIRLOCK_TEST_KEEP:-}" = 1 ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

alx() {
  local name=$1; shift
  set +e
  "$bin" "$@" >"$logs/$name.out" 2>"$logs/$name.err"
  rc=$?
  set -e
  aout=$(cat "$logs/$name.out"); aerr=$(cat "$logs/$name.err")
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json_check() {
  local name=$1 file=$2 expr=$3 why
  if why=$(python3 "$helpers" json "$file" "$expr" 2>&1); then ok "$name"; else not_ok "$name: $why"; fi
}
short() { head -c "${2:-600}" <<<"$1" | tr '\n' '|'; }
sha() { python3 "$helpers" sha256 "$1"; }
wait_file() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }
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

mkdir -p "$AIRLOCK_HOME/secrets"
proxy_port=$(free_port)
cat >"$AIRLOCK_HOME/config.toml" <<TOML
[docker]
image = "$AGENT_IMAGE"
pull_policy = "never"

[proxy]
port = $proxy_port
upstream_ca = "$tmp/test-ca.pem"

[proxy.resolve]
"api.anthropic.com:443" = "127.0.0.1:$upstream_port"

[[credential]]
name = "anthropic"
preset = "anthropic"
secret = { file = "secrets/anthropic" }
TOML
secret="sk-ant-api03-REALSECRET-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
secret_sha=$(sha "$secret")
(umask 077; printf '%s\n' "$secret" >"$AIRLOCK_HOME/secrets/anthropic")

export GIT_AUTHOR_NAME="airlock test" GIT_AUTHOR_EMAIL=test@airlock.invalid
export GIT_COMMITTER_NAME="airlock test" GIT_COMMITTER_EMAIL=test@airlock.invalid
repo=$tmp/repo
git init -q "$repo"
git -C "$repo" checkout -q -b main
cp "$here/reach_servers.py" "$repo/reach_servers.py"
git -C "$repo" add -A
git -C "$repo" commit -q -m initial

# ---- what the sessions will try to reach ---------------------------------------------------
background host-service python3 "$here/reach_servers.py" tcp "HOST-SERVICE-$run" 0 --port-file "$tmp/host.port"
background host-dns python3 "$here/reach_servers.py" dns 0 --port-file "$tmp/dns.port"
wait_file "$tmp/host.port" && wait_file "$tmp/dns.port" || { echo "Bail out! the host services did not start"; exit 1; }
host_port=$(cat "$tmp/host.port")
dns_port=$(cat "$tmp/dns.port")

docker run -d --name "$victim" --label dev.airlock.test=1 --network bridge "$AGENT_IMAGE" \
  python3 -c "$(cat "$here/reach_servers.py")" tcp "VICTIM-$run" 8080 >/dev/null
victim_ip=$(docker inspect -f '{{.NetworkSettings.Networks.bridge.IPAddress}}' "$victim")
gateways=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}} {{end}}')
# Every address of the host but loopback and the bridges' (those are the gateways above).
host_addrs=$(ip -o addr show scope global | awk '$2 !~ /^(docker|br-|veth)/ {split($4, a, "/"); print a[1]}')

# A cloud metadata endpoint, simulated: 169.254.169.254 inside a network namespace of ours,
# routed (policy routing: only for traffic from the default bridge's subnet, so the host's
# own route to the address is untouched) through a veth pair. Nothing leaves this machine.
metadata=0
bridge_subnet=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}')
if [ "$(id -u)" -eq 0 ] && ip netns add "$netns" 2>/dev/null; then
  if ip link add "$veth_host" type veth peer name al$$n \
      && ip link set al$$n netns "$netns" \
      && ip addr add 198.18.254.1/30 dev "$veth_host" && ip link set "$veth_host" up \
      && ip -n "$netns" addr add 198.18.254.2/30 dev al$$n \
      && ip -n "$netns" addr add 169.254.169.254/32 dev al$$n \
      && ip -n "$netns" link set al$$n up && ip -n "$netns" link set lo up \
      && ip -n "$netns" route add default via 198.18.254.1 \
      && ip route add 169.254.169.254/32 via 198.18.254.2 dev "$veth_host" table "$md_table" \
      && md_rule="from $bridge_subnet to 169.254.169.254/32 table $md_table priority $md_table" \
      && ip rule add $md_rule; then
    background metadata ip netns exec "$netns" python3 "$here/reach_servers.py" tcp "METADATA-$run" 80 \
      --bind 169.254.169.254 --port-file "$tmp/md.port"
    wait_file "$tmp/md.port" && metadata=1
  fi
fi
[ "$metadata" = 1 ] || echo "# the metadata endpoint cannot be simulated here (needs root and ip netns): its checks are skipped"

# Another session: open, serving HTTP on 8080 (the worst case for its neighbours).
other=$run-other
sessions+=("$other")
alx create-other create --agent shell --name "$other" --repo "$repo" --network open \
  --prompt "exec python3 /workspace/reach_servers.py tcp SESSION-$run 8080"
[ "$rc" -eq 0 ] || { echo "Bail out! create of the other session failed: $aerr"; exit 1; }
other_ip=$(docker inspect -f '{{.NetworkSettings.Networks.bridge.IPAddress}}' "airlock-$other-$hid")

targets=$tmp/targets.json
python3 - "$targets" "$host_port" "$dns_port" "$proxy_port" "$victim_ip" "$other_ip" "$metadata" "$gateways" "$host_addrs" <<'PY'
import json, sys
out, hp, dp, pp, victim, other, md, gws, addrs = sys.argv[1:]
t = [{"name": "a host service via host.docker.internal", "kind": "tcp", "host": "host.docker.internal", "port": int(hp), "open": True}]
for g in gws.split():
    t.append({"name": "a host service via the bridge gateway %s" % g, "kind": "tcp", "host": g, "port": int(hp), "open": True})
    t.append({"name": "the proxy's TCP port on the gateway %s" % g, "kind": "tcp", "host": g, "port": int(pp), "open": True})
    t.append({"name": "a DNS server on the host (UDP %s)" % g, "kind": "dns", "host": g, "port": int(dp), "open": True})
for a in addrs.split():
    # Open containers have no IPv6 route on the default bridge: only IPv4 is expected there.
    t.append({"name": "a host service via the host's address %s" % a, "kind": "tcp", "host": a, "port": int(hp), "open": ":" not in a})
t.append({"name": "another container on the default bridge (%s)" % victim, "kind": "tcp", "host": victim, "port": 8080, "open": True})
t.append({"name": "another session's server (%s)" % other, "kind": "tcp", "host": other, "port": 8080, "open": True})
if md == "1":
    t.append({"name": "the metadata address 169.254.169.254 (simulated)", "kind": "tcp", "host": "169.254.169.254", "port": 80, "open": True})
t.append({"name": "a network interface other than lo (IPv4 or IPv6)", "kind": "ifaces", "open": True,
          "confined_text": "has no network interface but lo, IPv4 or IPv6", "open_text": "has a network interface besides lo"})
# No internet here: the name does not resolve in open sessions either, so only confined is checked.
t.append({"name": "an outside name (example.com)", "kind": "resolve", "host": "example.com", "open": None,
          "confined_text": "cannot resolve an outside name (example.com)"})
json.dump(t, open(out, "w"))
PY

# probe MODE SESSION: every target from inside SESSION, judged for MODE
probe() {
  local mode=$1 s=$2 c=airlock-$2-$hid
  docker exec -i "$c" python3 - "$(cat "$targets")" <"$here/reach_probe.py" >"$tmp/out/reach-$mode.json" 2>"$tmp/out/reach-$mode.err" \
    || { not_ok "$mode: the probe ran in $c: $(short "$(cat "$tmp/out/reach-$mode.err")")"; return; }
  python3 - "$targets" "$tmp/out/reach-$mode.json" "$mode" <<'PY'
import json, sys
targets, got, mode = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
for t in targets:
    r = got[t["name"]]
    if mode == "confined":
        verdict = "ok" if not r["reached"] else "not ok"
        what = t.get("confined_text", "cannot reach " + t["name"])
        print("%s - confined: %s (%s)" % (verdict, what, r["detail"][:160]))
    elif t["open"] is None or (t["open"] is False and not r["reached"]):
        print("# open: %s: %s (not expected here)" % (t["name"], r["detail"][:160]))
    else:
        verdict = "ok" if r["reached"] else "not ok"
        what = t.get("open_text", "reaches " + t["name"])
        print("%s - open: %s, so the probe can tell (%s)" % (verdict, what, r["detail"][:160]))
PY
}

# through_proxy MODE SESSION: curl in SESSION through its HTTPS_PROXY; the upstream gets the real key
through_proxy() {
  local mode=$1 c=airlock-$2-$hid what=$3
  run_capture docker exec "$c" sh -c 'curl -sS --max-time 20 -H "x-api-key: $ANTHROPIC_API_KEY" https://api.anthropic.com/echo'
  printf '%s' "$out" >"$tmp/out/proxy-$mode-$what.json"
  if [ "$rc" -eq 0 ]; then
    json_check "$mode: curl through the proxy works $what, and the upstream got the real key" "$tmp/out/proxy-$mode-$what.json" \
      "e['ok'] and e['x_api_key_sha256'] == ['$secret_sha'] and e['x_api_key_is_placeholder'] == [False]"
  else not_ok "$mode: curl through the proxy $what (exit $rc): $(short "$out")"; fi
}

wait_running() {  # wait_running CONTAINER MARKER: running, and MARKER in its logs
  for _ in $(seq 100); do
    docker logs "$1" 2>&1 | grep -q "$2" && return 0
    sleep 0.2
  done
  return 1
}

# ==== confined and open ========================================================================
for mode in confined open; do
  s=$run-$mode
  sessions+=("$s")
  netargs=()
  [ "$mode" = open ] && netargs=(--network open)
  alx "create-$mode" create --agent shell --name "$s" --repo "$repo" "${netargs[@]}" --prompt 'echo agent-ready; sleep 600'
  if [ "$rc" -ne 0 ]; then not_ok "create --network $mode (exit $rc): $(short "$aerr")"; continue; fi
  ok "create ${netargs[*]:-(default: confined)}"
  if [ "$mode" = confined ]; then
    grep -q '^  network: *confined: the proxy is all' <<<"$aout" && ok "create says the session is confined" \
      || not_ok "create says the session is confined: $(short "$aout")"
  else
    grep -q '^  network: *open (UNCONFINED)' <<<"$aout" && ok "create says an open session is unconfined" \
      || not_ok "create says open is unconfined: $(short "$aout")"
  fi
  wait_running "airlock-$s-$hid" agent-ready || not_ok "$mode: the agent started (logs: $(docker logs "airlock-$s-$hid" 2>&1 | tail -3 | tr '\n' '|'))"
  probe "$mode" "$s"
  through_proxy "$mode" "$s" "from the start"
done

alx list list
grep -Eq "^$run-confined .* confined$" <<<"$aout" && grep -Eq "^$run-open .* open \(unconfined\)$" <<<"$aout" \
  && ok "list shows each session's network, open ones as unconfined" || not_ok "list shows the network column: $(short "$aout")"
alx show show "$run-open"
grep -q '^network_reach: *open (UNCONFINED)' <<<"$aout" && ok "show says an open session is unconfined" \
  || not_ok "show says open is unconfined: $(short "$aout")"

# ==== the confined container, as the engine has it ===========================================
s=$run-confined
c=airlock-$s-$hid
docker inspect "$c" >"$tmp/inspect.json"
json_check "confined: NetworkMode none, no ExtraHosts" "$tmp/inspect.json" \
  "e[0]['HostConfig']['NetworkMode'] == 'none' and not e[0]['HostConfig']['ExtraHosts']"
json_check "confined: the relay and the socket directory are mounted read-only; nothing else of the home's run dir" "$tmp/inspect.json" \
  "(lambda m: m['/run/airlock/relay'][1] is False and m['/run/airlock/proxy'] == ('$AIRLOCK_HOME/run', False))({x['Destination']: (x.get('Source'), x['RW']) for x in e[0]['Mounts']})"
json_check "confined: the relay runs the agent; HTTPS_PROXY is the relay on 127.0.0.1" "$tmp/inspect.json" \
  "e[0]['Config']['Cmd'][:2] == ['/run/airlock/relay', 'exec'] and e[0]['Config']['Cmd'][-3:] == ['sh', '-c', 'echo agent-ready; sleep 600'] and any(x.startswith('HTTPS_PROXY=http://$s:') and x.endswith('@127.0.0.1:$proxy_port') for x in e[0]['Config']['Env'])"
run_capture docker exec "$c" sh -c 'echo x > /run/airlock/proxy/planted'
[ "$rc" -ne 0 ] && [ ! -e "$AIRLOCK_HOME/run/planted" ] && ok "confined: the socket directory is read-only inside" \
  || not_ok "confined: writing into /run/airlock/proxy must fail (exit $rc)"
run_capture docker exec "$c" sh -c 'for p in /proc/[0-9]*; do printf "%s %s\n" "$(cut -d" " -f1-7 $p/stat)" "$(tr "\0" " " <$p/cmdline)"; done'
# stat fields: pid (comm) state ppid pgrp session tty_nr
if python3 - "$out" <<'PY'
import sys
procs = [l.split(" ", 7) for l in sys.argv[1].splitlines() if l.strip()]
relay = [p for p in procs if p[7].startswith("/run/airlock/relay")]
agent = [p for p in procs if p[7].startswith("sh -c echo agent-ready")]
ok = len(relay) == 1 and len(agent) == 1 and relay[0][3] == "1" and relay[0][6] == "0" \
    and relay[0][5] != agent[0][5] and agent[0][6] != "0"
sys.exit(0 if ok else 1)
PY
then ok "confined: the relay runs beside the agent (a child of init, its own session, no terminal: ctrl-c in attach is the agent's)"
else not_ok "confined: the relay's process: $(short "$out" 900)"; fi
[ "$(stat -c %a "$AIRLOCK_HOME/run")" = 700 ] && ok "the socket directory on the host is mode 0700" \
  || not_ok "the socket directory's mode: $(stat -c %a "$AIRLOCK_HOME/run")"

# ==== clients through the relay ===============================================================
run_capture docker exec -i "$c" python3 - urllib <"$here/proxy_clients.py"
printf '%s' "$out" >"$tmp/out/urllib.json"
if [ "$rc" -eq 0 ]; then
  json_check "confined: python urllib through the proxy, the real key injected" "$tmp/out/urllib.json" \
    "e['ok'] and e['x_api_key_sha256'] == ['$secret_sha']"
else not_ok "confined: python urllib (exit $rc): $(short "$out")"; fi
run_capture docker exec -i "$c" python3 - ws <"$here/proxy_clients.py"
printf '%s' "$out" >"$tmp/out/ws.json"
if [ "$rc" -eq 0 ]; then
  json_check "confined: a WebSocket upgrade through the relay: 101, the real key on the upgrade, frames echo, close answered" \
    "$tmp/out/ws.json" \
    "e['status'] == 101 and e['x_api_key_sha256'] == ['$secret_sha'] and e['echo'] == 'hello through the relay' and e['close_opcode'] == 8"
else not_ok "confined: WebSocket (exit $rc): $(short "$out")"; fi
before=$(wc -l <"$upstream_log")
run_capture docker exec "$c" sh -c 'cd /tmp && GIT_TERMINAL_PROMPT=0 git -c http.extraHeader="x-api-key: $ANTHROPIC_API_KEY" ls-remote https://api.anthropic.com/echo/repo.git'
if tail -n +$((before + 1)) "$upstream_log" | python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin if l.strip()]
ua = [v for l in lines for k, v in l["headers"] if k.lower() == "user-agent"]
keys = [v for l in lines for k, v in l["headers"] if k.lower() == "x-api-key"]
sys.exit(0 if any(u.startswith("git/") for u in ua) and keys and all(k == sys.argv[1] for k in keys) else 1)' "$secret"; then
  ok "confined: git over HTTPS reaches the upstream through the relay and the proxy (its request arrived with the real key)"
else not_ok "confined: git over HTTPS through the proxy: $(short "$out")"; fi

# Through the proxy instead: its SSRF guard refuses private and link-local destinations (on
# the allowed port 443, so it is the guard and not the port list that refuses), so the relay
# is no way around confinement either.
for target in 169.254.169.254 "$(awk '{print $1}' <<<"$gateways")" "$victim_ip" "$other_ip"; do
  run_capture docker exec "$c" sh -c "curl -sS -o /dev/null --max-time 10 -w '%{http_connect}' https://$target/"
  if grep -q '403$' <<<"$out" && tail -n 20 "$AIRLOCK_HOME/audit.jsonl" | grep "\"host\":\"$target\"" | grep -q '"status":403'; then
    ok "confined: through the proxy, a CONNECT to $target:443 is refused (403, the SSRF guard)"
  else not_ok "confined: through the proxy, $target:443 must be refused: $(short "$out") $(grep "\"host\":\"$target\"" "$AIRLOCK_HOME/audit.jsonl" | tail -1)"; fi
done

# ==== logs, exit codes, attach =================================================================
alx logs logs "$s"
grep -q agent-ready <<<"$aout" && ok "confined: logs shows the agent's output" || not_ok "confined: logs: $(short "$aout$aerr")"
s_exit=$run-exit
sessions+=("$s_exit")
alx create-exit create --agent shell --name "$s_exit" --repo "$repo" --prompt 'exit 7'
for _ in $(seq 50); do [ "$(docker inspect -f '{{.State.Running}}' "airlock-$s_exit-$hid" 2>/dev/null)" = false ] && break; sleep 0.2; done
[ "$(docker inspect -f '{{.State.ExitCode}}' "airlock-$s_exit-$hid" 2>/dev/null)" = 7 ] \
  && ok "confined: the agent's exit code is the container's (the relay exec'd it)" \
  || not_ok "confined: exit code 7 expected, got $(docker inspect -f '{{.State.ExitCode}}' "airlock-$s_exit-$hid" 2>&1)"
s_tty=$run-tty
sessions+=("$s_tty")
alx create-tty create --agent shell --name "$s_tty" --repo "$repo" \
  --prompt 'echo tty-ready; while read line; do echo "got-$line"; done'
wait_running "airlock-$s_tty-$hid" tty-ready || true
if python3 - "$bin" "$s_tty" >"$tmp/out/attach.txt" 2>&1 <<'PY'
import os, pty, select, sys, time
bin_, name = sys.argv[1:3]
pid, fd = pty.fork()
if pid == 0:
    os.execv(bin_, [bin_, "attach", name])
def until(marker, seconds=15):
    buf, end = b"", time.time() + seconds
    while time.time() < end and marker not in buf:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try: buf += os.read(fd, 4096)
            except OSError: break
    return marker in buf, buf
time.sleep(1)
os.write(fd, b"through-the-relay\r")
found, buf = until(b"got-through-the-relay")
os.write(fd, b"\x10\x11")  # ctrl-p ctrl-q: detach
_, status = os.waitpid(pid, 0)
print(buf.decode(errors="replace")[-300:])
sys.exit(0 if found else 1)
PY
then ok "confined: attach: typed input reaches the agent and its answer comes back"
else not_ok "confined: attach: $(short "$(cat "$tmp/out/attach.txt")")"; fi
[ "$(docker inspect -f '{{.State.Running}}' "airlock-$s_tty-$hid")" = true ] && ok "confined: after detaching the agent still runs" \
  || not_ok "confined: the agent runs after detach"

# ==== the proxy restarts: the same container keeps working =====================================
alx stop proxy stop --grace 1
run_capture docker exec "$c" sh -c 'curl -sS -o /dev/null -D - --max-time 10 https://api.anthropic.com/echo'
grep -q '502' <<<"$out" && grep -qi 'x-airlock-error: proxy-unreachable' <<<"$out" \
  && ok "confined: with the proxy down the relay answers 502 proxy-unreachable" \
  || not_ok "confined: proxy down: want a 502 from the relay: $(short "$out")"
alx start proxy start
[ "$rc" -eq 0 ] || not_ok "proxy start (exit $rc): $(short "$aerr")"
through_proxy confined "$s" "after a proxy restart (the socket was recreated)"

# ==== refresh ==================================================================================
alx refresh refresh "$s"
if [ "$rc" -eq 0 ]; then ok "confined: refresh"; else not_ok "confined: refresh (exit $rc): $(short "$aerr")"; fi
wait_running "$c" agent-ready || true
docker inspect "$c" >"$tmp/inspect-refreshed.json"
json_check "confined: the refreshed container is confined too" "$tmp/inspect-refreshed.json" \
  "e[0]['HostConfig']['NetworkMode'] == 'none' and e[0]['Config']['Cmd'][0] == '/run/airlock/relay'"
through_proxy confined "$s" "after refresh"

# ==== none: no network, and said so ===========================================================
s_none=$run-none
sessions+=("$s_none")
alx create-none create --agent shell --name "$s_none" --repo "$repo" --network none --prompt 'sleep 600'
if [ "$rc" -eq 0 ] && grep -q '^  network: *none: no network at all; the agent cannot reach the proxy' <<<"$aout"; then
  ok "create --network none says the agent cannot reach the proxy (nor its API)"
else not_ok "create --network none (exit $rc): $(short "$aout$aerr")"; fi
# By label, not name: container names carry the home's id since the two-homes change.
docker inspect "$(docker ps -aq --filter "label=dev.airlock.session=$s_none" --filter "label=dev.airlock.home=$AIRLOCK_HOME")" >"$tmp/inspect-none.json"
json_check "none: NetworkMode none, no proxy variables, no relay" "$tmp/inspect-none.json" \
  "e[0]['HostConfig']['NetworkMode'] == 'none' and not any(x.startswith(('HTTPS_PROXY=', 'HTTP_PROXY=')) for x in e[0]['Config']['Env']) and e[0]['Config']['Cmd'][0] != '/run/airlock/relay'"

# ==== a home whose socket path cannot be a Unix socket address ==================================
long_home=$tmp/$(printf 'h%.0s' $(seq 100))
mkdir -p "$long_home"
cp "$AIRLOCK_HOME/config.toml" "$long_home/config.toml"
set +e
AIRLOCK_HOME=$long_home "$bin" create --agent shell --name "$run-long" --repo "$repo" --prompt true >"$logs/long.out" 2>"$logs/long.err"
rc=$?
set -e
if [ "$rc" -ne 0 ] && grep -q "longer than a Unix socket allows" "$logs/long.err" && grep -q -- "--network open" "$logs/long.err" \
    && [ "$(grep -c '^airlock: error: ' "$logs/long.err")" -eq 1 ] && [ -z "$(docker ps -aq --filter "label=dev.airlock.home=$long_home")" ] \
    && [ ! -e "$long_home/worktrees/$run-long" ]; then
  ok "confined with a home too long for a socket path: one clear line naming the fix, nothing made"
else not_ok "a home too long for the socket path (exit $rc): $(short "$(cat "$logs/long.err")")"; fi

finish
