#!/bin/sh
# Failures of every kind and an orphan that outlives the script (record it with --follow-orphans):
#   proctrace record --follow-orphans -o tests/data/recordings/tree_failures_orphan.jsonl -- \
#       sh tests/workloads/tree_failures_orphan.sh
sh -c 'exit 3'
false || true
sleep 5 & kill -TERM $!; wait $!
sh -c 'kill -SEGV $$'
ls /nonexistent-directory 2> /dev/null
# hostile argv (printf itself is a builtin, /usr/bin/printf is exec'd): an escape sequence, a bidi override, a newline, an empty argument, a byte that is not UTF-8
/usr/bin/printf '%s|%s|%s|%s|%s\n' "$(printf 'esc\033[31mred')" "$(printf 'abc\342\200\256txt')" "two
lines" "" "$(printf 'caf\351')" > /dev/null
(sleep 0.6; true) &
(sh -c 'sleep 0.3 & exec sleep 0.1') &
sleep 0.05
exit 1
