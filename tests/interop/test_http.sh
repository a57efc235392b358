#!/usr/bin/env bash
# `ustack http` and `ustack stat` against the kernel, through a TAP in a
# namespace:
# - curl downloads a 50 MB file (made here, in the test's temp dir) with the
#   same SHA-256, over a clean link and with --loss 2 --reorder 2 on
#   ustack's side; wget and 40 parallel curls too;
# - while a download is held open, `ustack stat` shows it ESTAB with the
#   client's port as the peer; after it, the side that closed first holds
#   TIME-WAIT: ustack with "Connection: close" (the server closes first),
#   the kernel with keep-alive (curl closes first);
# - HTTP through real clients: HEAD, index.html, the directory redirect,
#   404, 405, 400, traversal and a symlink out of the root refused,
#   keep-alive reuse, pipelining, HTTP/1.0;
# - finding the process: one ustack is found alone, two are named; --watch;
# - SIGINT: exit 0, the pcap readable, the control socket gone.
set -u
source "$(dirname "$0")/lib.sh"

ROOT=$TMP/root
# Control sockets of this test only: other tests may run ustack meanwhile.
export USTACK_CTL_DIR=$TMP/ctl.d

curl_() { nsx curl -sS --max-time 180 "$@"; }
code() { curl_ -o /dev/null -w '%{http_code}' "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# raw REQUEST: sends the bytes on one connection, half-closes, prints the
# whole answer.
raw() {
    nsx "$PY" - "$UADDR" "$1" <<'PYEOF'
import os, socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=10)
s.sendall(os.fsencode(sys.argv[2]))
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    d = s.recv(65536)
    if not d: break
    out += d
sys.stdout.write(out.decode("latin-1"))
PYEOF
}

make_root() {
    mkdir -p "$ROOT/sub" "$ROOT/empty" "$TMP/outside" "$USTACK_CTL_DIR"
    printf '<h1>ustack</h1>\n' >"$ROOT/index.html"
    printf 'sub\n' >"$ROOT/sub/index.html"
    printf 'a,b\n' >"$ROOT/data.csv"
    printf 'secret\n' >"$TMP/outside/secret"
    ln -s "$TMP/outside/secret" "$ROOT/out_abs"
    ln -s ../outside/secret "$ROOT/out_rel"
    ln -s index.html "$ROOT/in_link"
    # Four 250-byte directory names: a redirect's Location over 1000 bytes.
    LONG=$(printf 'd%.0s' $(seq 250))
    LONG=$LONG/$LONG/$LONG/$LONG
    mkdir -p "$ROOT/$LONG"
    printf 'deep\n' >"$ROOT/$LONG/index.html"
    head -c 50M /dev/urandom >"$ROOT/big.bin"
    head -c 8M /dev/urandom >"$ROOT/mid.bin"
    head -c 1M /dev/urandom >"$ROOT/small.bin"
}

download_50m() {
    local what=$1 t
    rm -f "$TMP/dl.bin"
    t=$(curl_ -o "$TMP/dl.bin" -w '%{time_total}' "http://$UADDR/big.bin") ||
        die "curl failed ($what)"
    [ "$(sha "$TMP/dl.bin")" = "$BIG_SHA" ] || die "50 MB download differs ($what)"
    say "50 MB download, $what: ${t}s"
}

stat_() { "$USTACK" stat --ctl "$CTL" "$@"; }

