#!/usr/bin/env bash
# Keepalive against the kernel: ustack connects to a kernel server with
# short keepalive settings; the namespace's link goes down so the kernel's
# side falls silent; ustack's probes go unanswered and the connection ends
# with ETIMEDOUT after idle + count * interval.
set -u
source "$(dirname "$0")/lib.sh"

body() {
    set -e
    cat >"$TMP/server.py" <<PYEOF
import socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("$KADDR", 9000)); l.listen(1)
c, _ = l.accept()
open("$TMP/accepted", "w").close()
time.sleep(120)
PYEOF
    bg "$PY" "$TMP/server.py"
    wait_for 10 "kernel listening" k_listening 9000
    # idle 2 s, interval 1 s, 3 probes: ETIMEDOUT about 5 s after the link goes silent.
    # Standard input that never ends and needs no process: a FIFO opened
    # read-write (a pipeline from `sleep` would make `wait` wait for sleep).
    mkfifo "$TMP/stdin"
    ip netns exec "$NS" "$USTACK" connect "$KADDR" 9000 --tap tap0 \
        --addr "$UADDR/24" --keepalive 2,1,3 --trace <>"$TMP/stdin" >"$TMP/out" 2>"$TMP/err" &
    local cpid=$!
    BG_PIDS+=("$cpid")
    wait_for 15 "kernel accepted" test -e "$TMP/accepted"
    local t0=$SECONDS
    nsx ip link set tap0 down
    local end=$((SECONDS + 60))
    while kill -0 $cpid 2>/dev/null; do
        [ $SECONDS -ge $end ] && die "ustack did not give up within 60 s"
        sleep 0.1
    done
    set +e
    wait $cpid
    local rc=$?
    set -e
    local took=$((SECONDS - t0))
    [ $rc -eq 1 ] || die "exit $rc, expected 1: $(cat "$TMP/err")"
    grep -q "timed out" "$TMP/err" || die "no timeout message: $(cat "$TMP/err")"
    [ $took -ge 3 ] && [ $took -le 30 ] || die "gave up after ${took}s (expected about 5 s)"
    grep -q "keepalive timeout" "$TMP/out" || die "the state log does not name the keepalive"
    say "keepalive: gave up ${took}s after the kernel fell silent"
}

run_in_netns body
