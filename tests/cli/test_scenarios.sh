#!/usr/bin/env bash
# `ustack scenario`: every scenario of the book runs and all its claims hold
# (with the default seed and with others: no claim may depend on ISNs or
# ports), one scenario writes a capture tcpdump reads and an SVG xmllint
# accepts, docs/scenarios.md is exactly what `ustack scenario doc` writes now,
# docs/loss-recovery.pcap is the sack-recovery capture, and bad command lines
# print one line and exit 2.
#
# Usage: bash test_scenarios.sh path/to/ustack
set -u
USTACK=$(realpath "${1:?usage: test_scenarios.sh path/to/ustack}")
DOCS=$(dirname "$(realpath "$0")")/../../docs
TMP=$(mktemp -d /tmp/ustack-cli-scenarios-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

die() {
    echo "FAIL: $*" >&2
    exit 1
}

# --- the list ---
"$USTACK" scenario list >"$TMP/list.txt" || die "scenario list failed"
n=$(wc -l <"$TMP/list.txt")
[ "$n" -ge 25 ] || die "only $n scenarios"
for name in handshake byte-stream framing simultaneous-open refused connect-timeout close-client-first \
    close-server-first close-three-segments close-simultaneous half-close time-wait-rebind \
    time-wait-lost-ack loss-rto loss-fast-retransmit sack-recovery tail-loss-probe reordering \
    zero-window keepalive \
    cable-unplugged cable-reboot syn-flood syn-flood-cookies backlog-full; do
    grep -q "^$name " "$TMP/list.txt" || die "scenario $name is missing from the list"
done

# --- every scenario, every claim: the default seed and a few others ---
for seed in 1 2 99 123456789; do
    "$USTACK" scenario run --all --seed "$seed" >"$TMP/all.txt" 2>"$TMP/all.err" ||
        { grep -B2 -A1 FAIL "$TMP/all.txt"; cat "$TMP/all.err"; die "a claim failed with seed $seed"; }
    grep -q "^$n scenarios, $n passed, 0 failed$" "$TMP/all.txt" || die "seed $seed: wrong summary"
    [ "$(grep -c ': all [0-9]* claims hold$' "$TMP/all.txt")" -eq "$n" ] ||
        die "seed $seed: not every scenario reported its claims"
    if grep -q $'\033' "$TMP/all.txt"; then die "colour written to a file"; fi
done
# Each scenario prints its trace, its diagram and its claims.
grep -q '^== handshake: The three-way handshake ==$' "$TMP/all.txt" || die "no title"
grep -q '^  ok    segments: client SYN | server SYN,ACK | client ACK$' "$TMP/all.txt" ||
    die "no segment claim"
grep -q -- '----- SYN seq 0 win' "$TMP/all.txt" || die "no diagram"
"$USTACK" scenario run --all --quiet >"$TMP/quiet.txt" || die "--quiet failed"
[ "$(wc -l <"$TMP/quiet.txt")" -eq $((n + 1)) ] || die "--quiet prints more than the verdicts"

# --- one scenario with its files ---
"$USTACK" scenario run loss-rto --pcap "$TMP/s.pcap" --svg "$TMP/s.svg" >"$TMP/one.txt" ||
    die "run loss-rto with files failed"
grep -q 'lost' "$TMP/one.txt" || die "the trace does not show the loss"
if grep -q -- '----- SYN seq 0' "$TMP/one.txt"; then die "--svg alone also printed the text diagram"; fi
"$USTACK" scenario run loss-rto --svg "$TMP/s2.svg" --ascii | grep -q -- '----- SYN seq 0' ||
    die "--svg with --ascii prints no text diagram"
if command -v xmllint >/dev/null; then
    xmllint --noout "$TMP/s.svg" || die "the SVG is not well-formed"
fi
grep -q '>retransmission<' "$TMP/s.svg" || die "the SVG does not mark the retransmission"
if command -v tcpdump >/dev/null; then
    tcpdump -n -r "$TMP/s.pcap" 2>/dev/null | grep -c 'Flags \[P.\], seq 1:6' | grep -qx 2 ||
        die "tcpdump does not read the data segment and its retransmission"
fi

# --- docs/scenarios.md is generated, and current ---
"$USTACK" scenario doc >"$TMP/scenarios.md" || die "scenario doc failed"
if [ -f "$DOCS/scenarios.md" ]; then
    diff -u "$DOCS/scenarios.md" "$TMP/scenarios.md" >"$TMP/doc.diff" ||
        { head -40 "$TMP/doc.diff"; die "docs/scenarios.md is stale: run 'ustack scenario doc > docs/scenarios.md'"; }
else
    die "no docs/scenarios.md beside the tests"
fi

# --- docs/loss-recovery.pcap is the sack-recovery scenario's capture ---
"$USTACK" scenario run sack-recovery --pcap "$TMP/recovery.pcap" >/dev/null ||
    die "run sack-recovery with a capture failed"
cmp -s "$DOCS/loss-recovery.pcap" "$TMP/recovery.pcap" ||
    die "docs/loss-recovery.pcap is stale: run 'ustack scenario run sack-recovery --pcap docs/loss-recovery.pcap'"

# --- bad use: one line, exit 2 ---
expect_usage() {
    "$USTACK" scenario "$@" >"$TMP/o" 2>"$TMP/e"
    local rc=$?
    [ "$rc" -eq 2 ] || die "'scenario $*' exited $rc, expected 2"
    [ "$(wc -l <"$TMP/e")" -eq 1 ] || die "'scenario $*' printed more than one line: $(cat "$TMP/e")"
    return 0
}
expect_usage
expect_usage bogus
expect_usage list extra
expect_usage run
expect_usage run no-such-scenario
expect_usage run handshake refused
expect_usage run --all handshake
expect_usage run --all --pcap x.pcap
expect_usage run handshake --seed x
expect_usage run handshake --pcap
expect_usage run handshake --bogus
expect_usage doc extra
"$USTACK" scenario run handshake --pcap /nonexistent/dir/x.pcap >/dev/null 2>"$TMP/e" &&
    die "an unwritable capture succeeded"
[ "$(wc -l <"$TMP/e")" -eq 1 ] || die "an unwritable capture: more than one line"
"$USTACK" scenario --help >"$TMP/help.txt" || die "--help failed"
for opt in --pcap --svg --ascii --seed --quiet --no-color; do
    grep -q -- "^  $opt " "$TMP/help.txt" || die "--help does not list $opt"
done
"$USTACK" --help | grep -q '^  scenario ' || die "scenario missing from ustack --help"
echo "ok"