check_stat_connections() {
    # A download that stays open until the test has seen it: the client
    # reads the first bytes of the answer, then stops reading until $TMP/go
    # exists. (curl --limit-rate was not slow enough: the kernel's receive
    # buffer took the 8 MB in 50 ms and curl was done before a loaded
    # machine polled twice.)
    rm -f "$TMP/go"
    nsx "$PY" - "$UADDR" "$TMP/go" "$TMP/slow.bin" <<'PYEOF' &
import os, socket, sys, time
addr, go, out = sys.argv[1:4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 45000))
s.settimeout(60)
s.connect((addr, 80))
s.sendall(b"GET /mid.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
data = s.recv(4096)
end = time.monotonic() + 60
while not os.path.exists(go) and time.monotonic() < end:
    time.sleep(0.05)
while True:
    d = s.recv(1 << 16)
    if not d: break
    data += d
head, _, body = data.partition(b"\r\n\r\n")
open(out, "wb").write(body)
PYEOF
    local slow=$!
    wait_for 15 "ustack stat shows ESTAB with the client's port" \
        sh -c "'$USTACK' stat --ctl '$CTL' | grep -Eq '^ESTAB +[0-9]+ +[0-9]+ +$UADDR:80 +$KADDR:45000( |\$)'"
    stat_ --json | jq -e --arg k "$KADDR" \
        '.sockets[] | select(.ss_state == "ESTAB" and .peer_addr == $k and .peer_port == 45000
                             and .local_port == 80)' >/dev/null ||
        die "the JSON does not show the connection: $(stat_ --json)"
    touch "$TMP/go"
    wait "$slow" || die "the slow download failed"
    [ "$(sha "$TMP/slow.bin")" = "$(sha "$ROOT/mid.bin")" ] || die "the slow download differs"

    # Connection: close: the server closes first and holds TIME-WAIT.
    curl_ -H 'Connection: close' --local-port 45001 -o /dev/null "http://$UADDR/index.html" ||
        die "curl with Connection: close failed"
    wait_for 10 "ustack stat shows its TIME-WAIT" \
        sh -c "'$USTACK' stat --ctl '$CTL' | grep -Eq '^TIME-WAIT .* $UADDR:80 +$KADDR:45001 +timer:\\(timewait,[0-9]+sec,0\\)'"
    if nsx ss -Htan state time-wait | grep -q ":45001 "; then
        die "the kernel holds TIME-WAIT too for :45001"
    fi
    # Keep-alive: curl closes first; the kernel holds TIME-WAIT, not ustack.
    curl_ --local-port 45002 -o /dev/null "http://$UADDR/index.html" || die "curl failed"
    wait_for 10 "the kernel's TIME-WAIT for :45002" \
        sh -c "ip netns exec $NS ss -Htan state time-wait | grep -q '$KADDR:45002 '"
    if stat_ | grep -Eq "^TIME-WAIT .*$KADDR:45002( |\$)"; then
        die "ustack holds TIME-WAIT for a connection the client closed first"
    fi
    stat_ | grep -Eq '^  tcp_passive_opens +[0-9]+ ' || die "no counters in the table: $(stat_)"
    # --watch: a document per refresh until SIGINT, then exit 0. SIGINT is
    # sent once three documents are out, by kill rather than timeout(1):
    # timeout also sends SIGCONT, which can cancel the SIGSTOP with which
    # LeakSanitizer's exit-time check stops the process, and then it waits
    # forever (seen in CI).
    local rc watcher
    "$USTACK" stat --ctl "$CTL" --json --watch 0.5 >"$TMP/watch.json" &
    watcher=$!
    BG_PIDS+=("$watcher")
    wait_for 20 "three documents from stat --watch" \
        sh -c "[ \$(jq -c .version '$TMP/watch.json' 2>/dev/null | grep -c '^1\$') -ge 3 ]"
    set +e
    stop_bg "$watcher"
    rc=$?
    set -e
    [ $rc -eq 0 ] || die "stat --watch exited $rc on SIGINT"
    jq -e .version "$TMP/watch.json" >/dev/null ||
        die "stat --watch --json: $(head -c 300 "$TMP/watch.json")"
}

