#!/usr/bin/env bash
# Command-line manners, for every subcommand `ustack --help` lists (so a
# command added later is checked without touching this file):
# - `ustack CMD --help` exits 0, prints "Usage: ustack CMD" on stdout only,
#   and says what the defaults are;
# - every option the help lists is one the command knows;
# - a bogus option, a missing value, a bad address or port: exit 2, nothing
#   on stdout, exactly one line on stderr, "ustack CMD: ...";
# - docs/ustack.md has a section for the command and mentions its options.
# Nothing here opens a TAP: every command line is refused, or needs none.
#
# Usage: bash test_cli_manners.sh path/to/ustack
set -u
USTACK=${1:?usage: test_cli_manners.sh path/to/ustack}
DOC=$(dirname "$0")/../../docs/ustack.md
TMP=$(mktemp -d /tmp/ustack-cli-manners-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# No running ustack is ever asked: stat looks only here.
export USTACK_CTL_DIR=$TMP/ctl.d
mkdir -p "$USTACK_CTL_DIR"
FAILS=0

bad() {
    echo "FAIL: $*" >&2
    FAILS=$((FAILS + 1))
}

# run ARGS...: runs ustack with a time limit; sets RC, OUT, ERR.
run() {
    timeout 10 "$USTACK" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
    RC=$?
    OUT=$(cat "$TMP/out")
    ERR=$(cat "$TMP/err")
}

# expect_usage_error WHAT ARGS...: exit 2, one line on stderr, nothing on stdout.
expect_usage_error() {
    local what=$1
    shift
    run "$@"
    local lines
    lines=$(wc -l <"$TMP/err")
    [ "$RC" -eq 2 ] || bad "ustack $* ($what): exit $RC, expected 2"
    [ -z "$OUT" ] || bad "ustack $* ($what): printed on stdout: $OUT"
    [ "$lines" -eq 1 ] || bad "ustack $* ($what): $lines lines on stderr: $ERR"
    case $ERR in
    "ustack $1: "*) ;;
    *) bad "ustack $* ($what): the message does not start with 'ustack $1: ': $ERR" ;;
    esac
}

# --- the top level ---
run --help
[ "$RC" -eq 0 ] || bad "ustack --help exited $RC"
COMMANDS=$(sed -n '/Commands:/,/^$/p' "$TMP/out" | awk '/^  [a-z]/ { print $1 }')
[ -n "$COMMANDS" ] || bad "ustack --help lists no commands"
run --version
[ "$RC" -eq 0 ] && grep -Eq '^ustack [0-9]+\.[0-9]+' "$TMP/out" || bad "ustack --version: $RC $OUT"
run no-such-command
[ "$RC" -eq 2 ] && [ "$(wc -l <"$TMP/err")" -eq 1 ] || bad "an unknown command: exit $RC, $ERR"
run
[ "$RC" -eq 2 ] || bad "ustack with no command exited $RC"

[ -f "$DOC" ] || bad "no manual at $DOC"

for cmd in $COMMANDS; do
    # --- help ---
    run "$cmd" --help
    [ "$RC" -eq 0 ] || bad "ustack $cmd --help exited $RC"
    [ -z "$ERR" ] || bad "ustack $cmd --help wrote on stderr: $ERR"
    grep -q "^Usage: ustack $cmd" "$TMP/out" || bad "ustack $cmd --help has no 'Usage: ustack $cmd'"
    grep -qi 'default' "$TMP/out" || bad "ustack $cmd --help does not mention defaults"
    HELP=$(cat "$TMP/out")
    # The options it lists, from lines that start with one (the usage line
    # and the option table).
    OPTS=$(grep -E '^(Usage:|[[:space:]]+-)' <<<"$HELP" | grep -oE -- '--[a-z][a-z0-9_-]*' | sort -u)

    # --- every listed option is known ---
    for opt in $OPTS; do
        run "$cmd" "$opt"
        case $ERR in
        *"unknown option"* | *"unknown or ambiguous option"*) bad "ustack $cmd --help lists $opt, which it refuses: $ERR" ;;
        esac
    done

    # --- refusals ---
    expect_usage_error "a bogus option" "$cmd" --no-such-option
    expect_usage_error "a bogus option with a value" "$cmd" --no-such-option=1
    expect_usage_error "a bogus short option" "$cmd" -Q
    if grep -q -- '--addr' <<<"$HELP"; then
        expect_usage_error "a bad address" "$cmd" --addr 10.0.0.300/24 --tap tap0
        expect_usage_error "an address without prefix" "$cmd" --addr 10.0.0.2 --tap tap0
        expect_usage_error "a bad MTU" "$cmd" --mtu 12 --tap tap0
        expect_usage_error "a bad loss" "$cmd" --loss 101 --tap tap0
        expect_usage_error "a missing value" "$cmd" --tap
        grep -q "needs a value" "$TMP/err" || bad "ustack $cmd --tap: not 'needs a value': $(cat "$TMP/err")"
    fi
    if grep -q -- '--port' <<<"$HELP"; then
        expect_usage_error "port 70000" "$cmd" --port 70000
        expect_usage_error "port 0" "$cmd" --port 0
        expect_usage_error "a missing port" "$cmd" --port
    fi

    # --- the manual ---
    if [ -f "$DOC" ]; then
        grep -q "^## ustack $cmd\b" "$DOC" || bad "docs/ustack.md has no '## ustack $cmd' section"
        for opt in $OPTS; do
            [ "$opt" = --help ] && continue
            grep -q -- "$opt\b" "$DOC" || bad "docs/ustack.md does not mention $cmd's $opt"
        done
    fi
done

# Usage errors particular to a command, one line each.
expect_usage_error "a bad host" connect 10.0.0.300 80 --tap tap0 --addr 10.0.0.2/24
expect_usage_error "no host" connect --tap tap0 --addr 10.0.0.2/24
expect_usage_error "no --root" http --tap tap0 --addr 10.0.0.2/24
expect_usage_error "no --tap" run --addr 10.0.0.2/24
expect_usage_error "no --addr" echo --tap tap0
expect_usage_error "a stray argument" run extra --tap tap0 --addr 10.0.0.2/24
expect_usage_error "--ctl and --pid" stat --ctl /x --pid 1
expect_usage_error "a bad pid" stat --pid abc
expect_usage_error "a bad interval" stat --watch=0
expect_usage_error "no pcap" trace
# Runtime failures: exit 1, one line saying what is wrong.
run stat
[ "$RC" -eq 1 ] && grep -q "no running ustack found" "$TMP/err" || bad "stat with none running: $RC $ERR"
run stat --ctl "$TMP/nothing.ctl"
[ "$RC" -eq 1 ] && grep -q "no such control socket" "$TMP/err" || bad "stat --ctl to nothing: $RC $ERR"
run http --root "$TMP/no-such-dir" --tap tap0 --addr 10.0.0.2/24
[ "$RC" -eq 1 ] && grep -q "cannot serve --root" "$TMP/err" || bad "http with a missing root: $RC $ERR"
run trace "$TMP/no-such.pcap"
[ "$RC" -eq 1 ] || bad "trace of a missing file exited $RC"

if [ "$FAILS" -ne 0 ]; then
    echo "$FAILS failures" >&2
    exit 1
fi
echo "ok: $(echo $COMMANDS | wc -w) commands"
