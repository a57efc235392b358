# lib.sh: shared by the interop tests. Every test runs inside its own network
# namespace (named after the test and its PID), with a TAP device tap0 in it:
# the kernel's side is 10.0.0.1/24, ustack's is 10.0.0.2/24. The namespace is
# deleted at the end, also on failure; nothing touches the root namespace.
#
# Usage in a test:
#   source "$(dirname "$0")/lib.sh"
#   body() { ...; }           # runs inside a subshell with teardown trapped
#   run_in_netns body

USTACK=${1:?usage: $0 path/to/ustack}
USTACK=$(readlink -f "$USTACK")
PY=/usr/bin/python3
KADDR=10.0.0.1
UADDR=10.0.0.2
NS="ustack-$(basename "$0" .sh)-$$"
TMP=$(mktemp -d "/tmp/ustack-$(basename "$0" .sh)-XXXXXX")
BG_PIDS=()

say() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*"; }
die() { say "FAIL: $*"; exit 1; }

need_root() {
    if [ "$(id -u)" -ne 0 ]; then say "skip: needs root (network namespaces)"; exit 77; fi
    if [ ! -c /dev/net/tun ]; then say "skip: no /dev/net/tun"; exit 77; fi
}

nsx() { ip netns exec "$NS" "$@"; }

ns_setup() {
    ip netns add "$NS" || die "cannot create namespace $NS"
    nsx ip link set lo up
    nsx ip tuntap add dev tap0 mode tap
    nsx sysctl -qw net.ipv6.conf.tap0.disable_ipv6=1 2>/dev/null || true
    nsx ip addr add "$KADDR/24" dev tap0
    nsx ip link set tap0 up
}

ns_teardown() {
    set +e
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    # Bounded: whatever has not stopped within 5 s is killed.
    local end=$((SECONDS + 5))
    for p in "${BG_PIDS[@]}"; do
        while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.05; done
    done
    ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null
    for p in "${BG_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
}

# Starts a command in the namespace in the background; its PID in $BG.
bg() {
    # Not through nsx: the PID must be the program's own (ip netns exec
    # execs it), so signals reach it rather than a subshell.
    ip netns exec "$NS" "$@" &
    BG=$!
    BG_PIDS+=("$BG")
}

# wait_for SECONDS DESCRIPTION COMMAND...: polls until COMMAND succeeds.
wait_for() {
    local limit=$1 what=$2
    shift 2
    local end=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        [ $SECONDS -ge $end ] && die "timed out after ${limit}s waiting for: $what"
        sleep 0.05
    done
}

# Stops a background process with SIGINT and waits for it (bounded).
stop_bg() {
    local pid=$1
    kill -INT "$pid" 2>/dev/null
    local end=$((SECONDS + 20))
    while kill -0 "$pid" 2>/dev/null; do
        [ $SECONDS -ge $end ] && { kill -9 "$pid"; die "process $pid ignored SIGINT"; }
        sleep 0.05
    done
    wait "$pid"
}

# ustack answers ping (it is up and ARP works).
wait_ustack_up() { wait_for "${1:-20}" "ustack at $UADDR answering ping" nsx ping -c 1 -W 1 "$UADDR"; }

# A TCP port listening inside the namespace (kernel side).
k_listening() { nsx ss -Htln "sport = :$1" | grep -q .; }

run_in_netns() {
    need_root
    local rc=0
    (
        trap ns_teardown EXIT
        ns_setup
        "$@"
    ) || rc=$?
    if ip netns list | grep -qw "$NS"; then
        say "FAIL: namespace $NS still exists after the test"
        ip netns del "$NS" 2>/dev/null
        rc=1
    fi
    rm -rf "$TMP"
    [ $rc -eq 0 ] && say "ok"
    exit $rc
}
