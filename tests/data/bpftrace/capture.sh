#!/bin/sh
# Re-capture the raw bpftrace lines used by tests/test_record_parse.py (as root):
#   sh tests/data/bpftrace/capture.sh > tests/data/bpftrace/session.txt
# A shell held on a FIFO is the root; it runs once bpftrace printed PT_BEGIN.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
mkfifo "$tmp/go"
sh -c 'read x < "$1"; exec sh "$2"' held "$tmp/go" "$here/capture_workload.sh" &
root=$!
python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); from proctrace.record import script_text; print(script_text())' \
    "$here/../../.." > "$tmp/script.bt"
BPFTRACE_MAP_KEYS_MAX=16384 bpftrace -B line --no-warnings "$tmp/script.bt" "$root" > "$tmp/out" 2>/dev/null &
tracer=$!
until grep -q PT_BEGIN "$tmp/out" 2>/dev/null; do sleep 0.05; done
echo go > "$tmp/go"
wait "$root" || true
sleep 0.5
kill -INT "$tracer"
wait "$tracer" || true
cat "$tmp/out"
rm -rf "$tmp"
