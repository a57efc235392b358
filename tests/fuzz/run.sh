#!/usr/bin/env bash
# run.sh FUZZER SEED_DIR: runs a libFuzzer target for a bounded time
# (USTACK_FUZZ_SECONDS, default 60) on a scratch copy of its seed corpus, so
# the repository is never written. A crash leaves its input in the scratch
# directory, whose path is printed.
set -u
fuzzer=$1 seeds=$2
secs=${USTACK_FUZZ_SECONDS:-60}
work=$(mktemp -d /tmp/ustack-fuzz-XXXXXX)
mkdir -p "$work/corpus"
[ -d "$seeds" ] && cp -r "$seeds"/. "$work/corpus/" 2>/dev/null
cd "$work"
"$fuzzer" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" corpus 2>&1 | tail -25
rc=${PIPESTATUS[0]}
if [ "$rc" -ne 0 ]; then
    echo "fuzzer failed (exit $rc); crashing inputs kept in $work"
    exit 1
fi
rm -rf "$work"
