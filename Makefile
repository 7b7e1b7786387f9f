# libquantize: build, demo, test and install the C library.
#
#   make                  cargo build --release (libquantize.so, libquantize.a in target/release)
#   make demo             build, then compile and run examples-c/seed_example.c (static link;
#                         DEMO=path/to/other.c runs another program); then quantize a small
#                         test model to Q4_K with quantize-model and show its table
#   make test             the whole suite: cargo test (Rust, C programs, header), quantize-model's
#                         tests (Rust, and its output read by the gguf Python package), the
#                         Python package in a fresh venv, install + pkg-config; ends with the
#                         line `N passed, M failed` (scripts/total.sh)
#   make install          header, libraries and pkg-config file under $(DESTDIR)$(PREFIX)
#   make help             the targets and variables
#
# PREFIX (default /usr/local), LIBDIR, INCLUDEDIR, PKGCONFIGDIR and DESTDIR follow the usual
# conventions; CARGO_TARGET_DIR is honoured. `make && sudo make install` keeps cargo out of root.
# Recipes run quietly; V=1 shows the commands.

PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR      ?=
CARGO        ?= cargo
CC           ?= cc
CFLAGS       ?= -O2 -Wall -Wextra
INSTALL      ?= install
DEMO         ?= examples-c/seed_example.c
V            ?= 0

ifeq ($(V),1)
Q :=
else
Q := @
endif

CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
RELEASE := $(CARGO_TARGET_DIR)/release
DEMO_BIN := $(RELEASE)/$(notdir $(basename $(DEMO)))
# Everything `make test` prints, summed by scripts/total.sh into its last line.
TEST_LOG := $(CARGO_TARGET_DIR)/make-test.log

VERSION := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))

# The system libraries a program linking libquantize.a needs, as rustc reports them for this
# machine (e.g. -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc); written by `make build`.
NATIVE_LIBS := $(RELEASE)/quantize-native-static-libs.txt
SOURCES     := Cargo.toml Cargo.lock build.rs $(shell find src -name '*.rs' 2>/dev/null)

.PHONY: all build demo test install uninstall clean help

all: build

build:
	$(Q)$(CARGO) build --release
	$(Q)$(CARGO) rustc --release --lib --crate-type staticlib -- --print native-static-libs \
	  > $(NATIVE_LIBS).log 2>&1 || { cat $(NATIVE_LIBS).log >&2; exit 1; }
	$(Q)sed -n 's/^note: native-static-libs: *//p' $(NATIVE_LIBS).log | tail -n 1 > $(NATIVE_LIBS).tmp
	@test -s $(NATIVE_LIBS).tmp || { echo "error: rustc reported no native-static-libs" >&2; exit 1; }
	@mv $(NATIVE_LIBS).tmp $(NATIVE_LIBS); rm -f $(NATIVE_LIBS).log
	@echo "static linking also needs: $$(cat $(NATIVE_LIBS))"

$(NATIVE_LIBS): $(SOURCES)
	$(Q)$(MAKE) --no-print-directory build

demo: build
	$(Q)$(CC) $(CFLAGS) -Iinclude $(DEMO) $(RELEASE)/libquantize.a \
	  $$(cat $(NATIVE_LIBS)) -o $(DEMO_BIN)
	$(Q)$(DEMO_BIN)
	$(Q)$(CARGO) build --release -q -p quantize-model
	$(Q)$(RELEASE)/quantize-model make-test-model $(RELEASE)/demo-model
	$(Q)$(RELEASE)/quantize-model $(RELEASE)/demo-model/model.safetensors \
	  $(RELEASE)/demo-model/model-q4_k.gguf --type q4_k --keep '^lm_head\.'

# Every step runs even when one before it failed, so that the total covers the whole suite; any
# failed step still makes `make test` fail (scripts/total.sh sum exits 1).
test:
	$(Q)mkdir -p $(CARGO_TARGET_DIR) && : > $(TEST_LOG)
	$(Q)bash scripts/total.sh step $(TEST_LOG) $(CARGO) test
	$(Q)bash scripts/total.sh step $(TEST_LOG) $(CARGO) test -p quantize-model
	$(Q)bash scripts/total.sh step $(TEST_LOG) bash scripts/test_quantize_model_py.sh
	$(Q)bash scripts/total.sh step $(TEST_LOG) bash scripts/test_python.sh
	$(Q)bash scripts/total.sh step $(TEST_LOG) bash scripts/test_install.sh
	$(Q)bash scripts/total.sh sum $(TEST_LOG)

install: $(NATIVE_LIBS)
	$(Q)$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(Q)$(INSTALL) -m 644 include/quantize.h $(DESTDIR)$(INCLUDEDIR)/quantize.h
	$(Q)$(INSTALL) -m 755 $(RELEASE)/libquantize.so $(DESTDIR)$(LIBDIR)/libquantize.so.$(VERSION)
	$(Q)ln -sf libquantize.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libquantize.so.$(MAJOR)
	$(Q)ln -sf libquantize.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libquantize.so
	$(Q)$(INSTALL) -m 644 $(RELEASE)/libquantize.a $(DESTDIR)$(LIBDIR)/libquantize.a
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	  -e 's|@VERSION@|$(VERSION)|' -e "s|@LIBS_PRIVATE@|$$(cat $(NATIVE_LIBS))|" \
	  quantize.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/quantize.pc
	$(Q)chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/quantize.pc
	@echo "installed quantize.h, libquantize.so.$(VERSION), libquantize.a and quantize.pc under $(DESTDIR)$(PREFIX)"

uninstall:
	$(Q)rm -f $(DESTDIR)$(INCLUDEDIR)/quantize.h $(DESTDIR)$(LIBDIR)/libquantize.a \
	  $(DESTDIR)$(LIBDIR)/libquantize.so $(DESTDIR)$(LIBDIR)/libquantize.so.$(MAJOR) \
	  $(DESTDIR)$(LIBDIR)/libquantize.so.$(VERSION) $(DESTDIR)$(PKGCONFIGDIR)/quantize.pc

clean:
	$(Q)$(CARGO) clean

help:
	@echo "Targets:"
	@echo "  make [all|build]  cargo build --release: libquantize.so and libquantize.a in $(RELEASE)"
	@echo "  make demo         build, then compile and run $(DEMO) (DEMO=other.c for another program)"
	@echo "  make test         the whole suite (cargo test, Python package, install + pkg-config),"
	@echo "                    ending with the line 'N passed, M failed'"
	@echo "  make install      header, libraries and quantize.pc under DESTDIR/PREFIX ($(DESTDIR)$(PREFIX))"
	@echo "  make uninstall    remove what make install put in place"
	@echo "  make clean        cargo clean"
	@echo "  make help         this list"
	@echo "Variables: PREFIX LIBDIR INCLUDEDIR PKGCONFIGDIR DESTDIR CARGO CC CFLAGS DEMO"
	@echo "           CARGO_TARGET_DIR; V=1 shows the commands the recipes run."
