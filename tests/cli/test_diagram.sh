#!/usr/bin/env bash
# `ustack diagram` on a wire capture and its event log: the text form (with
# the lost segment, the states, both clocks), the SVG (well-formed for
# xmllint, text selectable), the capture alone, tcpdump reading the wire
# capture, and one clear line with exit 2 for every bad use.
#
# Usage: bash test_diagram.sh path/to/ustack. The capture comes from the
# simulation test built beside ustack (sim_test_diagram_wire), or from
# $USTACK_DIAGRAM_GEN; without it the test is skipped (77).
set -u
USTACK=${1:?usage: test_diagram.sh path/to/ustack}
GEN=${USTACK_DIAGRAM_GEN:-$(dirname "$USTACK")/tests/sim_test_diagram_wire}
TMP=$(mktemp -d /tmp/ustack-cli-diagram-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

die() {
    echo "FAIL: $*" >&2
    exit 1
}

if [ ! -x "$GEN" ]; then
    echo "skip: no capture generator at $GEN" >&2
    exit 77
fi
USTACK_DIAGRAM_OUT=$TMP "$GEN" --filter 'diagram_wire/classic_files_for_the_cli' >"$TMP/gen.out" 2>&1 ||
    { cat "$TMP/gen.out"; die "the generator failed"; }
PCAP=$TMP/classic.pcap
EVENTS=$TMP/classic.events
[ -s "$PCAP" ] && [ -s "$EVENTS" ] || die "the generator wrote no capture"

# --- text, from the capture and its log ---
"$USTACK" diagram "$PCAP" --events "$EVENTS" >"$TMP/ascii.txt" || die "ustack diagram failed"
grep -q 'client' "$TMP/ascii.txt" || die "no client lifeline"
grep -q -- '----- SYN seq 0 win 64240 <mss 1460> ---' "$TMP/ascii.txt" || die "no SYN arrow"
grep -q -- '---X lost' "$TMP/ascii.txt" || die "the lost segment does not stop short"
grep -q 'SYN-RECEIVED' "$TMP/ascii.txt" || die "no state on the server's lifeline"
grep -q '0.215  retransmission' "$TMP/ascii.txt" || die "no arrival clock or retransmission note"
grep -q 'TIME-WAIT' "$TMP/ascii.txt" || die "no TIME-WAIT"
if grep -q $'\033' "$TMP/ascii.txt"; then die "colour written to a file"; fi
awk 'length > 100 { bad = 1 } END { exit bad }' "$TMP/ascii.txt" || die "lines wider than 100 columns"
"$USTACK" diagram "$PCAP" --events "$EVENTS" --color always | grep -q $'\033\\[' ||
    die "--color always writes no colour"
"$USTACK" diagram "$PCAP" --events "$EVENTS" --abs | grep -q 'seq 1000000001:1000000006(5)' ||
    die "--abs does not print absolute numbers"
"$USTACK" diagram "$PCAP" --events "$EVENTS" --port 80 >"$TMP/port.txt" || die "--port 80 failed"
cmp -s "$TMP/ascii.txt" "$TMP/port.txt" || die "--port 80 chose another connection"

# --- SVG ---
"$USTACK" diagram "$PCAP" --events "$EVENTS" --svg "$TMP/d.svg" >"$TMP/svg.stdout" ||
    die "--svg failed"
[ -s "$TMP/svg.stdout" ] && die "--svg alone also printed text"
if command -v xmllint >/dev/null; then
    xmllint --noout "$TMP/d.svg" || die "the SVG is not well-formed XML"
fi
grep -q '<text[^>]*>SYN seq 0 win 64240 &lt;mss 1460&gt;</text>' "$TMP/d.svg" || die "labels are not <text>"
"$USTACK" diagram "$PCAP" --events "$EVENTS" --svg - --abs | grep -q '^<svg xmlns=' ||
    die "--svg - does not write to standard output"
"$USTACK" diagram "$PCAP" --events "$EVENTS" --svg "$TMP/both.svg" --ascii | grep -q 'SYN-SENT' ||
    die "--svg with --ascii does not print text"
[ -s "$TMP/both.svg" ] || die "--svg with --ascii wrote no SVG"

# --- the capture alone, and tcpdump on it ---
"$USTACK" diagram "$PCAP" >"$TMP/alone.txt" || die "the capture alone failed"
grep -q 'retransmission' "$TMP/alone.txt" || die "no retransmission without the log"
if grep -q 'SYN-SENT\|lost' "$TMP/alone.txt"; then die "states or losses without the log"; fi
if command -v tcpdump >/dev/null; then
    n=$(tcpdump -n -r "$PCAP" 2>/dev/null | wc -l)
    [ "$n" -eq 10 ] || die "tcpdump reads $n frames from the wire capture, expected 10"
fi

# --- bad use: one line, exit 2; runtime failures: exit 1 ---
expect_exit() {
    local want=$1
    shift
    "$USTACK" diagram "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    [ "$rc" -eq "$want" ] || die "'diagram $*' exited $rc, expected $want: $(cat "$TMP/err")"
    [ "$(wc -l <"$TMP/err")" -eq 1 ] || die "'diagram $*' printed more than one line: $(cat "$TMP/err")"
}
expect_exit 2
expect_exit 2 --bogus "$PCAP"
expect_exit 2 "$PCAP" --port
expect_exit 2 "$PCAP" --port 0
expect_exit 2 "$PCAP" --port 70000
expect_exit 2 "$PCAP" --color sometimes
expect_exit 2 "$PCAP" "$PCAP"
expect_exit 2 "$PCAP" --svg - --ascii
expect_exit 1 /nonexistent.pcap
expect_exit 1 "$PCAP" --events /nonexistent.events
expect_exit 1 "$PCAP" --port 22
expect_exit 1 "$EVENTS"
grep -q 'no TCP segment to or from port 22' <("$USTACK" diagram "$PCAP" --port 22 2>&1) ||
    die "--port 22 does not say why"
"$USTACK" diagram --help | grep -q '^Usage: ustack diagram' || die "--help"
"$USTACK" --help | grep -q '^  diagram ' || die "diagram missing from ustack --help"
echo "ok"
