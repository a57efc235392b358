#!/usr/bin/env bash
# TCP's life cycle against the Linux kernel, through a TAP in a namespace:
# - a Python client (kernel) talks to `ustack echo --upper` and closes first:
#   the kernel holds TIME-WAIT;
# - `ustack connect` talks to a Python server (kernel) and closes first: the
#   kernel's socket sits in CLOSE-WAIT until its program closes;
# - `ustack connect` to a kernel port with no listener: ECONNREFUSED.
set -u
source "$(dirname "$0")/lib.sh"

body() {
    set -e
    # 1. Kernel client -> ustack server.
    bg "$USTACK" echo --upper --port echo --tap tap0 --addr "$UADDR/24" --trace
    local echo_pid=$BG
    wait_ustack_up
    nsx "$PY" - <<PYEOF >"$TMP/client.out"
import socket
s = socket.create_connection(("$UADDR", 7), timeout=10)
s.sendall(b"hello")
got = b""
while len(got) < 5:
    chunk = s.recv(100)
    if not chunk: break
    got += chunk
print(got.decode())
s.close()
PYEOF
    grep -qx HELLO "$TMP/client.out" || die "expected HELLO, got: $(cat "$TMP/client.out")"
    wait_for 10 "kernel TIME-WAIT towards ustack:7" \
        sh -c "ip netns exec $NS ss -Htan state time-wait | grep -q '$UADDR:7'"
    stop_bg "$echo_pid"

    # 2. ustack client -> kernel server; ustack closes first.
    cat >"$TMP/server.py" <<PYEOF
import socket, os, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("$KADDR", 9000)); l.listen(1)
c, _ = l.accept()
data = b""
while True:
    d = c.recv(100)
    if not d: break
    data += d
    c.sendall(d.upper())
open("$TMP/server.got", "wb").write(data)
# Stay in CLOSE-WAIT until the test has seen it.
while not os.path.exists("$TMP/release"): time.sleep(0.05)
c.close()
PYEOF
    bg "$PY" "$TMP/server.py"
    local srv=$BG
    wait_for 10 "kernel listening on 9000" k_listening 9000
    printf 'ping' | nsx "$USTACK" connect "$KADDR" 9000 --tap tap0 --addr "$UADDR/24" --trace \
        >"$TMP/connect.out" 2>"$TMP/connect.err" &
    local cpid=$!
    wait_for 15 "kernel CLOSE-WAIT (ustack closed first)" \
        sh -c "ip netns exec $NS ss -Htan state close-wait | grep -q '$KADDR:9000'"
    touch "$TMP/release"
    local end=$((SECONDS + 20))
    while kill -0 $cpid 2>/dev/null; do
        [ $SECONDS -ge $end ] && { kill $cpid; die "ustack connect did not finish"; }
        sleep 0.05
    done
    wait $cpid || die "ustack connect failed: $(cat "$TMP/connect.err")"
    grep -q 'PING' "$TMP/connect.out" || die "ustack connect did not print the reply: $(cat "$TMP/connect.out")"
    grep -q 'ping' "$TMP/server.got" || die "the kernel server did not get ping"
    grep -q 'FIN-WAIT-1 -> FIN-WAIT-2' "$TMP/connect.out" || die "no FIN-WAIT-2 in the state log"
    grep -q 'FIN-WAIT-2 -> TIME-WAIT' "$TMP/connect.out" || die "no TIME-WAIT in the state log"
    wait "$srv" || true

    # 3. No listener: connection refused, one clear line, exit 1.
    set +e
    nsx "$USTACK" connect "$KADDR" 9999 --tap tap0 --addr "$UADDR/24" </dev/null \
        >/dev/null 2>"$TMP/refused.err"
    local rc=$?
    set -e
    [ $rc -eq 1 ] || die "connect to a closed port exited $rc, expected 1"
    grep -q "connection refused" "$TMP/refused.err" || die "no refusal message: $(cat "$TMP/refused.err")"
}

run_in_netns body