check_http() {
    local h
    # HEAD: the GET's headers, no body.
    h=$(curl_ -I "http://$UADDR/big.bin") || die "HEAD failed"
    grep -q '^HTTP/1.1 200 OK' <<<"$h" || die "HEAD: $h"
    grep -qi "^Content-Length: 52428800" <<<"$h" || die "HEAD length: $h"
    grep -qi '^Content-Type: application/octet-stream' <<<"$h" || die "HEAD type: $h"
    raw $'HEAD /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >"$TMP/head.out"
    tail -c 4 "$TMP/head.out" | cmp -s - <(printf '\r\n\r\n') ||
        die "HEAD sent a body: $(cat "$TMP/head.out")"
    # Index, redirect, types.
    [ "$(curl_ "http://$UADDR/")" = "<h1>ustack</h1>" ] || die "/ is not index.html"
    h=$(curl_ -i "http://$UADDR/sub") || die "curl /sub failed"
    grep -q '^HTTP/1.1 301' <<<"$h" && grep -qi '^Location: /sub/' <<<"$h" ||
        die "no redirect for /sub: $h"
    [ "$(curl_ -L "http://$UADDR/sub")" = "sub" ] || die "/sub/ is not its index.html"
    [ "$(curl_ -L "http://$UADDR/$LONG")" = "deep" ] || die "no redirect to a long directory"
    [ "$(curl_ -o /dev/null -w '%{content_type}' "http://$UADDR/data.csv")" = "text/csv; charset=utf-8" ] ||
        die "wrong type for .csv"
    [ "$(curl_ "http://$UADDR/in_link")" = "<h1>ustack</h1>" ] || die "a symlink inside is served"
    # Errors.
    [ "$(code "http://$UADDR/nope")" = 404 ] || die "no 404"
    [ "$(code "http://$UADDR/empty/")" = 403 ] || die "a directory without index.html is not 403"
    [ "$(code -X POST -d x "http://$UADDR/")" = 405 ] || die "no 405 for POST"
    curl_ -i -X DELETE "http://$UADDR/" | grep -qi '^Allow: GET, HEAD' || die "405 without Allow"
    for p in '/../../etc/passwd' '/%2e%2e/%2e%2e/etc/passwd' '/sub/..%2f..%2fetc/passwd' \
        '/out_abs' '/out_rel'; do
        local c
        c=$(code --path-as-is "http://$UADDR$p")
        [ "$c" = 403 ] || [ "$c" = 404 ] || die "$p answered $c"
    done
    raw $'GET / HTTP/1.1\r\nHost: x\r\nBad header\r\n\r\n' | grep -q '^HTTP/1.1 400 ' ||
        die "no 400 for a malformed header"
    raw $'GET / HTTP/1.1\r\n\r\n' | grep -q '^HTTP/1.1 400 ' || die "no 400 without Host"
    raw $'GET / HTTP/2.0\r\nHost: x\r\n\r\n' | grep -q '^HTTP/1.1 505 ' || die "no 505"
    # Pipelining: two requests in one write, two answers in order.
    local two
    two=$(raw $'GET /index.html HTTP/1.1\r\nHost: x\r\n\r\nGET /sub/ HTTP/1.1\r\nHost: x\r\n\r\n')
    [ "$(grep -c '^HTTP/1.1 200 OK' <<<"$two")" = 2 ] || die "pipelining: $two"
    # HTTP/1.0: answered, then closed.
    h=$(curl_ -0 -i "http://$UADDR/index.html") || die "HTTP/1.0 failed"
    grep -q '^Connection: close' <<<"$h" || die "HTTP/1.0 without keep-alive is not closed: $h"
    # Keep-alive: two requests, one connection.
    local before after
    before=$(stat_ --json | jq .counters.tcp_passive_opens)
    curl_ -o /dev/null -o /dev/null "http://$UADDR/index.html" "http://$UADDR/data.csv" ||
        die "two URLs failed"
    after=$(stat_ --json | jq .counters.tcp_passive_opens)
    [ $((after - before)) = 1 ] || die "keep-alive: $((after - before)) connections for two requests"
    # wget, and 40 clients at once.
    nsx wget -q -O "$TMP/w.bin" "http://$UADDR/mid.bin" || die "wget failed"
    [ "$(sha "$TMP/w.bin")" = "$(sha "$ROOT/mid.bin")" ] || die "wget's download differs"
    local want i pids=()
    want=$(sha "$ROOT/small.bin")
    for i in $(seq 1 40); do
        curl_ -o "$TMP/par.$i" "http://$UADDR/small.bin" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || die "a parallel download failed"; done
    for i in $(seq 1 40); do
        [ "$(sha "$TMP/par.$i")" = "$want" ] || die "parallel download $i differs"
    done
}

body() {
    set -e
    make_root
    BIG_SHA=$(sha "$ROOT/big.bin")
    CTL=$TMP/http.ctl

    # 1. A clean link.
    bg "$USTACK" http --root "$ROOT" --port http --tap tap0 --addr "$UADDR/24" --ctl "$CTL" --quiet
    local srv=$BG
    wait_ustack_up
    download_50m "clean link"
    check_stat_connections
    check_http
    set +e
    stop_bg "$srv"
    local rc=$?
    set -e
    [ $rc -eq 0 ] || die "ustack http exited $rc on SIGINT"
    [ ! -e "$CTL" ] || die "the control socket $CTL is still there after SIGINT"

    # 2. Faults inside ustack, both directions; the default control socket.
    bg "$USTACK" http --root "$ROOT" --tap tap0 --addr "$UADDR/24" --quiet \
        --loss 2 --reorder 2 --seed 7 --pcap "$TMP/http.pcap"
    srv=$BG
    wait_ustack_up 30
    CTL=$USTACK_CTL_DIR/ustack-$srv.ctl
    wait_for 10 "the default control socket" test -S "$CTL"
    "$USTACK" stat | grep -q "^ustack $srv: http on tap0" || die "stat did not find the only ustack"
    download_50m "--loss 2 --reorder 2"
    stat_ | grep -Eq '^  tcp_retransmits +[1-9]' || die "no retransmissions under loss?"

    # A second ustack: stat must ask which.
    bg "$USTACK" run --tap tap1 --addr 10.0.1.2/24
    local run=$BG
    wait_for 10 "the second control socket" test -S "$USTACK_CTL_DIR/ustack-$run.ctl"
    set +e
    "$USTACK" stat >/dev/null 2>"$TMP/several.err"
    rc=$?
    set -e
    [ $rc -eq 2 ] || die "stat with two candidates exited $rc"
    [ "$(wc -l <"$TMP/several.err")" = 1 ] || die "more than one line: $(cat "$TMP/several.err")"
    grep -q -- "--pid" "$TMP/several.err" && grep -q "$srv (http" "$TMP/several.err" &&
        grep -q "$run (run" "$TMP/several.err" || die "candidates not named: $(cat "$TMP/several.err")"
    "$USTACK" stat --pid "$run" | grep -q "^ustack $run: run on tap1" || die "stat --pid failed"
    stop_bg "$run"

    set +e
    stop_bg "$srv"
    rc=$?
    set -e
    [ $rc -eq 0 ] || die "ustack http exited $rc on SIGINT"
    [ ! -e "$CTL" ] || die "the default control socket is still there after SIGINT"
    "$USTACK" trace "$TMP/http.pcap" | grep -q 'Flags \[F' || die "the pcap has no FIN"
    tcpdump -r "$TMP/http.pcap" -c 1 >/dev/null 2>&1 || die "tcpdump cannot read the pcap"
}

run_in_netns body
