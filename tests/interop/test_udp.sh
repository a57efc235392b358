#!/usr/bin/env bash
# UDP through the kernel: an echo keeps datagram boundaries; a datagram to
# a closed port is answered with ICMP port unreachable, reported as
# ECONNREFUSED -- both ways.
set -u
source "$(dirname "$0")/lib.sh"

body() {
    set -e
    bg "$USTACK" echo --udp --port echo --tap tap0 --addr "$UADDR/24"
    local pid=$BG
    wait_ustack_up
    nsx "$PY" - >"$TMP/udp.out" <<PYEOF
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.connect(("$UADDR", 7))
for n in (1, 100, 1000, 1472, 0, 37):
    s.send(bytes([n & 0xff]) * n)
    d = s.recv(4096)
    assert len(d) == n and d == bytes([n & 0xff]) * n, (n, len(d))
print("boundaries ok")
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(5)
c.connect(("$UADDR", 9))
c.send(b"anyone?")
try:
    c.recv(100); print("no error")
except ConnectionRefusedError:
    print("refused ok")
PYEOF
    grep -q "boundaries ok" "$TMP/udp.out" || die "echo failed: $(cat "$TMP/udp.out")"
    grep -q "refused ok" "$TMP/udp.out" || die "kernel did not see port unreachable: $(cat "$TMP/udp.out")"
    stop_bg "$pid"
    set +e
    echo hi | nsx "$USTACK" connect --udp "$KADDR" 9999 --tap tap0 --addr "$UADDR/24" \
        >/dev/null 2>"$TMP/err"
    local rc=$?
    set -e
    [ $rc -eq 1 ] || die "ustack to a closed kernel port exited $rc"
    grep -q "connection refused" "$TMP/err" || die "no refusal: $(cat "$TMP/err")"
    say "UDP: boundaries kept; port unreachable reported both ways"
}

run_in_netns body
