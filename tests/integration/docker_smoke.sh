#!/usr/bin/env bash
# shellcheck disable=SC2016  # container commands are single-quoted on purpose
# Docker engine smoke test for airlock's integration tests.
#
# Needs a running engine (scripts/ensure-docker starts one). Without one it exits 77
# (meson's "skipped"), or 1 when CI=true so CI cannot silently skip it.
# Builds/reuses the local test images (tests/images/build-images), then runs a command in
# each and checks output + exit code, and that host.docker.internal maps to the bridge
# gateway with --add-host host.docker.internal:host-gateway.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

BUSYBOX=airlock-test/busybox:latest
AGENT=airlock-test/agent:latest
LABEL=dev.airlock.test=1

. "$(dirname "$0")/lib.sh"
require_docker

"$root/tests/images/build-images" || { echo "not ok - build test images"; exit 1; }

failures=0
count=0
containers=()
cleanup() {
    local c
    for c in "${containers[@]:-}"; do
        [ -n "$c" ] && docker rm -f "$c" >/dev/null 2>&1
    done
    return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok()     { count=$((count + 1)); echo "ok - $*"; }
not_ok() { count=$((count + 1)); failures=$((failures + 1)); echo "not ok - $*"; }

# run_container IMAGE [docker create options...] -- CMD...
# Sets: out (combined stdout+stderr), rc (container exit code), or returns 1 on engine error.
run_container() {
    local image=$1; shift
    local -a opts=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    local name="airlock-smoke-$$-$RANDOM-$count"
    out=""; rc=""
    containers+=("$name")
    if ! docker create --name "$name" --label "$LABEL" --pull never "${opts[@]}" "$image" "$@" >/dev/null; then
        return 1
    fi
    docker start "$name" >/dev/null || return 1
    rc=$(timeout 60 docker wait "$name") || return 1
    out=$(docker logs "$name" 2>&1) || return 1
    docker rm -f "$name" >/dev/null 2>&1
    return 0
}

expect() { # DESC EXPECTED_RC EXPECTED_OUTPUT
    local desc=$1 erc=$2 eout=$3
    if [ "$rc" = "$erc" ] && [ "$out" = "$eout" ]; then
        ok "$desc"
    else
        not_ok "$desc"
        echo "#   expected exit $erc, output:"; printf '%s\n' "$eout" | sed 's/^/#     /'
        echo "#   got      exit $rc, output:";  printf '%s\n' "$out" | sed 's/^/#     /'
    fi
}

# 1. busybox: output and exit code
if run_container "$BUSYBOX" -- sh -c 'echo hello-$((6*7)); exit 3'; then
    expect "busybox: output and exit code" 3 "hello-42"
else
    not_ok "busybox: create/start/wait container"
fi

# 2. agent: toolchain present, runs as root by default, exit code
if run_container "$AGENT" -- sh -c 'curl --version | head -1; python3 -c "print(6*7)"; node -e "console.log(6*7)"; git --version; id -u; exit 5'; then
    mapfile -t lines <<<"$out"
    if [ "$rc" = 5 ] && [[ ${lines[0]:-} == curl\ * ]] && [ "${lines[1]:-}" = 42 ] && [ "${lines[2]:-}" = 42 ] \
        && [[ ${lines[3]:-} == git\ version\ * ]] && [ "${lines[4]:-}" = 0 ] && [ ${#lines[@]} -eq 5 ]; then
        ok "agent: curl, python3, node, git, id -u and exit code"
    else
        not_ok "agent: curl, python3, node, git, id -u and exit code"
        echo "#   got exit $rc, output:"; printf '%s\n' "$out" | sed 's/^/#     /'
    fi
else
    not_ok "agent: create/start/wait container"
fi

# 3. agent: user `agent` (uid 1000) with a writable home
if run_container "$AGENT" --user 1000:1000 -- sh -c 'echo "$(id -un) $HOME"; touch "$HOME/x" && echo writable'; then
    expect "agent: user agent (uid 1000), writable /home/agent" 0 "agent /home/agent
writable"
else
    not_ok "agent: run as uid 1000"
fi

# 4. agent: an arbitrary host uid can write /home/agent too (mode 1777)
if run_container "$AGENT" --user 4242:4242 -e HOME=/home/agent -- sh -c 'touch "$HOME/y" && echo writable'; then
    expect "agent: arbitrary uid 4242 can write /home/agent" 0 "writable"
else
    not_ok "agent: run as uid 4242"
fi

# 5. host.docker.internal -> bridge gateway
# The default bridge often has no explicit IPAM Gateway (dockerd 20.10 leaves it empty); the
# engine then uses the first host address of the subnet, which is what host-gateway maps to.
gw=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{if .Gateway}}{{.Gateway}} {{end}}{{end}}' 2>/dev/null | awk '{print $1}')
if [ -z "$gw" ]; then
    subnet=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Subnet}} {{end}}' 2>/dev/null \
        | tr ' ' '\n' | grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+/[0-9]+$' | head -1)
    if [ -n "$subnet" ]; then
        gw=$(awk -F'[./]' '{ n = (($1 * 256 + $2) * 256 + $3) * 256 + $4; m = 2 ^ (32 - $5);
                             n = n - n % m + 1;
                             printf "%d.%d.%d.%d\n", int(n / 16777216), int(n / 65536) % 256, int(n / 256) % 256, n % 256 }' <<<"$subnet")
    fi
fi
if [ -z "$gw" ]; then
    not_ok "host.docker.internal: read bridge gateway from 'docker network inspect bridge'"
elif run_container "$BUSYBOX" --add-host host.docker.internal:host-gateway -- cat /etc/hosts; then
    got=$(awk '$2 == "host.docker.internal" || $3 == "host.docker.internal" { print $1; exit }' <<<"$out")
    if [ "$rc" = 0 ] && [ "$got" = "$gw" ]; then
        ok "host.docker.internal resolves to bridge gateway $gw"
    else
        not_ok "host.docker.internal resolves to bridge gateway $gw"
        echo "#   got exit $rc, host.docker.internal -> '${got}'; /etc/hosts:"; printf '%s\n' "$out" | sed 's/^/#     /'
    fi
else
    not_ok "host.docker.internal: create/start/wait container"
fi

if [ $failures -ne 0 ]; then
    echo "$failures of $count check(s) failed"
    exit 1
fi
