# cairn: a plain Makefile. `make`, `make test`, `make SANITIZE=address,undefined test`,
# `make install PREFIX=/usr/local` (DESTDIR honoured).
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=c17 -Wall -Wextra -Wshadow -Wmissing-prototypes \
           -Wstrict-prototypes -Wwrite-strings -Wno-unused-parameter
CPPFLAGS_ALL := -D_GNU_SOURCE -Isrc $(shell pkg-config --cflags lua5.4 2>/dev/null || echo -I/usr/include/lua5.4) $(CPPFLAGS)
LIBS    := -llua5.4 -lcrypto -lm
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
# Sanitized objects live in their own directory, so a plain build is never
# mistaken for a sanitized one; SANFLAGS survive a CFLAGS given on the
# command line.
ifneq ($(SANITIZE),)
  SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
              -Wno-format-overflow -Wno-format-truncation
  B := build-san
else
  SANFLAGS :=
  B := build
endif
LIB_SRCS := \
	src/util/util.c src/util/str.c src/util/arena.c src/util/err.c \
	src/util/sha.c src/util/fs.c src/util/json.c src/util/map.c src/util/hook.c src/util/par.c \
	src/lang/label.c src/lang/eval.c src/lang/glob.c src/lang/bind.c \
	src/lang/prelude.c \
	src/graph/graph.c src/graph/check.c src/graph/snapshot.c \
	src/store/cas.c src/store/ac.c src/store/state.c src/store/gc.c \
	src/exec/noop.c src/exec/os_posix.c src/exec/runner.c src/exec/files.c src/exec/decide.c src/exec/job.c src/exec/sched.c src/exec/key.c src/exec/shell.c src/exec/depfile.c src/exec/watch.c src/exec/sandbox_linux.c src/exec/spawner.c \
	src/remote/url.c \
	src/cli/ui.c src/cli/trace.c src/cli/query.c src/cli/build.c src/cli/args.c src/cli/config.c src/cli/tests.c
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/%.o)
MAIN_OBJ := $(B)/src/cli/main.o
# The files that call hook() (util/hook.h), built again with -DCAIRN_HOOKS
# for cairn-hooks, the binary the fault-injection tests drive.
HOOK_SRCS := src/util/hook.c src/exec/spawner.c src/exec/sandbox_linux.c
HOOK_OBJS := $(HOOK_SRCS:%.c=$(B)/hooks/%.o)
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(B)/%.o)

all: cairn

# Replaced by a rename, never written in place: a cairn that runs (build
# --watch) keeps its old file, where cp over it fails with "Text file busy".
cairn: $(B)/cairn
	cp $< $@.tmp && mv -f $@.tmp $@

$(B)/cairn: $(LIB_OBJS) $(MAIN_OBJ)
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

cairn-hooks: $(B)/cairn-hooks
	cp $< $@.tmp && mv -f $@.tmp $@

$(B)/cairn-hooks: $(filter-out $(HOOK_SRCS:%.c=$(B)/%.o),$(LIB_OBJS)) $(HOOK_OBJS) $(MAIN_OBJ)
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/hooks/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -DCAIRN_HOOKS $(WARN) $(CFLAGS) $(SANFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/unit/run: $(LIB_OBJS) $(UNIT_OBJS)
	$(CC) $(SANFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(WARN) $(CFLAGS) $(SANFLAGS) -MMD -MP -c -o $@ $<

# The Lua prelude is embedded with .incbin; make must know about it.
$(B)/src/lang/prelude.o: src/lang/prelude.lua src/lang/rules_cc.lua

unit: $(B)/tests/unit/run
	@mkdir -p build/tests/unit
	@[ "$(B)" = build ] || cp $(B)/tests/unit/run build/tests/unit/run

# The whole suite: builds, runs unit and black-box tests. It installs no
# packages: `scripts/deps.sh && make test` on a new machine.
test:
	$(MAKE) cairn cairn-hooks unit
	ASAN_OPTIONS=detect_leaks=1 tests/run.sh

# make install: cairn (built if needed) to $(DESTDIR)$(BINDIR), its man page
# to $(DESTDIR)$(MANDIR)/man1. install-only installs the ./cairn that is
# there and builds nothing: the test suite installs with it, so that a
# sanitized cairn is never rebuilt plain under the running suite.
define install_files
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(MANDIR)/man1"
	install -m 0755 cairn "$(DESTDIR)$(BINDIR)/cairn"
	install -m 0644 docs/cairn.1 "$(DESTDIR)$(MANDIR)/man1/cairn.1"
endef

install: cairn
	$(install_files)

install-only:
	@test -x cairn || { echo "no ./cairn to install: run make first" >&2; exit 1; }
	$(install_files)

# Installs the Debian packages cairn needs to build and test (idempotent).
deps:
	@scripts/deps.sh

# Set-up for a new machine: packages, cairn, and the example workspace built and tested.
setup: deps
	$(MAKE) cairn
	cd examples && ../cairn build //... && ../cairn test //...

bench: cairn
	bench/run.sh --cairn $(CURDIR)/cairn

clean:
	rm -rf build build-san cairn cairn-hooks cairn.tmp cairn-hooks.tmp

.PHONY: all test unit deps setup bench clean cairn cairn-hooks install install-only
-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d) $(UNIT_OBJS:.o=.d) $(HOOK_OBJS:.o=.d)
