#!/bin/sh
# Pipes, a background job waited for and one left running in a subshell: tests/data/recordings/tree_shell_pipes.jsonl.
#   proctrace record -o tests/data/recordings/tree_shell_pipes.jsonl -- sh tests/workloads/tree_shell_pipes.sh
seq 1 5000 | sort -rn | head -n 3 > /dev/null
(sleep 0.2; echo background > /dev/null) &
waited=$!
find /usr/include -maxdepth 2 -name '*.h' 2>/dev/null | wc -l > /dev/null &
grep -c root /etc/passwd | tr -d '\n' > /dev/null
for word in one two three; do
    echo "$word" | sed 's/^/item /' > /dev/null
done
wait "$waited"
sh -c 'sleep 0.1 | cat > /dev/null' &
wait
