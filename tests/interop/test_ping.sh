#!/usr/bin/env bash
# The kernel pings ustack through a TAP: replies come back, the kernel's ARP
# table holds ustack's MAC, tcpdump decodes ustack's pcap, and ustack's own
# trace of that pcap matches tcpdump's line for line.
set -u
source "$(dirname "$0")/lib.sh"

body() {
    set -e
    bg "$USTACK" run --tap tap0 --addr "$UADDR/24" --pcap "$TMP/u.pcap"
    local upid=$BG
    wait_ustack_up
    nsx ping -c 5 -i 0.2 -W 5 "$UADDR" >"$TMP/ping.out" || { cat "$TMP/ping.out"; die "ping failed"; }
    grep -q '5 received' "$TMP/ping.out" || die "not every ping answered: $(tail -2 "$TMP/ping.out")"
    nsx ip neigh show "$UADDR" dev tap0 | grep -q '02:75:0a:00:00:02' ||
        die "kernel ARP table lacks ustack's MAC: $(nsx ip neigh show)"
    stop_bg "$upid"

    tcpdump -n -t -r "$TMP/u.pcap" 2>/dev/null >"$TMP/tcpdump.txt"
    grep -q "IP $KADDR > $UADDR: ICMP echo request" "$TMP/tcpdump.txt" || die "no echo request in pcap"
    grep -q "IP $UADDR > $KADDR: ICMP echo reply" "$TMP/tcpdump.txt" || die "no echo reply in pcap"
    grep -q "ARP, Reply $UADDR is-at 02:75:0a:00:00:02" "$TMP/tcpdump.txt" ||
        grep -q "ARP, Request who-has $UADDR tell $UADDR" "$TMP/tcpdump.txt" || die "no ARP from ustack"
    "$USTACK" trace -t "$TMP/u.pcap" >"$TMP/ours.txt"
    diff -u "$TMP/tcpdump.txt" "$TMP/ours.txt" || die "ustack trace differs from tcpdump"
}

run_in_netns body
