# proctrace: see README.md.  Nothing here needs the network except `make test`
# (when pytest/hypothesis are missing) and `make demo` (when bpftrace is).
PYTHON ?= python3
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib/proctrace
MANDIR = $(PREFIX)/share/man
VENV ?= .venv
DEMO_DIR ?= demo-output
DEB_DIR ?= build/deb
DEB_COPY_EXCLUDES = $(foreach dir,./build ./.venv ./$(DEMO_DIR) ./benchmarks/cache ./benchmarks/results \
  __pycache__ .pytest_cache .hypothesis,--exclude=$(dir))

# The test runner: this Python when it has pytest and hypothesis, else a local venv.
TEST_PYTHON = $(shell $(PYTHON) -c 'import pytest, hypothesis' 2>/dev/null && echo $(PYTHON) || echo $(VENV)/bin/python)

.PHONY: all test bench demo install uninstall deb clean

all:
	@echo "targets: test bench demo install uninstall deb clean"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet pytest hypothesis setuptools wheel

test: $(if $(filter $(VENV)/bin/python,$(TEST_PYTHON)),$(VENV)/bin/python)
	$(TEST_PYTHON) -m pytest -q $(PYTEST_ARGS)

bench:
	@command -v strace >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -qq strace >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq strace >/dev/null; }; }; } || \
	  echo "make bench: strace is missing and could not be installed; its row will say so" >&2
	$(PYTHON) benchmarks/run.py $(BENCH_ARGS)

demo:
	$(PYTHON) tests/demo/demo.py --out $(DEMO_DIR)

install:
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	cp -R proctrace $(DESTDIR)$(LIBDIR)/
	find $(DESTDIR)$(LIBDIR) -name __pycache__ -prune -exec rm -rf {} +
	printf '#!/usr/bin/env python3\nimport sys\nsys.path.insert(0, "%s")\nfrom proctrace.cli import main\nsys.exit(main())\n' "$(LIBDIR)" > $(DESTDIR)$(BINDIR)/proctrace
	chmod 755 $(DESTDIR)$(BINDIR)/proctrace
	install -m 644 man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/*.5 $(DESTDIR)$(MANDIR)/man5/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/proctrace
	rm -rf $(DESTDIR)$(LIBDIR)
	cd man && for page in *.1; do rm -f $(DESTDIR)$(MANDIR)/man1/$$page; done
	cd man && for page in *.5; do rm -f $(DESTDIR)$(MANDIR)/man5/$$page; done

# The Debian package, built by dpkg-buildpackage in a copy of the tree so that
# its by-products stay in $(DEB_DIR).  The copy leaves out the caches and
# outputs that .gitignore names (tar's --exclude-vcs-ignores misses its dir/
# patterns); the package holds only what `make install` takes.
deb:
	@dpkg-checkbuilddeps || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get build-dep -y -q ./ || { apt-get update -q && apt-get build-dep -y -q ./; }; }; } || \
	  { echo "make deb: the build dependencies are missing: run 'sudo apt-get build-dep ./' (Debian 12 or later)" >&2; exit 1; }
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
	tar -c --exclude-vcs $(DEB_COPY_EXCLUDES) -f - . | tar -x -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b
	@ls $(DEB_DIR)/*.deb

clean:
	rm -rf $(VENV) $(DEMO_DIR) build *.egg-info .pytest_cache .hypothesis
