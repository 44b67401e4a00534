#!/bin/sh
# argv that a report must show as text: markup, quotes, a script end, line separators, a byte that is not UTF-8
/bin/echo '<img src=x onerror=alert(1)>' >/dev/null
/bin/echo '</script><script>alert(2)</script>' '"quoted" & '"'"'single'"'"' <!-- -->' >/dev/null
/bin/echo "$(printf 'line\342\200\250sep\342\200\251para')" >/dev/null
/bin/echo "$(printf 'caf\351 \377')" '\u2028 ${x} `y`' >/dev/null
sh -c 'exit 3' || true
sh -c 'kill -TERM $$' || true
setsid /bin/true
perl -e 'setpgrp(0, 0); exec "/bin/true"'
sh -c 'exec env /bin/true "a   b"'
sleep 0.3 &
