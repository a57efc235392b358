#!/usr/bin/env bash
# netns.sh: a private network namespace to talk to ustack from the kernel.
#
#   scripts/netns.sh up          create the namespace with a TAP (tap0) in it;
#                                the kernel's side is 10.0.0.1/24, ustack
#                                takes 10.0.0.2/24 (--tap tap0 --addr 10.0.0.2/24)
#   scripts/netns.sh exec CMD... run CMD inside it (ustack, curl, ping, nc...)
#   scripts/netns.sh down        stop what runs inside and delete it all
#   scripts/netns.sh status      say whether it exists, and what is in it
#
# The namespace is named ustack-demo, or $USTACK_NETNS. Everything happens
# inside it: the TAP, the addresses, the routes. The host's own interfaces
# and routes are never touched, and nothing can leave the machine: the TAP
# is the namespace's only link and ustack is at its other end. Needs root
# (network namespaces and TAP devices need CAP_SYS_ADMIN and CAP_NET_ADMIN).
set -euo pipefail

NS=${USTACK_NETNS:-ustack-demo}
KADDR=10.0.0.1/24

die() {
    echo "netns.sh: $*" >&2
    exit 1
}

exists() { ip netns list | awk '{ print $1 }' | grep -qx "$NS"; }

need_root() {
    [ "$(id -u)" -eq 0 ] || die "needs root (try: sudo $0 $*)"
    [ -c /dev/net/tun ] || die "no /dev/net/tun (load the tun module: modprobe tun)"
}

up() {
    need_root up
    exists && die "namespace $NS exists already ('$0 down' removes it)"
    ip netns add "$NS"
    # From here on, a failure removes what was made.
    trap 'ip netns del "$NS" 2>/dev/null' ERR
    ip netns exec "$NS" ip link set lo up
    ip netns exec "$NS" ip tuntap add dev tap0 mode tap
    # No IPv6 chatter (router solicitations, MLD) on the TAP: ustack speaks IPv4.
    ip netns exec "$NS" sysctl -qw net.ipv6.conf.tap0.disable_ipv6=1 2>/dev/null || true
    ip netns exec "$NS" ip addr add "$KADDR" dev tap0
    ip netns exec "$NS" ip link set tap0 up
    trap - ERR
    echo "namespace $NS is up: the kernel is ${KADDR%/*} on tap0; give ustack --tap tap0 --addr 10.0.0.2/24"
}

down() {
    need_root down
    exists || {
        echo "namespace $NS does not exist"
        return 0
    }
    # Ask politely, then insist: at most 5 s.
    local pids
    pids=$(ip netns pids "$NS" || true)
    if [ -n "$pids" ]; then
        kill $pids 2>/dev/null || true
        for _ in $(seq 50); do
            [ -z "$(ip netns pids "$NS" || true)" ] && break
            sleep 0.1
        done
        pids=$(ip netns pids "$NS" || true)
        [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
    fi
    ip netns del "$NS"
    echo "namespace $NS removed"
}

case ${1:-} in
up) up ;;
down) down ;;
exec)
    shift
    [ $# -gt 0 ] || die "exec needs a command"
    exists || die "namespace $NS does not exist ('$0 up' creates it)"
    exec ip netns exec "$NS" "$@"
    ;;
status)
    if exists; then
        echo "namespace $NS exists; processes inside: $(ip netns pids "$NS" | tr '\n' ' ')"
        ip netns exec "$NS" ip -brief addr
    else
        echo "namespace $NS does not exist"
    fi
    ;;
*)
    echo "usage: $0 up | down | exec CMD... | status   (namespace: $NS, or \$USTACK_NETNS)" >&2
    exit 2
    ;;
esac
