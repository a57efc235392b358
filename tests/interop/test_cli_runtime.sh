#!/usr/bin/env bash
# Command-line manners at run time, through a TAP in a namespace:
# - SIGINT stops run, echo and connect cleanly: exit 0 (130 for connect, as
#   nc), the pcap complete (tcpdump reads it to the end), the control
#   socket removed;
# - runtime failures print one line saying what to do and exit 1: the TAP
#   held by another process, a control socket where another ustack answers,
#   a --ctl path that is not a socket (left intact) or in no directory;
# - a control socket left by a killed process is stale: stat says so, the
#   search skips it, and the next process at that path replaces it.
set -u
source "$(dirname "$0")/lib.sh"
export USTACK_CTL_DIR=$TMP/ctl.d

# fails_with PATTERN CMD...: exit 1, one line on stderr matching PATTERN.
fails_with() {
    local pattern=$1 rc
    shift
    set +e
    "$@" </dev/null >/dev/null 2>"$TMP/fail.err"
    rc=$?
    set -e
    [ $rc -eq 1 ] || die "$* exited $rc, expected 1: $(cat "$TMP/fail.err")"
    [ "$(wc -l <"$TMP/fail.err")" -eq 1 ] || die "$*: not one line: $(cat "$TMP/fail.err")"
    grep -q "$pattern" "$TMP/fail.err" || die "$*: no '$pattern' in: $(cat "$TMP/fail.err")"
}

# stopped_ok PID STATUS PCAP CTL: SIGINT, then the exit status, the pcap and
# the control socket.
stopped_ok() {
    local pid=$1 want=$2 pcap=$3 ctl=$4 rc
    set +e
    stop_bg "$pid"
    rc=$?
    set -e
    [ $rc -eq "$want" ] || die "pid $pid exited $rc on SIGINT, expected $want"
    [ ! -e "$ctl" ] || die "$ctl still there after SIGINT"
    tcpdump -r "$pcap" -n >"$TMP/dump.txt" 2>"$TMP/dump.err" || die "tcpdump cannot read $pcap"
    if grep -qi 'truncated' "$TMP/dump.err"; then die "$pcap is truncated: $(cat "$TMP/dump.err")"; fi
}

body() {
    set -e
    mkdir -p "$USTACK_CTL_DIR"

    # 1. run: answers ping; the TAP and the control path are then taken.
    bg "$USTACK" run --tap tap0 --addr "$UADDR/24" --pcap "$TMP/run.pcap" --ctl "$TMP/run.ctl"
    local run=$BG
    wait_ustack_up
    test -S "$TMP/run.ctl" || die "no control socket"
    fails_with "another process holds it" \
        nsx "$USTACK" run --tap tap0 --addr 10.0.0.3/24 --ctl "$TMP/other.ctl"
    fails_with "another ustack answers on $TMP/run.ctl" \
        nsx "$USTACK" run --tap tap9 --addr 10.0.9.2/24 --ctl "$TMP/run.ctl"
    printf 'keep me\n' >"$TMP/plain"
    fails_with "is not a socket" nsx "$USTACK" run --tap tap9 --addr 10.0.9.2/24 --ctl "$TMP/plain"
    grep -qx 'keep me' "$TMP/plain" || die "a file given as --ctl was changed"
    fails_with "its directory does not exist" \
        nsx "$USTACK" run --tap tap9 --addr 10.0.9.2/24 --ctl "$TMP/no/such/dir.ctl"
    stopped_ok "$run" 0 "$TMP/run.pcap" "$TMP/run.ctl"
    grep -q 'ICMP echo request' "$TMP/dump.txt" || die "the ping is not in the pcap"

    # 2. echo with a client connected: SIGINT closes it and still exits 0.
    bg "$USTACK" echo --port 7 --tap tap0 --addr "$UADDR/24" --pcap "$TMP/echo.pcap"
    local echo=$BG
    wait_ustack_up
    local ctl=$USTACK_CTL_DIR/ustack-$echo.ctl
    wait_for 10 "echo's control socket" test -S "$ctl"
    bg "$PY" -c "
import socket, time
s = socket.create_connection(('$UADDR', 7), timeout=10)
s.sendall(b'x'); s.recv(1)
open('$TMP/connected', 'w').close()
time.sleep(30)
"
    local client=$BG
    wait_for 10 "a client connected" test -e "$TMP/connected"
    "$USTACK" stat --pid "$echo" | grep -q "^ESTAB .*$UADDR:7 " || die "stat does not show the client"
    stopped_ok "$echo" 0 "$TMP/echo.pcap" "$ctl"
    grep -q "$KADDR\.[0-9]* > $UADDR\.7: Flags \[S\]" "$TMP/dump.txt" || die "no SYN in the pcap"
    kill "$client" 2>/dev/null || true
    wait "$client" 2>/dev/null || true

    # 3. connect, established to a kernel server that stays quiet: SIGINT is 130.
    bg "$PY" -c "
import socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('$KADDR', 9000)); l.listen(1)
c, _ = l.accept(); time.sleep(30)
"
    local srv=$BG
    wait_for 10 "kernel listening on 9000" k_listening 9000
    # Standard input that never ends: a FIFO held open for writing here.
    mkfifo "$TMP/stdin"
    exec 3<>"$TMP/stdin"
    # Not through bg: a background command's standard input is /dev/null
    # unless it is redirected on that very command.
    ip netns exec "$NS" "$USTACK" connect "$KADDR" 9000 --tap tap0 --addr "$UADDR/24" \
        --pcap "$TMP/connect.pcap" <&3 >/dev/null &
    local conn=$!
    BG_PIDS+=("$conn")
    wait_for 10 "connect's control socket" test -S "$USTACK_CTL_DIR/ustack-$conn.ctl"
    wait_for 10 "connect established" \
        sh -c "'$USTACK' stat --pid $conn | grep -q '^ESTAB .*$KADDR:9000'"
    stopped_ok "$conn" 130 "$TMP/connect.pcap" "$USTACK_CTL_DIR/ustack-$conn.ctl"
    exec 3>&-
    grep -q "$UADDR\.[0-9]* > $KADDR\.9000: Flags \[S\]" "$TMP/dump.txt" || die "no SYN in the pcap"
    kill "$srv" 2>/dev/null || true
    wait "$srv" 2>/dev/null || true

    # 4. A process killed outright leaves its socket: stale, and replaced.
    bg "$USTACK" run --tap tap0 --addr "$UADDR/24"
    run=$BG
    ctl=$USTACK_CTL_DIR/ustack-$run.ctl
    wait_for 10 "run's control socket" test -S "$ctl"
    kill -9 "$run"
    wait "$run" 2>/dev/null || true
    test -S "$ctl" || die "SIGKILL removed the socket? (it cannot)"
    fails_with "nobody answers" "$USTACK" stat --ctl "$ctl"
    fails_with "no running ustack found" "$USTACK" stat
    bg "$USTACK" run --tap tap0 --addr "$UADDR/24" --ctl "$ctl"
    run=$BG
    wait_for 10 "the stale socket replaced" sh -c "'$USTACK' stat --ctl '$ctl' | grep -q '^ustack $run: run'"
    stop_bg "$run"
}

run_in_netns body
