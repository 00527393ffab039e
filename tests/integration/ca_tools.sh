#!/usr/bin/env bash
# The CA against real tools: `openssl verify -x509_strict` and Python's ssl module with
# VERIFY_X509_STRICT, over a real TLS connection on 127.0.0.1.
#
# Environment:
#   AIRLOCK_LEAF_TOOL  path to airlock-test-leaf (required)
#   AIRLOCK_BIN        path to airlock; when set and executable the CA is created with
#                      `airlock --home DIR ca init`, otherwise with `airlock-test-leaf --init-ca`
# Prints one `ok - ...` / `not ok - ...` line per check; exits non-zero on any failure.
set -euo pipefail

leaf_tool=${AIRLOCK_LEAF_TOOL:?set AIRLOCK_LEAF_TOOL to the airlock-test-leaf binary}
[[ -x $leaf_tool ]] || { echo "not ok - AIRLOCK_LEAF_TOOL=$leaf_tool is not executable"; exit 1; }

work=$(mktemp -d /tmp/airlock-ca-tools-XXXXXX)
trap 'rm -rf "$work"' EXIT
home=$work/home
ca_dir=$home/ca
ca_pem=$ca_dir/ca.pem

failures=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
# check DESCRIPTION COMMAND...: runs the command, output shown only on failure.
check() {
    local what=$1 out
    shift
    if out=$("$@" 2>&1); then ok "$what"; else not_ok "$what"; printf '%s\n' "$out" | sed 's/^/#   /'; fi
}

if [[ -n ${AIRLOCK_BIN:-} && -x ${AIRLOCK_BIN} ]]; then
    check "airlock ca init creates the CA" "$AIRLOCK_BIN" --home "$home" ca init
    creator=("$AIRLOCK_BIN" --home "$home" ca init)
else
    echo "# AIRLOCK_BIN unset or not executable: creating the CA with $leaf_tool --init-ca"
    check "airlock-test-leaf --init-ca creates the CA" "$leaf_tool" --init-ca "$ca_dir"
    creator=("$leaf_tool" --init-ca "$ca_dir")
fi
[[ -f $ca_pem ]] || { not_ok "no $ca_pem after creating the CA"; exit 1; }

[[ $(stat -c %a "$ca_dir/ca-key.pem") == 600 ]] && ok "CA key mode is 600" \
    || not_ok "CA key mode is $(stat -c %a "$ca_dir/ca-key.pem"), expected 600"
[[ $(stat -c %a "$ca_dir") == 700 ]] && ok "CA dir mode is 700" \
    || not_ok "CA dir mode is $(stat -c %a "$ca_dir"), expected 700"
fingerprint=$(openssl x509 -in "$ca_pem" -noout -fingerprint -sha256)
if "${creator[@]}" >/dev/null 2>&1; then not_ok "creating the CA again without --force was refused"
else ok "creating the CA again without --force is refused"; fi
[[ $(openssl x509 -in "$ca_pem" -noout -fingerprint -sha256) == "$fingerprint" ]] \
    && ok "the refused create left the CA unchanged" || not_ok "the refused create changed ca.pem"

ca_text=$(openssl x509 -in "$ca_pem" -noout -text)
grep -q 'CA:TRUE, pathlen:0' <<<"$ca_text" && ok "CA basicConstraints CA:TRUE, pathlen:0" \
    || not_ok "CA basicConstraints CA:TRUE, pathlen:0"
grep -q 'Certificate Sign, CRL Sign' <<<"$ca_text" && ok "CA keyUsage keyCertSign, cRLSign" \
    || not_ok "CA keyUsage keyCertSign, cRLSign"

chmod 640 "$ca_dir/ca-key.pem"
if msg=$("$leaf_tool" "$ca_dir" example.com "$work/x.pem" "$work/x.key" 2>&1); then
    not_ok "a group-readable CA key is refused"
elif grep -q "chmod 600" <<<"$msg"; then ok "a group-readable CA key is refused with a chmod hint"
else not_ok "a group-readable CA key is refused with a chmod hint (got: $msg)"; fi
chmod 600 "$ca_dir/ca-key.pem"

