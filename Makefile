# libquantize: build, demo, test and install the C library.
#
#   make                  cargo build --release (libquantize.so, libquantize.a in target/release)
#   make demo             build, then compile and run examples-c/seed_example.c (static link;
#                         DEMO=path/to/other.c runs another program); then quantize a small
#                         test model to Q4_K with quantize-model and show its table
#   make test             the whole suite: cargo test (Rust, C programs, header), quantize-model's
#                         tests (Rust, and its output read by the gguf Python package), the
#                         Python package in a fresh venv, install + pkg-config
#   make install          header, libraries and pkg-config file under $(DESTDIR)$(PREFIX)
#
# PREFIX (default /usr/local), LIBDIR, INCLUDEDIR, PKGCONFIGDIR and DESTDIR follow the usual
# conventions; CARGO_TARGET_DIR is honoured. `make && sudo make install` keeps cargo out of root.

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

CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR
RELEASE := $(CARGO_TARGET_DIR)/release

VERSION := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))

# The system libraries a program linking libquantize.a needs, as rustc reports them for this
# machine (e.g. -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc); written by `make build`.
NATIVE_LIBS := $(RELEASE)/quantize-native-static-libs.txt
SOURCES     := Cargo.toml Cargo.lock build.rs $(shell find src -name '*.rs' 2>/dev/null)

.PHONY: all build demo test install uninstall clean

all: build

build:
	$(CARGO) build --release
	$(CARGO) rustc --release --lib --crate-type staticlib -- --print native-static-libs \
	  > $(NATIVE_LIBS).log 2>&1 || { cat $(NATIVE_LIBS).log >&2; exit 1; }
	sed -n 's/^note: native-static-libs: *//p' $(NATIVE_LIBS).log | tail -n 1 > $(NATIVE_LIBS).tmp
	@test -s $(NATIVE_LIBS).tmp || { echo "error: rustc reported no native-static-libs" >&2; exit 1; }
	@mv $(NATIVE_LIBS).tmp $(NATIVE_LIBS); rm -f $(NATIVE_LIBS).log
	@echo "static linking also needs: $$(cat $(NATIVE_LIBS))"

$(NATIVE_LIBS): $(SOURCES)
	$(MAKE) build

demo: build
	$(CC) $(CFLAGS) -Iinclude $(DEMO) $(RELEASE)/libquantize.a \
	  $$(cat $(NATIVE_LIBS)) -o $(RELEASE)/$(notdir $(basename $(DEMO)))
	$(RELEASE)/$(notdir $(basename $(DEMO)))
	$(CARGO) build --release -p quantize-model
	$(RELEASE)/quantize-model make-test-model $(RELEASE)/demo-model
	$(RELEASE)/quantize-model $(RELEASE)/demo-model/model.safetensors \
	  $(RELEASE)/demo-model/model-q4_k.gguf --type q4_k --keep '^lm_head\.'

test:
	$(CARGO) test
	$(CARGO) test -p quantize-model
	bash scripts/test_quantize_model_py.sh
	bash scripts/test_python.sh
	bash scripts/test_install.sh

install: $(NATIVE_LIBS)
	$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 644 include/quantize.h $(DESTDIR)$(INCLUDEDIR)/quantize.h
	$(INSTALL) -m 755 $(RELEASE)/libquantize.so $(DESTDIR)$(LIBDIR)/libquantize.so.$(VERSION)
	ln -sf libquantize.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libquantize.so.$(MAJOR)
	ln -sf libquantize.so.$(MAJOR) $(DESTDIR)$(LIBDIR)/libquantize.so
	$(INSTALL) -m 644 $(RELEASE)/libquantize.a $(DESTDIR)$(LIBDIR)/libquantize.a
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	  -e 's|@VERSION@|$(VERSION)|' -e "s|@LIBS_PRIVATE@|$$(cat $(NATIVE_LIBS))|" \
	  quantize.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/quantize.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/quantize.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/quantize.h $(DESTDIR)$(LIBDIR)/libquantize.a \
	  $(DESTDIR)$(LIBDIR)/libquantize.so $(DESTDIR)$(LIBDIR)/libquantize.so.$(MAJOR) \
	  $(DESTDIR)$(LIBDIR)/libquantize.so.$(VERSION) $(DESTDIR)$(PKGCONFIGDIR)/quantize.pc

clean:
	$(CARGO) clean
