#!/usr/bin/env bash
# The example programs (examples/) on the in-memory wire: each pair says
# what the textbook says it should (the client prints the upper-cased line;
# UDP keeps datagram boundaries and retransmits nothing; the non-blocking
# server holds several clients at once; the framed chat answers each
# message and refuses an oversized one); the same seed gives the same trace
# and a byte-identical pcap; a bad command line prints one line and exits 2.
#
# Usage: bash test_examples.sh path/to/ustack   (the examples are beside it,
# in examples/)
set -u
USTACK=$(realpath "${1:?usage: test_examples.sh path/to/ustack}")
EX=$(dirname "$USTACK")/examples
TMP=$(mktemp -d /tmp/ustack-cli-examples-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

die() {
    echo "FAIL: $*" >&2
    exit 1
}
for p in tcp_upper_server tcp_client udp_echo_server udp_client nonblocking_server framed_chat; do
    [ -x "$EX/$p" ] || die "no $EX/$p"
done

# run NAME EXPECTED_RC PROGRAM ARGS... (stdin from the caller): output in
# $TMP/NAME.out and .err.
run() {
    local name=$1 want=$2
    shift 2
    timeout 60 "$EX/$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    local rc=$?
    [ $rc -eq "$want" ] || die "$name: $* exited $rc, not $want: $(cat "$TMP/$name.err")"
}
has() { grep -qF -- "$2" "$TMP/$1.out" || die "$1: no '$2' in: $(cat "$TMP/$1.out")"; }
quiet() { [ -s "$TMP/$1.err" ] && die "$1 wrote to stderr: $(cat "$TMP/$1.err")"; true; }

# --- TCP: the client prints the upper-cased line, from either program ---
echo "hello, world" | run tcp1 0 tcp_client
has tcp1 'client: received "HELLO, WORLD"'
has tcp1 'server: answered "HELLO, WORLD"'
has tcp1 'server: stopped'
quiet tcp1
echo "abc" | run tcp2 0 tcp_upper_server 10.0.0.2 http
has tcp2 'server: listening on 10.0.0.2:80'
has tcp2 'client: received "ABC"'
run tcp3 0 tcp_client </dev/null
has tcp3 'client: received "HELLO, WORLD"'

# --- UDP: one recvfrom, one datagram; a lost one stays lost ---
printf 'one\ntwo two\nthree three three\n' | run udp1 0 udp_client
has udp1 'client: received 3 bytes from 10.0.0.2:50007: "one"'
has udp1 'client: received 7 bytes from 10.0.0.2:50007: "two two"'
has udp1 'client: received 17 bytes from 10.0.0.2:50007: "three three three"'
has udp1 'client: 3 of 3 datagrams came back'
quiet udp1
run udp2 1 udp_echo_server --loss 30 --seed 6 --trace </dev/null
has udp2 'client: 2 of 3 datagrams came back'
has udp2 'UDP does not retransmit'
[ "$(grep -c 'IP 10.0.0.1.[0-9]* > 10.0.0.2.50007: UDP' "$TMP/udp2.out")" = 3 ] ||
    die "the UDP client sent other than 3 datagrams on a lossy wire: $(cat "$TMP/udp2.out")"
grep -q 'dropped that frame: loss' "$TMP/udp2.out" || die "no loss in the lossy UDP run"

# --- the non-blocking server: three clients connected at once ---
run nb 0 nonblocking_server --clients 3 --trace
for i in 1 2 3; do has nb "client$i: received \"HELLO FROM CLIENT $i\""; done
has nb '(3 open)'
# All three were connected before any was closed.
awk '/\(3 open\)/ {three = NR} /closed \(/ && !first {first = NR} END {exit !(three && three < first)}' \
    "$TMP/nb.out" || die "the non-blocking server never held three clients at once"
quiet nb

# --- framed chat: each message answered; too big is refused ---
printf 'hello\nsecond message\n' | run chat 0 framed_chat
has chat 'client: reply "HELLO"'
has chat 'client: reply "SECOND MESSAGE"'
run chatbig 1 framed_chat --oversize </dev/null
has chatbig 'client: frame_send of 65537 bytes: Message too long (EMSGSIZE)'
has chatbig 'server: refused a frame announcing more than 65536 bytes; closing'
has chatbig 'client: error from the server "message too long'

# --- determinism: the same seed, the same trace and the same capture ---
for p in tcp_client udp_client nonblocking_server framed_chat; do
    for i in 1 2; do
        echo "same input" | timeout 60 "$EX/$p" --trace --seed 7 --loss 10 --pcap "$TMP/$p.$i.pcap" \
            >"$TMP/$p.$i.txt" 2>&1
    done
    cmp -s "$TMP/$p.1.txt" "$TMP/$p.2.txt" || die "$p: two runs with seed 7 printed different traces"
    cmp -s "$TMP/$p.1.pcap" "$TMP/$p.2.pcap" || die "$p: two runs with seed 7 wrote different pcaps"
    grep -q 'Flags \[S\]\|UDP, length' "$TMP/$p.1.txt" || die "$p --trace printed no frames"
done
# ... and another seed, another run (the seed reaches the stacks).
echo "same input" | "$EX/tcp_client" --trace --seed 8 --loss 10 >"$TMP/seed8.txt" 2>&1
cmp -s "$TMP/tcp_client.1.txt" "$TMP/seed8.txt" && die "seeds 7 and 8 gave the same trace"

# --- bad command lines: one line on stderr, exit 2 ---
bad() {
    "$EX/$@" </dev/null >"$TMP/bad.out" 2>"$TMP/bad.err"
    local rc=$?
    [ $rc -eq 2 ] || die "'$*' exited $rc, not 2"
    [ "$(wc -l <"$TMP/bad.err")" -eq 1 ] || die "'$*' printed not one line: $(cat "$TMP/bad.err")"
    [ -s "$TMP/bad.out" ] && die "'$*' wrote to stdout"
    true
}
bad tcp_client --bogus
bad tcp_client 10.0.0.2 0
bad tcp_client 10.0.0.2 no-such-service
bad tcp_client host.invalid
bad tcp_client --tap tap0 --addr 10.0.0.2/24
bad tcp_client --addr 10.0.0.2/24
bad tcp_upper_server a b c
bad tcp_upper_server --loss 200
bad udp_echo_server 70000
bad udp_client --timeout x
bad nonblocking_server --clients 99
bad framed_chat --bogus
bad framed_chat 10.0.0.2 1 2
bad framed_chat --tap tap0 --addr 10.0.0.2/24
bad framed_chat server 1 2 3
# --help is not an error.
"$EX/tcp_client" --help | grep -q '^Usage: tcp_client' || die "tcp_client --help"
echo "ok"
