"""`python3 -m proctrace`: the same as the installed `proctrace` command."""

import sys

from proctrace.cli import main

if __name__ == "__main__":
    sys.exit(main())
