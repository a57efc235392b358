#!/usr/bin/env bash
# The example programs (examples/) on a TAP, with Python's socket module on
# the kernel's side: each server example serves a Python client, each
# client example talks to a Python server (the framed chat's Python side
# builds and reads the frames with struct). Servers stop on SIGINT and exit 0.
set -u
source "$(dirname "$0")/lib.sh"
EX=$(dirname "$USTACK")/examples
LINK=(--tap tap0 --addr "$UADDR/24")

# Readiness: a ustack server answers ping only while its stack's loop runs,
# which is once the server blocks in accept(), recvfrom() or poll(), so an
# answered ping (wait_ustack_up) means the port is open. A Python server is
# ready when the kernel shows its port (k_listening, k_udp_bound).

# A UDP port bound inside the namespace (kernel side).
k_udp_bound() { nsx ss -Huln "sport = :$1" | grep -q .; }

# py NAME <<EOF: runs a Python client in the namespace; its output in $TMP/NAME.out.
py() { nsx "$PY" - >"$TMP/$1.out" 2>&1 || die "$1: python failed: $(cat "$TMP/$1.out")"; }

server_tcp_upper() {
    bg "$EX/tcp_upper_server" "${LINK[@]}" 50007
    local pid=$BG
    wait_ustack_up
    py tcp_upper <<PYEOF
import socket
for line in (b"hello from the kernel", b"second client"):
    s = socket.create_connection(("$UADDR", 50007), timeout=10)
    s.sendall(line)
    data = s.recv(1024)
    assert data == line.upper(), data
    assert s.recv(1024) == b""   # the server closes after answering
    s.close()
print("upper ok")
PYEOF
    grep -q "upper ok" "$TMP/tcp_upper.out" || die "tcp_upper_server: $(cat "$TMP/tcp_upper.out")"
    stop_bg "$pid" || die "tcp_upper_server did not exit 0 on SIGINT"
    say "tcp_upper_server served two Python clients"
}

client_tcp() {
    bg "$PY" -c "
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('$KADDR', 50008)); l.listen(5)
c, a = l.accept(); c.settimeout(10)
data = c.recv(1024); c.sendall(data.upper()); c.close()
"
    local pid=$BG
    wait_for 20 "the Python server listening" k_listening 50008
    echo "from ustack" | nsx "$EX/tcp_client" "${LINK[@]}" "$KADDR" 50008 >"$TMP/tcp_client.out" \
        2>"$TMP/tcp_client.err" || die "tcp_client failed: $(cat "$TMP/tcp_client.err")"
    grep -q 'client: received "FROM USTACK"' "$TMP/tcp_client.out" ||
        die "tcp_client: $(cat "$TMP/tcp_client.out")"
    wait "$pid" || die "the Python server failed"
    say "tcp_client talked to a Python server"
}

server_udp_echo() {
    bg "$EX/udp_echo_server" "${LINK[@]}" 50009
    local pid=$BG
    wait_ustack_up
    py udp_echo <<PYEOF
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
msgs = [b"a", b"bb" * 100, b"c" * 1472, b"dd"]
for m in msgs: s.sendto(m, ("$UADDR", 50009))
for m in msgs:
    d, a = s.recvfrom(4096)
    assert d == m, (len(d), len(m))   # one datagram per recvfrom, in order
print("udp echo ok")
PYEOF
    grep -q "udp echo ok" "$TMP/udp_echo.out" || die "udp_echo_server: $(cat "$TMP/udp_echo.out")"
    stop_bg "$pid" || die "udp_echo_server did not exit 0 on SIGINT"
    say "udp_echo_server kept a Python client's datagram boundaries"
}

client_udp() {
    bg "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('$KADDR', 50010)); s.settimeout(20)
for i in range(3):
    d, a = s.recvfrom(4096); s.sendto(d, a)
"
    local pid=$BG
    wait_for 20 "the Python UDP server bound" k_udp_bound 50010
    printf 'one\ntwo two\nthree three three\n' |
        nsx "$EX/udp_client" --timeout 5000 "${LINK[@]}" "$KADDR" 50010 >"$TMP/udp_client.out" \
            2>"$TMP/udp_client.err" || die "udp_client failed: $(cat "$TMP/udp_client.out" "$TMP/udp_client.err")"
    grep -q 'client: received 17 bytes from 10.0.0.1:50010: "three three three"' "$TMP/udp_client.out" &&
        grep -q '3 of 3 datagrams came back' "$TMP/udp_client.out" ||
        die "udp_client: $(cat "$TMP/udp_client.out")"
    wait "$pid" || die "the Python UDP server failed"
    say "udp_client talked to a Python UDP server"
}

