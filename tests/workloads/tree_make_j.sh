#!/bin/sh
# A small C project built with make -j4: the parallel build of tests/data/recordings/tree_make_j.jsonl.
#   proctrace record -o tests/data/recordings/tree_make_j.jsonl -- sh tests/workloads/tree_make_j.sh /tmp/proj
set -e
dir=${1:?usage: tree_make_j.sh DIR}
rm -rf "$dir" && mkdir -p "$dir/src"
for i in 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24; do
    printf '#include "common.h"\nint mod%s(int x) { int s = 0; for (int i = 0; i < x; i++) s += i * 1%s; return s; }\n' \
        "$i" "$i" > "$dir/src/mod$i.c"
done
printf '#include <stdio.h>\n#include "common.h"\nint main(void) { printf("ok %%d\\n", VERSION); return 0; }\n' \
    > "$dir/src/main.c"
cat > "$dir/Makefile" <<'MAKEFILE'
SRCS := $(wildcard src/*.c)
OBJS := $(patsubst src/%.c,build/%.o,$(SRCS))
CFLAGS ?= -O2 -Wall -Ibuild

all: build/app

build/common.h: | build
	echo '#define VERSION 3' > $@

build/libmods.a: $(filter-out build/main.o,$(OBJS))
	ar rcs $@ $^

build/app: build/main.o build/libmods.a
	$(CC) -o $@ $^
	./build/app > /dev/null

build/%.o: src/%.c build/common.h
	$(CC) $(CFLAGS) -c -o $@ $<

build:
	mkdir -p build
MAKEFILE
exec make -C "$dir" -j4 > /dev/null
