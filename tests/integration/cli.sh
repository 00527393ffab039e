#!/usr/bin/env bash
# The CLI as a user meets it: help, version, exit codes, home selection, config and CA commands.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin=${AIRLOCK_BIN:?set AIRLOCK_BIN to the airlock binary}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export AIRLOCK_HOME=$tmp/home

expect "--version prints the version" 0 '^airlock [0-9]+\.[0-9]+' "$bin" --version
expect "--help lists ca and config" 0 'ca.*certificate authority' "$bin" --help
expect "ca --help lists init/show/path" 0 'init' "$bin" ca --help
expect "no command is a usage error" 2 'error' "$bin"
expect "unknown command is a usage error" 2 'error: .*frobnicate' "$bin" frobnicate
expect "unknown option is a usage error" 2 'error' "$bin" ca init --bogus
run_capture "$bin" frobnicate
[ "$(wc -l <<<"$out")" -eq 1 ] && ok "a usage error is one line" || not_ok "a usage error is one line: $out"

expect "config path follows AIRLOCK_HOME" 0 "^$tmp/home/config.toml$" "$bin" config path
expect "--home overrides AIRLOCK_HOME" 0 "^$tmp/other/config.toml$" "$bin" --home "$tmp/other" config path
expect "config show without a file shows defaults" 0 'pull_policy = "if-not-present"' "$bin" config show
expect "config init writes a starter" 0 'wrote .*config.toml' "$bin" config init
expect "config init refuses to overwrite" 1 'exists.*--force' "$bin" config init
expect "config init --force overwrites" 0 'wrote' "$bin" config init --force
expect "the starter parses" 0 '\[docker\]' "$bin" config show

printf '[docker]\nimage = "x:1"\npull_polcy = "never"\n' > "$AIRLOCK_HOME/config.toml"
expect "an unknown key names file:line:col" 1 "config.toml:3:1: .*pull_polcy" "$bin" config show
printf '[docker]\npull_policy = "sometimes"\n' > "$AIRLOCK_HOME/config.toml"
expect "a bad value names what was expected" 1 'config.toml:2:.*always, if-not-present, never' "$bin" config show
printf '[docker\n' > "$AIRLOCK_HOME/config.toml"
expect "a syntax error names the line" 1 'config.toml:1:' "$bin" config show
run_capture "$bin" config show
[ "$(wc -l <<<"$out")" -eq 1 ] && ok "a config error is one line" || not_ok "a config error is one line: $out"
export SECRET_TOKEN=s3cr3t-value-never-shown
cat > "$AIRLOCK_HOME/config.toml" <<'TOML'
[[credential]]
name = "internal"
hosts = ["api.internal.example"]
header = "Authorization"
template = "Bearer {secret}"
secret = { env = "SECRET_TOKEN" }
TOML
run_capture "$bin" config show
if [ "$rc" -eq 0 ] && ! grep -q s3cr3t <<<"$out" && grep -q 'SECRET_TOKEN' <<<"$out"; then
  ok "config show names the secret source, never the secret"
else not_ok "config show masks secrets (exit $rc): $out"; fi

expect "ca show before init says how to fix" 1 "airlock ca init" "$bin" ca show
expect "ca path before init says how to fix" 1 "airlock ca init" "$bin" ca path
expect "ca init creates the CA" 0 'sha256: ' "$bin" ca init
check "ca dir is 0700" test "$(stat -c %a "$AIRLOCK_HOME/ca")" = 700
check "ca key is 0600" test "$(stat -c %a "$AIRLOCK_HOME/ca/ca-key.pem")" = 600
expect "ca init refuses to overwrite" 1 '--force' "$bin" ca init
fp=$("$bin" ca show | awk '/sha256/ {print $2}')
expect "ca path prints the certificate" 0 "^$AIRLOCK_HOME/ca/ca.pem$" "$bin" ca path
check "ca.pem is a CA certificate" sh -c "openssl x509 -in '$AIRLOCK_HOME/ca/ca.pem' -noout -text | grep -q 'CA:TRUE, pathlen:0'"
expect "ca init --force replaces the CA" 0 'sha256' "$bin" ca init --force
fp2=$("$bin" ca show | awk '/sha256/ {print $2}')
check "the replaced CA has a new fingerprint" test "$fp" != "$fp2"
chmod 640 "$AIRLOCK_HOME/ca/ca-key.pem"
expect "a group-readable key is refused with the fix" 1 'chmod 600' "$bin" ca show
chmod 600 "$AIRLOCK_HOME/ca/ca-key.pem"
unset AIRLOCK_HOME
expect "home defaults to ~/.airlock" 0 "^$tmp/fakehome/.airlock/config.toml$" env HOME="$tmp/fakehome" "$bin" config path
finish
