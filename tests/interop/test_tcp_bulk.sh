#!/usr/bin/env bash
# 100 MB each way between the kernel and ustack (an echo: the kernel sends
# 100 MB and reads the same 100 MB back, at once), clean and with ustack's
# loss and reordering faults on the TAP path, without offloads, and with
# them (the default: the virtio-net header, GSO frames and partial
# checksums both ways); SHA-256 equal. Then a short
# transfer captured on both sides: the kernel's tcpdump and ustack's pcap
# agree segment for segment.
set -u
source "$(dirname "$0")/lib.sh"

MB=${USTACK_BULK_MB:-100}

bulk_client() {  # bulk_client MB -> prints "sent-sha recv-sha bytes seconds"
    nsx "$PY" - "$1" <<PYEOF
import socket, sys, threading, hashlib, time
mb = int(sys.argv[1]); total = mb * 1024 * 1024
s = socket.create_connection(("$UADDR", 7), timeout=60)
tx, rx = hashlib.sha256(), hashlib.sha256()
got = [0]
def reader():
    while got[0] < total:
        d = s.recv(1 << 20)
        if not d: break
        rx.update(d); got[0] += len(d)
t = threading.Thread(target=reader); t.start()
t0 = time.time()
block = bytes((i * 7 + 13) & 0xff for i in range(1 << 16))
sent = 0
while sent < total:
    chunk = block[: min(len(block), total - sent)]
    s.sendall(chunk); tx.update(chunk); sent += len(chunk)
s.shutdown(socket.SHUT_WR)
t.join()
s.close()
print(tx.hexdigest(), rx.hexdigest(), got[0], "%.2f" % (time.time() - t0))
PYEOF
}

# check_bulk LABEL OPTIONS...: one echo run; with AFTER set, that function
# runs once the transfer is checked, while ustack still runs.
check_bulk() {
    local label=$1
    shift
    bg "$USTACK" echo --port 7 --tap tap0 --addr "$UADDR/24" --ctl "$TMP/bulk.ctl" "$@"
    local pid=$BG
    wait_ustack_up
    local out
    out=$(bulk_client "$MB") || die "$label: client failed"
    set -- $out
    [ "$1" = "$2" ] || die "$label: SHA-256 differs ($1 vs $2)"
    [ "$3" -eq $((MB * 1024 * 1024)) ] || die "$label: got $3 bytes"
    say "$label: ${MB} MB each way in $4 s, SHA-256 equal"
    [ -z "${AFTER:-}" ] || "$AFTER"
    stop_bg "$pid"
}

# The default: the virtio-net header on the TAP. ustack hands the kernel
# 64 KiB frames to segment and partial checksums to finish; the kernel hands
# ustack its own unsegmented GSO frames. The counters show both happened.
offload_counters() {
    local st tx rx bad
    st=$("$USTACK" stat --ctl "$TMP/bulk.ctl")
    tx=$(awk '$1 == "eth_tx_gso" {print $2}' <<<"$st")
    rx=$(awk '$1 == "eth_rx_gso" {print $2}' <<<"$st")
    bad=$(awk '$1 == "drop_tcp_bad_csum" {print $2}' <<<"$st")
    [ "${tx:-0}" -gt 0 ] || die "offload: no GSO frame sent"
    [ "${rx:-0}" -gt 0 ] || die "offload: no unsegmented frame received from the kernel"
    [ "${bad:-0}" -eq 0 ] || die "offload: $bad segments with a bad checksum"
    say "offload: $tx GSO frames out, $rx in"
}

compare_captures() {
    # Not through nsx (a function): SIGINT must reach tcpdump itself.
    # Block mode with a large buffer: immediate mode cannot keep up with a
    # burst and drops. Blocks are handed over when full or after a timeout,
    # so we wait below until the kernel's file holds what ours does.
    ip netns exec "$NS" tcpdump -i tap0 -B 32768 -U -w "$TMP/kernel.pcap" tcp port 7 \
        2>"$TMP/tcpdump.err" &
    local tpid=$!
    BG_PIDS+=("$tpid")
    wait_for 10 "tcpdump started" grep -q "listening on" "$TMP/tcpdump.err"
    bg "$USTACK" echo --port 7 --tap tap0 --addr "$UADDR/24" --pcap "$TMP/ustack.pcap"
    local pid=$BG
    wait_ustack_up
    bulk_client 2 >/dev/null || die "capture run failed"
    stop_bg "$pid"
    local want
    want=$(tcpdump -n -r "$TMP/ustack.pcap" 'tcp port 7' 2>/dev/null | wc -l)
    wait_for 30 "the kernel's capture to hold $want segments" \
        sh -c "[ \$(tcpdump -n -r '$TMP/kernel.pcap' 2>/dev/null | wc -l) -ge $want ]"
    kill -INT "$tpid"
    wait "$tpid" 2>/dev/null
    local fields="-e tcp.srcport -e tcp.dstport -e tcp.seq_raw -e tcp.ack_raw -e tcp.len -e tcp.flags"
    tshark -r "$TMP/kernel.pcap" -Y 'tcp.port == 7' -T fields $fields 2>/dev/null | sort >"$TMP/k.txt"
    tshark -r "$TMP/ustack.pcap" -Y 'tcp.port == 7' -T fields $fields 2>/dev/null | sort >"$TMP/u.txt"
    local n
    n=$(wc -l <"$TMP/u.txt")
    [ "$n" -gt 100 ] || die "only $n segments in ustack's capture"
    diff -q "$TMP/k.txt" "$TMP/u.txt" >/dev/null ||
        die "captures disagree: $(diff "$TMP/k.txt" "$TMP/u.txt" | head -5)"
    # Offloads leave checksums to the kernel, but ustack's capture shows
    # them complete, both ways (eth_output and the TAP loop finish them
    # for observers).
    local bad
    bad=$(tshark -r "$TMP/ustack.pcap" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
        -Y 'tcp.checksum.status == 0 || ip.checksum.status == 0' 2>/dev/null | wc -l)
    [ "$bad" -eq 0 ] || die "$bad frames with a bad checksum in ustack's capture"
    say "captures agree: $n segments, identical on both sides, checksums complete"
}

body() {
    set -e
    check_bulk "clean, no offloads" --no-offload
    check_bulk "loss 1% + reorder 1%" --loss 1 --reorder 1 --seed 7
    AFTER=offload_counters check_bulk "offloads (the default)"
    check_bulk "faults (offloads off)" --loss 1 --seed 3
    command -v tshark >/dev/null && compare_captures
}

run_in_netns body
