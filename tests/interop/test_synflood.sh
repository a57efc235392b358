#!/usr/bin/env bash
# A SYN flood from the kernel side (scapy, spoofed sources) while a Python
# client connects to `ustack echo` and talks: the client succeeds, and
# ustack answered the flood with SYN cookies once its SYN queue was full.
set -u
source "$(dirname "$0")/lib.sh"

body() {
    set -e
    /usr/bin/python3 -c 'import scapy' 2>/dev/null || { say "skip: python3-scapy missing"; exit 77; }
    bg "$USTACK" echo --upper --port 7 --tap tap0 --addr "$UADDR/24" --gw "$KADDR" \
        --pcap "$TMP/u.pcap"
    local pid=$BG
    wait_ustack_up
    nsx "$PY" - >"$TMP/flood.out" 2>&1 <<PYEOF &
from scapy.all import IP, TCP, RandShort, send, conf
conf.verb = 0
import random
random.seed(1)
pkts = [IP(src="172.%d.%d.%d" % (16 + random.randrange(16), random.randrange(256), 1 + random.randrange(254)),
           dst="$UADDR") / TCP(sport=1024 + random.randrange(60000), dport=7, flags="S",
           seq=random.randrange(1 << 32)) for _ in range(3000)]
send(pkts, inter=0)
print("sent", len(pkts))
PYEOF
    local flood=$!
    BG_PIDS+=("$flood")
    sleep 0.5  # let the flood start: the client should meet it, not precede it
    nsx "$PY" - >"$TMP/client.out" <<PYEOF
import socket
for i in range(5):
    s = socket.create_connection(("$UADDR", 7), timeout=20)
    s.sendall(b"hello %d" % i)
    got = b""
    while len(got) < 7:
        d = s.recv(100)
        if not d: break
        got += d
    print(got.decode())
    s.close()
PYEOF
    wait "$flood" || true
    grep -q "sent 3000" "$TMP/flood.out" || die "the flood did not run: $(cat "$TMP/flood.out")"
    [ "$(grep -c '^HELLO' "$TMP/client.out")" -eq 5 ] || die "client failed: $(cat "$TMP/client.out")"
    stop_bg "$pid"
    local synacks
    synacks=$(tcpdump -n -r "$TMP/u.pcap" 'tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack) and not dst host '"$KADDR" 2>/dev/null | wc -l)
    [ "$synacks" -gt 256 ] || die "only $synacks SYN-ACKs to spoofed sources: no cookies?"
    say "flood of 3000 spoofed SYNs: the client got through 5 times; $synacks SYN-ACKs (cookies beyond 256)"
}

run_in_netns body
