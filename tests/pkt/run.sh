#!/usr/bin/env bash
# The pkt rung of the test ladder (docs/DESIGN.md §6): every shared
# packetdrill script, in one matching mode, each result compared with
# tests/pkt/expectations.tsv. A regression fails, and so does an expected
# failure that now passes (update the file then).
#
# Usage: run.sh USTACK SCRIPTS_DIR EXPECTATIONS MODE SUMMARY_FILE
#
# The scripts are read in place (../shared/packetdrill), never copied.
# gVisor's are written for its harness's wide timing tolerance -- their last
# ACK is scripted 10 ms after the FIN that causes it, and a `~` range opens
# 50 ms after the SYN-ACK it waits for -- so they run with 100 ms; the others
# with their own tolerance or packetdrill's 4 ms. The per-suite table with
# the pass rates goes to SUMMARY_FILE, which ctest prints after the tests.
set -uo pipefail
ustack=$1 scripts=$2 expect=$3 mode=$4 summary=$5
if [ ! -d "$scripts" ]; then
    echo "no packetdrill scripts at $scripts"
    exit 77
fi
out=$("$ustack" pkt run --mode "$mode" --expect "$expect" --root "$scripts" --summary -q \
    "$scripts/freebsd" "$scripts/linux" --tolerance_usecs=100000 "$scripts/gvisor")
status=$?
printf '%s\n' "$out"
printf '%s\n' "$out" | sed -n '/mode, per suite/,/^  all /p' >"$summary"
exit $status
