# Shared helpers for the integration scripts (sourced).
# Each check prints "ok - NAME" or "not ok - NAME"; finish() exits non-zero on any failure.
fails=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fails=$((fails + 1)); }
check() {  # check NAME CMD...: passes when CMD succeeds
  local name=$1; shift
  if "$@" >/dev/null 2>&1; then ok "$name"; else not_ok "$name"; fi
}
finish() { [ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }; }
# run_capture CMD...: sets $out (stdout+stderr) and $rc
run_capture() { set +e; out=$("$@" 2>&1); rc=$?; set -e; }
expect() {  # expect NAME RC PATTERN CMD...: exit code RC and output matching the grep -E PATTERN
  local name=$1 want=$2 pattern=$3; shift 3
  run_capture "$@"
  if [ "$rc" -eq "$want" ] && grep -Eq -- "$pattern" <<<"$out"; then ok "$name"
  else not_ok "$name (exit $rc, want $want; output: $(head -c 400 <<<"$out"))"; fi
}
# require_docker: returns when an engine answers; otherwise fails loudly under CI=true and
# skips loudly (exit 77, meson's skip code) elsewhere.
require_docker() {
  timeout 15 docker info >/dev/null 2>&1 && return 0
  if [ "${CI:-}" = true ]; then
    cat >&2 <<'MSG'
########################################################################
###  FAIL: no Docker engine, and CI=true (skipping is not allowed)   ###
###  run scripts/ensure-docker before the tests                     ###
########################################################################
MSG
    exit 1
  fi
  cat >&2 <<'MSG'
########################################################################
###                                                                  ###
###   SKIPPED: no Docker engine (run scripts/ensure-docker)          ###
###   The Docker integration tests did NOT run.                      ###
###                                                                  ###
########################################################################
MSG
  exit 77
}

# al NAME ARGS...: run airlock ($bin); stdout to $logs/NAME.out (and ours), stderr to
# $logs/NAME.err, so a test can later grep everything airlock printed.
al() {
  local name=$1; shift
  local rc=0
  "$bin" "$@" >"$logs/$name.out" 2>"$logs/$name.err" || rc=$?
  cat "$logs/$name.out"
  return $rc
}
