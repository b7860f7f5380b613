# ckconv - checkpoint translator.  `make` builds bin/ckconv; see README.md for the rest.
PREFIX  ?= /usr/local
BUILD   ?= build
BIN     ?= bin
CC      ?= cc
PKGS    := yaml-0.1 libpcre2-8 hdf5-serial jansson minizip libxxhash nettle liblz4 libseccomp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
OPTFLAGS ?= -O2 -g
# the user's CFLAGS/LDFLAGS are added, never replace what the build needs
CK_CFLAGS = $(OPTFLAGS) -std=c11 -pthread -D_GNU_SOURCE -Wall -Wextra -Werror -Isrc $(PKG_CFLAGS) $(EXTRA_CFLAGS) $(CFLAGS)
CK_LDLIBS = $(PKG_LIBS) -lm $(EXTRA_LDFLAGS) $(LDFLAGS) $(LDLIBS)

LIB_SRC := $(filter-out src/main.c src/par_mpi.c,$(wildcard src/*.c))
LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

DEBIAN_PKGS := build-essential pkg-config libyaml-dev libpcre2-dev libhdf5-dev hdf5-tools \
	libjansson-dev libminizip-dev libxxhash-dev nettle-dev liblz4-dev libseccomp-dev hdf5-filter-plugin python3-hdf5plugin python3-numpy python3-h5py python3-yaml python3-jsonschema clang libclang-rt-14-dev valgrind time tmux zsh \
	$(MPI_DEBIAN_PKGS)
# bin/ckconv-mpi (`make mpi`, docs/scale-out.md): the same sources, par_mpi.c in place of
# par_serial.c, built with mpicc against parallel HDF5. Installing libhdf5-openmpi-dev points the
# generic hdf5.pc at the MPI library: the serial build names hdf5-serial, so it never follows.
MPI_DEBIAN_PKGS := openmpi-bin libopenmpi-dev libhdf5-openmpi-dev
MPICC   ?= mpicc
MPI_BUILD ?= $(BUILD)-mpi
MPI_PKGS := $(subst hdf5-serial,hdf5-openmpi,$(PKGS))
MPI_SRC := $(filter-out src/par_serial.c,$(LIB_SRC)) src/par_mpi.c src/main.c
MPI_OBJ := $(MPI_SRC:src/%.c=$(MPI_BUILD)/%.o)
# whether this machine can build it (make test builds and tests it only then)
HAVE_MPI := $(shell command -v $(MPICC) >/dev/null 2>&1 && pkg-config --exists hdf5-openmpi 2>/dev/null && echo 1)

.PHONY: all test check valgrind demo bench fuzz deps deps-mpi install install-doc clean units mpi

all: $(BIN)/ckconv

$(BUILD)/%.o: src/%.c $(wildcard src/*.h src/*.def) | $(BUILD)
	$(CC) $(CK_CFLAGS) -c -o $@ $<

$(BUILD):
	mkdir -p $(BUILD)/tests

$(BIN)/ckconv: $(LIB_OBJ) $(BUILD)/main.o
	mkdir -p $(BIN)
	$(CC) $(CK_CFLAGS) -o $@ $^ $(CK_LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB_OBJ) tests/unit/t.h tests/unit/t_plan.h tests/unit/t_rule.h | $(BUILD)
	$(CC) $(CK_CFLAGS) -Itests/unit -o $@ $< $(LIB_OBJ) $(CK_LDLIBS)

units: $(UNIT_BIN)

MPI_CFLAGS = $(OPTFLAGS) -std=c11 -pthread -D_GNU_SOURCE -Wall -Wextra -Werror -Isrc $(shell pkg-config --cflags $(MPI_PKGS)) $(EXTRA_CFLAGS) $(CFLAGS)
MPI_LDLIBS = $(shell pkg-config --libs $(MPI_PKGS)) -lm $(EXTRA_LDFLAGS) $(LDFLAGS) $(LDLIBS)

mpi: $(BIN)/ckconv-mpi

$(MPI_BUILD)/%.o: src/%.c $(wildcard src/*.h src/*.def)
	@mkdir -p $(MPI_BUILD)
	$(MPICC) $(MPI_CFLAGS) -c -o $@ $<

$(BIN)/ckconv-mpi: $(MPI_OBJ)
	mkdir -p $(BIN)
	$(MPICC) $(MPI_CFLAGS) -o $@ $^ $(MPI_LDLIBS)

# bin/ckconv-mpi is built and tested when the machine has MPI (make deps installs it), and not
# under the sanitizers (Open MPI's own allocations are reported as leaks): tests/e2e/mpi.sh says so
TEST_MPI = $(if $(HAVE_MPI),$(if $(SANITIZED),,1))
test: all units $(if $(TEST_MPI),mpi)
	@CKCONV=$(BIN)/ckconv $(if $(TEST_MPI),CKCONV_MPI=$(BIN)/ckconv-mpi) UNITS=$(BUILD)/tests CK_SANITIZED=$(SANITIZED) bash tests/run.sh

# The whole suite again under AddressSanitizer + UBSan, in separate build dirs.
# SANITIZED=1 tells the suite's measured bounds (peak RSS, CPU time) that the sanitizers' runtime
# is there: shadow memory and slower code, so their fixed allowances grow; the checks stay.
check:
	$(MAKE) test SANITIZED=1 BUILD=build-asan BIN=build-asan/bin OPTFLAGS="-O1 -g -fno-omit-frame-pointer" \
		EXTRA_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined"

# deps first in a make of its own: the flags above come from pkg-config, which needs the packages
demo:
	@$(MAKE) --no-print-directory deps && $(MAKE) --no-print-directory all && bash tools/demo.sh $(BIN)/ckconv

bench:
	@$(MAKE) --no-print-directory deps && $(MAKE) --no-print-directory all && bash tools/bench.sh $(BIN)/ckconv

# The e2e suite with every ckconv run under valgrind memcheck (slow: a few minutes). The fault
# tests are left to `make check`: their LD_PRELOAD shim and signal timing do not survive valgrind.
valgrind: all units
	@CKCONV=tools/valgrind-ckconv.sh CKCONV_REAL=$(abspath $(BIN)/ckconv) UNITS=/nonexistent E2E_EXCLUDE="faults memory outputs limits many" \
		E2E_EXCLUDE_WHY="fault shim, signal timing, peak RSS and CPU-time bounds: run by make test and make check" bash tests/run.sh

# libFuzzer on every parser of untrusted bytes, FUZZ_SECONDS each (clang + libclang-rt-14-dev);
# FUZZ_NAMES="convert" runs only those harnesses (tests/fuzz/fuzz_NAME.c)
FUZZ_SECONDS ?= 60
fuzz:
	@bash tools/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_NAMES)

# Install the Debian packages the build and tests need, only when some are missing.
deps:
	@missing=""; for p in $(DEBIAN_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; fi

# only what bin/ckconv-mpi needs (make deps installs these too)
deps-mpi:
	@$(MAKE) --no-print-directory deps DEBIAN_PKGS="$(MPI_DEBIAN_PKGS)"

install: all install-doc
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/ckconv/rules $(DESTDIR)$(PREFIX)/share/ckconv/schemas
	install -m 755 $(BIN)/ckconv $(DESTDIR)$(PREFIX)/bin/ckconv
	if [ -x $(BIN)/ckconv-mpi ]; then install -m 755 $(BIN)/ckconv-mpi $(DESTDIR)$(PREFIX)/bin/ckconv-mpi; fi
	install -m 644 rules/*.yaml $(DESTDIR)$(PREFIX)/share/ckconv/rules/
	install -d $(DESTDIR)$(PREFIX)/share/ckconv/rules/cscs
	install -m 644 rules/cscs/*.yaml $(DESTDIR)$(PREFIX)/share/ckconv/rules/cscs/
	install -m 644 schemas/* $(DESTDIR)$(PREFIX)/share/ckconv/schemas/

# The man page and the shell completions, generated by the binary from its option tables
# (CKCONV_RUN: the ckconv that generates them; tests/e2e/completion.sh passes its own).
CKCONV_RUN ?= $(BIN)/ckconv
MANDIR ?= $(PREFIX)/share/man
install-doc: $(if $(filter $(BIN)/ckconv,$(CKCONV_RUN)),$(BIN)/ckconv)
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions
	$(CKCONV_RUN) man > $(DESTDIR)$(MANDIR)/man1/ckconv.1
	$(CKCONV_RUN) completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/ckconv
	$(CKCONV_RUN) completion zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_ckconv

clean:
	rm -rf build build-asan build-fuzz build-mpi bin
