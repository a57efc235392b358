#!/usr/bin/env bash
# Prints the pass rates the pkt tests left in the build directory (ctest runs
# this after the tests; after a run without them there is nothing to print).
heading="packetdrill scripts against ustack (tests/pkt/expectations.tsv, docs/conformance.md):"
for f in "$1/pkt-strict.txt" "$1/pkt-portable.txt"; do
    [ -f "$f" ] || continue
    [ -n "$heading" ] && echo "$heading" && heading=
    cat "$f"
done
exit 0
