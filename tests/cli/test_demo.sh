#!/usr/bin/env bash
# `ustack demo`: the trace shows the conversation's segments and each side's
# states in order; tcpdump decodes demo.pcap into exactly the segment lines
# the trace printed; demo.svg is well-formed XML naming every state and every
# segment of the run; a lossy run shows retransmissions; colour only on a
# terminal; bad command lines print one line and exit 2.
#
# Usage: bash test_demo.sh path/to/ustack
set -u
USTACK=$(realpath "${1:?usage: test_demo.sh path/to/ustack}")
SRC=$(dirname "$(realpath "$0")")/../..
TMP=$(mktemp -d /tmp/ustack-cli-demo-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

die() {
    echo "FAIL: $*" >&2
    exit 1
}

# --- the run, with the default files in a scratch directory ---
(cd "$TMP" && "$USTACK" demo >out.txt 2>err.txt) || { cat "$TMP/err.txt"; die "ustack demo failed"; }
OUT=$TMP/out.txt
[ -s "$TMP/demo.pcap" ] || die "no demo.pcap in the working directory"
[ -s "$TMP/demo.svg" ] || die "no demo.svg in the working directory"
[ -s "$TMP/err.txt" ] && die "ustack demo wrote to stderr: $(cat "$TMP/err.txt")"
if grep -q $'\033' "$OUT"; then die "colour written to a file"; fi

# The segments, in order: the handshake, "hello" and its echo, the close.
flags=$(grep -o 'Flags \[[^]]*\]' "$OUT" | sed 's/Flags \[\(.*\)\]/\1/' | tr '\n' ' ')
echo "$flags" | grep -Eq '^S S\. \. (P\. )(\. )?P\. (\. )?F\. (\. )?F\. \. $' ||
    die "unexpected segments: $flags"
grep -q 'client: send(3, "hello") = 5' "$OUT" || die "no send of hello"
grep -q 'recv(4, MSG_WAITALL) = 5 "hello"' "$OUT" || die "the server did not read hello"
grep -q 'client: recv(3, MSG_WAITALL) = 5 "HELLO"' "$OUT" || die "the client did not read HELLO"

# Each side's states, in order, as the trace's state columns show them.
header=$(grep -m1 '^ *time  client ' "$OUT")
ccol=$(awk -v h="$header" 'BEGIN { print index(h, "client") }')
scol=$(awk -v h="$header" 'BEGIN { print index(h, "server") }')
column() { # the states in the column starting at $1, one line
    awk -v c="$1" '/^ *time  client /{on = 1; next} on && /^$/ {exit}
                   on { s = substr($0, c, 12); sub(/ +$/, "", s); if (s ~ /^[A-Z12-]+$/) printf "%s ", s }' "$OUT"
}
cstates=$(column "$ccol")
sstates=$(column "$scol")
[ "$cstates" = "SYN-SENT ESTABLISHED FIN-WAIT-1 TIME-WAIT CLOSED " ] ||
    [ "$cstates" = "SYN-SENT ESTABLISHED FIN-WAIT-1 FIN-WAIT-2 TIME-WAIT CLOSED " ] ||
    die "client states in the trace: $cstates"
[ "$sstates" = "LISTEN SYN-RECEIVED ESTABLISHED CLOSE-WAIT LAST-ACK CLOSED " ] ||
    die "server states in the trace: $sstates"
# ... and the summary agrees.
grep -Eq '^  client states +CLOSED -> SYN-SENT -> ESTABLISHED -> FIN-WAIT-1 -> (FIN-WAIT-2 -> )?TIME-WAIT -> CLOSED$' "$OUT" ||
    die "the summary's client states"
grep -q '^  server states   LISTEN -> SYN-RECEIVED -> ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED$' "$OUT" ||
    die "the summary's server states"
grep -q '^  TIME-WAIT       the client held the connection 60.000 s (2 MSL' "$OUT" || die "TIME-WAIT"
grep -q 'tcpdump -nr demo.pcap' "$OUT" || die "the summary does not say how to read demo.pcap"
grep -q 'demo.svg .*browser' "$OUT" || die "the summary does not say how to open demo.svg"
# The diagram is in the output too.
grep -q -- '----- SYN seq 0 win' "$OUT" || die "no diagram"

# --- tcpdump reads demo.pcap, and decodes exactly the lines we printed ---
if command -v tcpdump >/dev/null; then
    tcpdump -n -r "$TMP/demo.pcap" 2>/dev/null | grep ' IP .* Flags ' | cut -d' ' -f2- >"$TMP/tcpdump.txt"
    grep -o 'IP [0-9.]* > [0-9.]*: Flags .*length [0-9]*' "$OUT" >"$TMP/ours.txt"
    [ -s "$TMP/tcpdump.txt" ] || die "tcpdump decodes no TCP segment"
    diff "$TMP/ours.txt" "$TMP/tcpdump.txt" >"$TMP/diff.txt" ||
        { cat "$TMP/diff.txt"; die "tcpdump decodes demo.pcap differently from the trace"; }
    tcpdump -n -r "$TMP/demo.pcap" 2>/dev/null | grep -q 'ARP, Request who-has 10.0.0.2 tell 10.0.0.1' ||
        die "the capture lacks the ARP exchange"
fi

# --- demo.svg: well-formed, every state and every segment named ---
SVG=$TMP/demo.svg
if command -v xmllint >/dev/null; then
    xmllint --noout "$SVG" || die "demo.svg is not well-formed XML"
fi
for st in $cstates $sstates; do
    grep -q "<text class=\"state\"[^>]*>$st</text>" "$SVG" || die "demo.svg does not name $st"
done
nseg=$(grep -c 'Flags \[' "$TMP/ours.txt")
[ "$(grep -c '<g class="segment">' "$SVG")" -eq "$nseg" ] || die "demo.svg does not draw $nseg segments"
svgflags=$(grep -o '<title>frame [0-9]*: [^<]*Flags \[[^]]*\]' "$SVG" | sed 's/.*Flags \[\(.*\)\]/\1/' | tr '\n' ' ')
[ "$svgflags" = "$flags" ] || die "demo.svg's segments ($svgflags) differ from the trace's ($flags)"

# --- what the README shows is what the demo does today ---
if [ -f "$SRC/README.md" ]; then
    sed -n '/^<!-- demo excerpt/,/^<!-- end of demo excerpt/p' "$SRC/README.md" |
        grep -v '^<!--\|^```\|^\$ make demo$\|^\.\.\.$\|^$' >"$TMP/excerpt.txt"
    [ "$(wc -l <"$TMP/excerpt.txt")" -ge 10 ] || die "README.md has no demo excerpt"
    while IFS= read -r line; do
        grep -qxF -- "$line" "$OUT" || die "README.md shows a line the demo no longer prints: $line"
    done <"$TMP/excerpt.txt"
fi
if [ -f "$SRC/docs/demo.svg" ]; then
    cmp -s "$SRC/docs/demo.svg" "$TMP/demo.svg" ||
        die "docs/demo.svg is stale: run 'ustack demo --svg docs/demo.svg'"
fi

# --- the same seed gives the same run; files can be named ---
"$USTACK" demo --pcap "$TMP/a.pcap" --svg "$TMP/a.svg" | grep -v 'of real time' >"$TMP/a.txt" || die "--pcap/--svg"
"$USTACK" demo --pcap "$TMP/b.pcap" --svg "$TMP/b.svg" | grep -v 'of real time' | sed 's/b\.\(pcap\|svg\)/a.\1/g' >"$TMP/b.txt"
cmp -s "$TMP/a.pcap" "$TMP/b.pcap" || die "two runs with one seed wrote different captures"
cmp -s "$TMP/a.txt" "$TMP/b.txt" || die "two runs with one seed printed different traces"
"$USTACK" demo --seed 2 --pcap "$TMP/c.pcap" --svg "$TMP/c.svg" >/dev/null || die "--seed 2"
cmp -s "$TMP/a.pcap" "$TMP/c.pcap" && die "--seed 2 changed nothing"

# --- a lossy wire shows retransmissions, and the run still completes ---
# (the run the summary and --help suggest)
"$USTACK" demo --loss 30 --seed 2 --pcap "$TMP/l.pcap" --svg "$TMP/l.svg" >"$TMP/loss.txt" ||
    die "--loss 30 --seed 2 failed"
grep -q 'ustack demo --loss 30 --seed 2' "$TMP/loss.txt" || die "the summary suggests another run"
grep -q '\[.*lost.*\]' "$TMP/loss.txt" || die "--loss 30 --seed 2 lost nothing"
grep -q '\[retransmission' "$TMP/loss.txt" || die "--loss 30 --seed 2 shows no retransmission"
grep -Eq '^    retransmissions +[0-9]+ +[0-9]+$' "$TMP/loss.txt" || die "no retransmission row"
grep -Eq '^    retransmissions +0 +0$' "$TMP/loss.txt" && die "the summary counts no retransmission"
grep -q '30% loss' "$TMP/loss.txt" || die "the summary does not describe the wire"

# --- colour: on a terminal, unless NO_COLOR or --no-color ---
if command -v script >/dev/null; then
    script -qec "'$USTACK' demo --pcap '$TMP/t.pcap' --svg '$TMP/t.svg'" /dev/null >"$TMP/tty.txt" 2>&1
    grep -q $'\033\\[' "$TMP/tty.txt" || die "no colour on a terminal"
    NO_COLOR=1 script -qec "'$USTACK' demo --pcap '$TMP/t.pcap' --svg '$TMP/t.svg'" /dev/null >"$TMP/tty.txt" 2>&1
    if grep -q $'\033\\[' "$TMP/tty.txt"; then die "colour despite NO_COLOR"; fi
    script -qec "'$USTACK' demo --no-color --pcap '$TMP/t.pcap' --svg '$TMP/t.svg'" /dev/null >"$TMP/tty.txt" 2>&1
    if grep -q $'\033\\[' "$TMP/tty.txt"; then die "colour despite --no-color"; fi
fi

# --- bad use: one line, exit 2 ---
expect_usage() {
    "$USTACK" demo "$@" >"$TMP/o" 2>"$TMP/e"
    local rc=$?
    [ "$rc" -eq 2 ] || die "'demo $*' exited $rc, expected 2"
    [ "$(wc -l <"$TMP/e")" -eq 1 ] || die "'demo $*' printed more than one line: $(cat "$TMP/e")"
    [ -s "$TMP/o" ] && die "'demo $*' printed to stdout"
    return 0
}
expect_usage --bogus
expect_usage --loss
expect_usage --loss 101
expect_usage --loss x
expect_usage --delay -1
expect_usage --seed abc
expect_usage --pcap ''
expect_usage extra
"$USTACK" demo --pcap /nonexistent/dir/x.pcap >/dev/null 2>"$TMP/e" && die "an unwritable capture succeeded"
[ "$(wc -l <"$TMP/e")" -eq 1 ] || die "an unwritable capture: more than one line"
"$USTACK" demo --help >"$TMP/help.txt" || die "--help failed"
for opt in --seed --delay --loss --dup --reorder --corrupt --pcap --svg --no-color; do
    grep -q -- "^  $opt " "$TMP/help.txt" || die "--help does not list $opt"
done
grep -q '(demo.pcap)' "$TMP/help.txt" && grep -q '(5)' "$TMP/help.txt" || die "--help lacks defaults"
echo "ok"
