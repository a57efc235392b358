#!/usr/bin/env bash
# test_bench.sh: a smoke run of every benchmark (`ustack bench --quick`), so
# none can rot. It checks that each figure was measured and that the JSON
# file holds ustack, kernel and ratio with their units; it never judges a
# timing. Without root the kernel's figures and the TAP benchmark are left
# out (the ustack side still runs); the TAP part then reports a skip (77).
set -euo pipefail
USTACK=$(readlink -f "${1:?usage: $0 path/to/ustack}")
TMP=$(mktemp -d /tmp/ustack-test-bench-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
say() { printf '[test_bench] %s\n' "$*"; }

check_json() {
    python3 - "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["commit"] and d["machine"], "commit and machine recorded"
assert d["benchmarks"], "no benchmark entries"
for b in d["benchmarks"]:
    for side in ("ustack", "kernel"):
        assert "value" in b[side] and "unit" in b[side] and "min" in b[side] and "max" in b[side], (b["name"], side)
    assert "value" in b["ratio"] and b["ratio"]["unit"] == "x", b["name"]
    v = b["ustack"]["value"]
    assert v is not None and v >= 0, "%s: ustack figure not measured" % b["name"]
print("%d entries ok" % len(d["benchmarks"]))
PY
}

"$USTACK" bench --quick --json "$TMP/local.json" bulk rr crr conns scale instructions \
    >"$TMP/local.txt" 2>&1 || { cat "$TMP/local.txt"; say "FAIL: bench --quick"; exit 1; }
check_json "$TMP/local.json" || { cat "$TMP/local.txt"; exit 1; }

rc=0
"$USTACK" bench --quick --json "$TMP/tap.json" tap >"$TMP/tap.txt" 2>&1 || rc=$?
if [ $rc -eq 77 ]; then say "skip: tap needs root and /dev/net/tun"; exit 77; fi
[ $rc -eq 0 ] || { cat "$TMP/tap.txt"; say "FAIL: bench --quick tap"; exit 1; }
check_json "$TMP/tap.json" || { cat "$TMP/tap.txt"; exit 1; }
# The namespaces were private (unshare): nothing may be left behind.
if ip link show ubt0 >/dev/null 2>&1; then say "FAIL: a TAP leaked into this namespace"; exit 1; fi
say ok