server_nonblocking() {
    bg "$EX/nonblocking_server" "${LINK[@]}" 50011
    local pid=$BG
    wait_ustack_up
    py nonblocking <<PYEOF
import socket
# Three connections open at once; each speaks in turn, last first.
conns = [socket.create_connection(("$UADDR", 50011), timeout=10) for i in range(3)]
for i in (2, 1, 0):
    conns[i].sendall(b"client %d" % i)
    assert conns[i].recv(1024) == b"CLIENT %d" % i
for i in (0, 1, 2):      # a second message on the same connection
    conns[i].sendall(b"again %d" % i)
    assert conns[i].recv(1024) == b"AGAIN %d" % i
for c in conns:
    c.shutdown(socket.SHUT_WR)
    assert c.recv(1024) == b""   # the server closes when the client does
    c.close()
print("nonblocking ok")
PYEOF
    grep -q "nonblocking ok" "$TMP/nonblocking.out" ||
        die "nonblocking_server: $(cat "$TMP/nonblocking.out")"
    stop_bg "$pid" || die "nonblocking_server did not exit 0 on SIGINT"
    say "nonblocking_server served three Python clients at once"
}

server_framed_chat() {
    bg "$EX/framed_chat" "${LINK[@]}" server 50012
    local pid=$BG
    wait_ustack_up
    py chat <<PYEOF
import socket, struct, time
def frame(t, body): return struct.pack("!IB", len(body), t) + body
def read_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d: raise EOFError(len(b))
        b += d
    return b
def read_frame(s):
    n, t = struct.unpack("!IB", read_exact(s, 5))
    return t, read_exact(s, n)
s = socket.create_connection(("$UADDR", 50012), timeout=10)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
# One frame in two pieces, then two frames in one send: boundaries are the frames'.
f = frame(1, b"split in two")
s.sendall(f[:3]); time.sleep(0.2); s.sendall(f[3:])
assert read_frame(s) == (2, b"SPLIT IN TWO")
s.sendall(frame(1, b"first") + frame(1, b"second"))
assert read_frame(s) == (2, b"FIRST")
assert read_frame(s) == (2, b"SECOND")
big = bytes(range(97, 123)) * 2500          # 65000 bytes, under the limit
s.sendall(frame(1, big))
assert read_frame(s) == (2, big.upper())
# A hostile length: an error frame, then the server hangs up.
s.sendall(struct.pack("!IB", 0xFFFFFFFF, 1))
t, why = read_frame(s)
assert t == 3 and b"too long" in why, (t, why)
assert s.recv(100) == b""
print("framed chat ok")
PYEOF
    grep -q "framed chat ok" "$TMP/chat.out" || die "framed_chat server: $(cat "$TMP/chat.out")"
    stop_bg "$pid" || die "framed_chat server did not exit 0 on SIGINT"
    say "framed_chat server: frames reassembled and split, a hostile length refused"
}

client_framed_chat() {
    bg "$PY" -c "
import socket, struct
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('$KADDR', 50013)); l.listen(5)
c, a = l.accept(); c.settimeout(10)
f = c.makefile('rb')
while True:
    h = f.read(5)
    if not h: break
    n, t = struct.unpack('!IB', h)
    c.sendall(struct.pack('!IB', n, 2) + f.read(n).upper())
"
    local pid=$BG
    wait_for 20 "the Python framed server listening" k_listening 50013
    printf 'hello kernel\nsecond line\n' |
        nsx "$EX/framed_chat" "${LINK[@]}" client "$KADDR" 50013 >"$TMP/chat_client.out" \
            2>"$TMP/chat_client.err" || die "framed_chat client failed: $(cat "$TMP/chat_client.err")"
    grep -q 'client: reply "HELLO KERNEL"' "$TMP/chat_client.out" &&
        grep -q 'client: reply "SECOND LINE"' "$TMP/chat_client.out" ||
        die "framed_chat client: $(cat "$TMP/chat_client.out")"
    wait "$pid" || die "the Python framed server failed"
    say "framed_chat client talked to a Python framed server"
}

body() {
    set -e
    server_tcp_upper
    client_tcp
    server_udp_echo
    client_udp
    server_nonblocking
    server_framed_chat
    client_framed_chat
}

run_in_netns body