# One TLS connection through Python's ssl: a server on 127.0.0.1 presenting leaf.pem, a
# client trusting only ca.pem with VERIFY_X509_STRICT and expecting $3 as the server name.
python_handshake() {
    python3 - "$ca_pem" "$1" "$2" "$3" <<'PY'
import socket, ssl, sys, threading
ca, cert, key, name = sys.argv[1:5]
server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server_ctx.load_cert_chain(cert, key)
server_ctx.set_alpn_protocols(["http/1.1"])
listener = socket.create_server(("127.0.0.1", 0))
listener.settimeout(10)
port = listener.getsockname()[1]

def serve():
    try:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(tls.recv(16))
    except Exception:
        pass  # the client reports the failure

thread = threading.Thread(target=serve, daemon=True)
thread.start()
client_ctx = ssl.create_default_context(cafile=ca)
client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
client_ctx.set_alpn_protocols(["http/1.1"])
try:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with client_ctx.wrap_socket(sock, server_hostname=name) as tls:
            tls.sendall(b"ping")
            assert tls.recv(16) == b"ping", "echo mismatch"
            print(f"{tls.version()} alpn={tls.selected_alpn_protocol()}")
except Exception as e:
    print(f"handshake failed: {e}")
    sys.exit(1)
finally:
    thread.join(5)
PY
}

# Over 64 characters: no CN fits, the leaf has an empty subject and a critical SAN.
long_host=$(printf 'x%.0s' {1..40}).$(printf 'y%.0s' {1..40}).example.com
# host | expected SAN line | name the client verifies
cases=(
    "api.anthropic.com|DNS:api.anthropic.com|api.anthropic.com"
    "127.0.0.1|IP Address:127.0.0.1|127.0.0.1"
    "::1|IP Address:0:0:0:0:0:0:0:1|::1"
    "UPPER.Example.COM.|DNS:upper.example.com|UPPER.Example.COM"
    "$long_host|DNS:$long_host|$long_host"
)
n=0
for case in "${cases[@]}"; do
    IFS='|' read -r host san name <<<"$case"
    n=$((n + 1))
    leaf=$work/leaf$n.pem key=$work/leaf$n.key
    if ! out=$("$leaf_tool" "$ca_dir" "$host" "$leaf" "$key" 2>&1); then
        not_ok "$host: mint ($out)"
        continue
    fi
    ok "$host: minted"
    check "$host: openssl verify -x509_strict -purpose sslserver" \
        openssl verify -x509_strict -purpose sslserver -CAfile "$ca_pem" "$leaf"
    text=$(openssl x509 -in "$leaf" -noout -text)
    if grep -qxF "    $san" <<<"$(openssl x509 -in "$leaf" -noout -ext subjectAltName)"; then ok "$host: SAN is $san"
    else not_ok "$host: SAN is $san"; fi
    grep -q 'TLS Web Server Authentication' <<<"$text" && ok "$host: EKU serverAuth" || not_ok "$host: EKU serverAuth"
    grep -q 'CA:FALSE' <<<"$text" && ok "$host: CA:FALSE" || not_ok "$host: CA:FALSE"
    [[ $(stat -c %a "$key") == 600 ]] && ok "$host: leaf key file mode 600" || not_ok "$host: leaf key file mode"
    if ! cmp -s <(openssl pkey -in "$key" -pubout) <(openssl pkey -in "$ca_dir/ca-key.pem" -pubout); then
        ok "$host: leaf key is not the CA key"
    else not_ok "$host: leaf key is not the CA key"; fi
    check "$host: python ssl strict handshake as '$name'" python_handshake "$leaf" "$key" "$name"
    if out=$(python_handshake "$leaf" "$key" "wrong.example.net" 2>&1); then
        not_ok "$host: python ssl refuses the name wrong.example.net (got: $out)"
    else ok "$host: python ssl refuses the name wrong.example.net"; fi
done

if ((failures)); then
    echo "# $failures check(s) failed"
    exit 1
fi
echo "# all checks passed"
