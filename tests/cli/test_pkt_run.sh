#!/usr/bin/env bash
# `ustack pkt run` from the command line: one result line per script naming
# its mode, the exit status (0 all passed, 1 one failed, 2 one did not parse,
# with file:line:col), directories searched for scripts, --expect telling a
# regression and a fix from the known state, --summary's tables, and the
# sysctls it did not act on.
#
# Usage: bash test_pkt_run.sh path/to/ustack
set -u
USTACK=${1:?usage: test_pkt_run.sh path/to/ustack}
TMP=$(mktemp -d /tmp/ustack-cli-pkt-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

die() {
    echo "FAIL: $*" >&2
    [ -f "$TMP/out" ] && sed 's/^/  | /' "$TMP/out" >&2
    exit 1
}

# run EXPECTED_STATUS ARGS...: runs ustack pkt run, output in $TMP/out.
run() {
    local want=$1
    shift
    "$USTACK" pkt run "$@" >"$TMP/out" 2>&1
    local got=$?
    [ "$got" -eq "$want" ] || die "ustack pkt run $* exited $got, expected $want"
}

mkdir -p "$TMP/suite/a" "$TMP/suite/b"
cat >"$TMP/suite/a/pass.pkt" <<'EOF'
`sysctl -w net.inet.tcp.blackhole=0`
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 7>
+0 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 4
EOF
# The SYN-ACK's window is 64240: strict mode compares it, portable does not.
sed 's/> S. 0:0(0) ack 1 </> S. 0:0(0) ack 1 win 65535 </' "$TMP/suite/a/pass.pkt" >"$TMP/suite/b/window.pkt"
printf '0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 > Q 0:0(0)\n' >"$TMP/bad.pkt"

# --- results and exit status ---
run 0 "$TMP/suite/a/pass.pkt"
grep -qx "PASS $TMP/suite/a/pass.pkt (strict mode)" "$TMP/out" || die "no PASS line naming the mode"
grep -q "1 script (strict mode): 1 passed, 0 failed" "$TMP/out" || die "no summary line"
grep -q "sysctl net.inet.tcp.blackhole=0" "$TMP/out" || die "the ignored sysctl is not listed"

run 1 --root "$TMP/suite" "$TMP/suite"
grep -qx "PASS a/pass.pkt (strict mode)" "$TMP/out" || die "names are not relative to --root"
grep -qx "FAIL b/window.pkt (strict mode)" "$TMP/out" || die "no FAIL line"
grep -q "b/window.pkt:6: error: outbound packet does not match (strict mode): window: expected 65535, actual 64240" \
    "$TMP/out" || die "the failure does not say what differed"
run 0 --mode portable --root "$TMP/suite" "$TMP/suite"
grep -qx "PASS b/window.pkt (portable mode)" "$TMP/out" || die "portable mode compares windows exactly"

run 2 "$TMP/bad.pkt" "$TMP/suite/a/pass.pkt"
grep -q "ERROR $TMP/bad.pkt: $TMP/bad.pkt:2:6: bad TCP flag 'Q'" "$TMP/out" ||
    die "a parse error does not name line and column"
grep -qx "PASS $TMP/suite/a/pass.pkt (strict mode)" "$TMP/out" || die "one bad script stops the run"

# --- the expectations file ---
printf 'a/pass.pkt\tstrict\tpass\nb/window.pkt\tstrict\tfail\thome: the window\n' >"$TMP/expect.tsv"
run 0 --expect "$TMP/expect.tsv" --root "$TMP/suite" "$TMP/suite"
grep -qx "XFAIL b/window.pkt (strict mode): home: the window" "$TMP/out" || die "no XFAIL line"
run 1 --mode portable --expect "$TMP/expect.tsv" --root "$TMP/suite" "$TMP/suite"
grep -q "NOT AS EXPECTED: $TMP/expect.tsv does not list this script for portable mode" "$TMP/out" ||
    die "an unlisted script is not reported"
printf 'a/pass.pkt\tportable\tpass\nb/window.pkt\tportable\tfail\thome: the window\n' >>"$TMP/expect.tsv"
run 1 --mode portable --expect "$TMP/expect.tsv" --root "$TMP/suite" "$TMP/suite"
grep -q "NOT AS EXPECTED: it passes now; $TMP/expect.tsv:4 says fail (home: the window): update the file" \
    "$TMP/out" || die "an expected failure that passes is not reported"
printf 'a/pass.pkt\tstrict\tpass\nb/window.pkt\tstrict\tpass\n' >"$TMP/regress.tsv"
run 1 -q --expect "$TMP/regress.tsv" --root "$TMP/suite" "$TMP/suite"
grep -q "NOT AS EXPECTED: $TMP/regress.tsv:2 says pass" "$TMP/out" || die "a regression is not reported"
grep -q "PASS a/pass.pkt" "$TMP/out" && die "-q prints results that are as expected"
printf 'a/pass.pkt\tstrict\tmaybe\n' >"$TMP/broken.tsv"
run 2 --expect "$TMP/broken.tsv" "$TMP/suite"
grep -q "broken.tsv:1: result 'maybe' is not pass, fail or skip" "$TMP/out" || die "a bad expectations file"

# --- the summary ---
run 0 --summary --expect "$TMP/expect.tsv" --root "$TMP/suite" "$TMP/suite"
grep -q "^strict mode, per folder" "$TMP/out" || die "no per-folder table"
grep -Eq "^  b +0 +1 +0 +0$" "$TMP/out" || die "the expected failure is not counted as such"
grep -Eq "^  all +1 +1 +0 +0 +1/2 = 50.0%$" "$TMP/out" || die "no pass rate"

# --- bad use ---
run 2 --mode lenient "$TMP/suite"
grep -q "mode takes strict or portable" "$TMP/out" || die "a bad mode"
run 2
grep -q "expected at least one script" "$TMP/out" || die "no scripts"
echo "ok"
