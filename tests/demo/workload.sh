#!/bin/sh
# The demo's example workload: a small build-like tree with a pipeline, a
# subshell, a background job, a failing step and a process killed by a signal.
set -u
echo "building" | tr a-z A-Z >/dev/null
for part in one two three; do
    sh -c "printf '%s\n' \"compiling $part: ok\" | sed 's/ok/done/'" >/dev/null &
done
wait
( sleep 0.2; true ) &
ls / | wc -l >/dev/null
sh -c 'exit 3' || true
sleep 5 &
victim=$!
sleep 0.1
kill -TERM "$victim"
wait
printf 'argv with spaces, a colon: and a hash # survive\n' >/dev/null
