# The workload of capture.sh: one of each kind of event.
/bin/echo '' 'two words' "it's" 'new
line' 'a:b#c;d' "$(printf 'caf\303\251 \377\376')" >/dev/null
(setsid /bin/true)
/usr/bin/python3 -c 'import os, threading; t = threading.Thread(target=print); t.start(); t.join(); os.setpgid(0, 0)' >/dev/null
sh -c 'exit 3'
sh -c 'kill -KILL $$'
/bin/true "$(head -c 5000 /dev/zero | tr '\0' x)" "$(head -c 700 /dev/zero | tr '\0' y)"
"/$(printf 'bin/../%.0s' $(seq 30))bin/true" a-long-filename
exit 5
