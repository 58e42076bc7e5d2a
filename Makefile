# gatehouse: one plain Makefile. `make`, `make check`, `make check SANITIZE=1`, `make fuzz`,
# `make demo`, `make bench`, `make install`. Objects and binaries go to build/ (build/san/ under SANITIZE=1).

CC      ?= cc
PYTHON  ?= /usr/bin/python3
PKGS     = libevent libcares ldns libseccomp libpsl
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ifeq ($(SANITIZE),1)
BUILD   ?= build/san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# common/sandbox.c lets the sanitizer runtimes make the calls they need (see there).
SANDEFS  = -DGATEHOUSE_SANITIZE
else
BUILD   ?= build
SANFLAGS =
endif

WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wsign-compare -Wformat=2
CFLAGS  ?= -O2 -g
# -Werror under CI (.ci/run sets WERROR=1), so a new warning fails the build there.
ifeq ($(WERROR),1)
WARN    += -Werror
endif
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DGATEHOUSE_VERSION='"$(VERSION)"' $(WARN) $(CFLAGS) \
             $(SANFLAGS) $(SANDEFS) -MMD -MP $(shell pkg-config --cflags $(PKGS))
# Libraries: both daemons run on libevent and seccomp (common/) and judge wildcards with
# libpsl (common/policy.c, which every test linking policy.c gets too); ldns and c-ares are linked
# only where the one file that calls each is: ldns into the resolver (resolver/query.c),
# c-ares into the forwarder (forwarder/dns.c), and each into the tests that link that file.
# $(call libs,FILES,MORE): the link flags for FILES, plus the pkg-config packages MORE.
PKGS_common           = libevent libseccomp libpsl
PKGS_resolver/query.c = ldns
PKGS_resolver/passwire.c = ldns
PKGS_forwarder/dns.c  = libcares
PKGS_tools/audit_line.c    = jansson
PKGS_tools/summary_print.c = jansson
PKGS_tools/collapse.c      = libpsl
libs = $(shell pkg-config --libs $(sort $(PKGS_common) $(foreach f,$(1),$(PKGS_$(f))) $(2))) -lm
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)

# The configuration reader: the daemons, test_config, test_preflight and fuzz_config link it.
CONFIG   = common/config.c common/config_file.c common/config_env.c common/config_rules.c \
           common/config_settings.c common/config_print.c common/config_ports.c \
           common/config_zones.c common/hint.c \
           common/policyset.c common/pool_net.c
COMMON   = common/log.c common/util.c common/dname.c common/addr.c common/policy.c \
           $(CONFIG) common/audit.c common/daemon.c common/iface.c \
           common/prom.c common/httpd.c common/clients.c common/polstats.c \
           common/preflight.c common/resolvconf.c common/route.c common/sandbox.c common/sock.c \
           common/lookups.c common/pool.c
RESOLVER = resolver/main.c resolver/server.c resolver/query.c resolver/metrics.c resolver/burst.c \
           resolver/tell.c resolver/pooled.c resolver/pass.c resolver/passwire.c
FORWARDER = forwarder/main.c forwarder/listeners.c forwarder/conn.c forwarder/conn_audit.c \
           forwarder/dest.c forwarder/refuse.c forwarder/first_bytes.c forwarder/pump.c \
           forwarder/bufpool.c forwarder/dial.c forwarder/dns.c forwarder/cache.c \
           forwarder/tls_sni.c forwarder/http_host.c forwarder/metrics.c forwarder/recent.c
# gatehouse-audit, the learning command (tools/): it reads audit lines, and links the
# configuration reader for `suggest -c`; no daemon code.
TOOLS    = tools/main.c tools/input.c tools/audit_line.c tools/audit_time.c tools/filter.c \
           tools/summary.c tools/summary_print.c tools/suggest.c tools/suggest_build.c \
           tools/collapse.c tools/sets.c tools/suggest_print.c tools/current.c \
           $(CONFIG) common/policy.c common/dname.c common/addr.c common/util.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

# Include paths per directory: common/ sees only its own headers (a daemon's header there
# fails to compile), each daemon sees common/ and its own. $(call inc,FILES): the paths
# for the directories FILES are in (a test or fuzz target: those of what it links).
INC_common    = -Icommon
INC_resolver  = -Icommon -Iresolver
INC_forwarder = -Icommon -Iforwarder
INC_tools     = -Icommon -Itools
inc = $(sort $(foreach f,$(1),$(INC_$(firstword $(subst /, ,$(f))))))

BINS := $(BUILD)/gatehouse-resolver $(if $(wildcard forwarder/main.c),$(BUILD)/gatehouse-forwarder) \
        $(BUILD)/gatehouse-audit

all: $(BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(call inc,$<) -c -o $@ $<

$(BUILD)/gatehouse-resolver: $(call obj,$(RESOLVER) $(COMMON))
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call libs,$(RESOLVER))

$(BUILD)/gatehouse-forwarder: $(call obj,$(FORWARDER) $(COMMON))
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call libs,$(FORWARDER))

$(BUILD)/gatehouse-audit: $(call obj,$(TOOLS))
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call libs,$(TOOLS))

# ---- test-only daemons (make check): the same objects but common/sandbox.c, built with
# -DGATEHOUSE_TEST_HOOKS so that SIGUSR2 tries a forbidden system call (tests/integration/
# test_sandbox.py). The hooks are in no other binary.
HOOKS     = $(BUILD)/testhooks
HOOK_BINS = $(HOOKS)/gatehouse-resolver $(HOOKS)/gatehouse-forwarder

$(HOOKS)/obj/common/sandbox.o: common/sandbox.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_common) -DGATEHOUSE_TEST_HOOKS -c -o $@ $<

$(HOOKS)/gatehouse-resolver: $(call obj,$(RESOLVER) $(filter-out common/sandbox.c,$(COMMON))) $(HOOKS)/obj/common/sandbox.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call libs,$(RESOLVER))

$(HOOKS)/gatehouse-forwarder: $(call obj,$(FORWARDER) $(filter-out common/sandbox.c,$(COMMON))) $(HOOKS)/obj/common/sandbox.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call libs,$(FORWARDER))

testhooks: $(HOOK_BINS)

# ---- unit tests: one program per module, linking only that module and what it needs
# (UNIT_PKGS_test_X: libraries the test itself uses)
UNIT_test_dname     = common/dname.c
UNIT_test_addr      = common/addr.c common/util.c
UNIT_test_policy    = common/policy.c common/dname.c common/util.c
UNIT_test_policyset = $(CONFIG) common/policy.c common/dname.c common/addr.c common/util.c
UNIT_test_config    = $(CONFIG) common/policy.c common/dname.c common/addr.c common/util.c
UNIT_test_audit     = common/audit.c common/clients.c common/addr.c common/util.c
UNIT_test_query     = resolver/query.c common/policy.c common/policyset.c common/dname.c common/util.c
UNIT_test_tls_sni   = forwarder/tls_sni.c common/dname.c
UNIT_test_http_host = forwarder/http_host.c common/dname.c
UNIT_test_cache     = forwarder/cache.c common/util.c
UNIT_test_prom      = common/prom.c
UNIT_test_dial      = forwarder/dial.c common/addr.c common/util.c
UNIT_test_pump      = forwarder/pump.c forwarder/bufpool.c common/addr.c common/util.c
UNIT_test_burst     = resolver/burst.c common/clients.c common/addr.c common/util.c
UNIT_test_clients   = common/clients.c common/addr.c common/util.c
UNIT_test_preflight = common/preflight.c common/resolvconf.c $(CONFIG) \
                      common/policy.c common/dname.c common/addr.c common/util.c common/iface.c \
                      common/route.c
UNIT_test_resolvconf = common/resolvconf.c
UNIT_test_pool      = common/pool.c common/pool_net.c common/util.c
UNIT_test_passwire  = resolver/passwire.c
UNIT_test_tell      = resolver/tell.c common/lookups.c common/dname.c common/addr.c common/util.c
UNIT_test_recent    = forwarder/recent.c common/lookups.c common/clients.c common/dname.c \
                      common/addr.c common/util.c
UNIT_PKGS_test_resolvconf = libcares
UNIT_test_audit_line = tools/audit_line.c tools/audit_time.c
UNIT_test_suggest   = tools/suggest.c tools/suggest_build.c tools/collapse.c tools/sets.c \
                      tools/summary.c tools/filter.c tools/audit_line.c tools/audit_time.c \
                      $(CONFIG) common/policy.c common/addr.c common/dname.c common/util.c
UNIT_TESTS = $(foreach t,$(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c)),$(BUILD)/tests/$(t))

.SECONDEXPANSION:
$(BUILD)/tests/%: tests/unit/%.c $$(call obj,$$(UNIT_%))
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(call inc,$(UNIT_$*)) -Itests/unit $(ALL_LDFLAGS) -o $@ $(filter %.c %.o,$^) \
	  $(call libs,$(UNIT_$*),cmocka $(UNIT_PKGS_$*))

unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

# ---- fuzz targets (clang libFuzzer + ASan + UBSan), built in build/fuzz
FUZZ_CC    ?= clang
FUZZ_BUILD ?= build/fuzz
FUZZ_FLAGS  = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
              -std=c11 -D_GNU_SOURCE -DGATEHOUSE_VERSION='"$(VERSION)"' $(shell pkg-config --cflags $(PKGS))
FUZZ_fuzz_query     = resolver/query.c common/policy.c common/policyset.c common/dname.c common/util.c
FUZZ_fuzz_config    = $(CONFIG) common/policy.c common/dname.c common/addr.c common/util.c
FUZZ_fuzz_tls_sni   = forwarder/tls_sni.c common/dname.c
FUZZ_fuzz_http_host = forwarder/http_host.c common/dname.c
FUZZ_fuzz_resolvconf = common/resolvconf.c
FUZZ_fuzz_audit_line = tools/audit_line.c tools/audit_time.c
FUZZ_fuzz_lookups   = common/lookups.c common/dname.c common/addr.c common/util.c
FUZZ_fuzz_pool      = common/pool.c common/pool_net.c common/util.c
FUZZ_fuzz_passwire  = resolver/passwire.c
FUZZ_TARGETS = $(foreach t,$(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c)),$(FUZZ_BUILD)/$(t))
FUZZ_SECONDS ?= 60
FUZZ_QUICK_RUNS ?= 20000

$(FUZZ_BUILD)/%: tests/fuzz/%.c $$(FUZZ_%) $(wildcard common/*.h resolver/*.h forwarder/*.h tools/*.h tests/unit/*.h tests/fuzz/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(call inc,$(FUZZ_$*)) -o $@ $(filter %.c %.o,$^) $(call libs,$(FUZZ_$*))

fuzz-build: $(FUZZ_TARGETS)

# `make fuzz`: each target for FUZZ_SECONDS on its corpus (new inputs land in build/fuzz/new-*).
fuzz: $(FUZZ_TARGETS)
	@set -e; for t in $(FUZZ_TARGETS); do n=$$(basename $$t); \
	  mkdir -p tests/fuzz/corpus/$$n $(FUZZ_BUILD)/new-$$n; echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  rc=0; $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/new-$$n tests/fuzz/corpus/$$n \
	     >$(FUZZ_BUILD)/$$n.fuzz.log 2>&1 || rc=$$?; \
	  grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|Done' $(FUZZ_BUILD)/$$n.fuzz.log || true; \
	  test $$rc -eq 0; done

# Short pass for `make check`: the corpus plus a bounded number of mutations per target.
fuzz-quick: $(FUZZ_TARGETS)
	@set -e; for t in $(FUZZ_TARGETS); do n=$$(basename $$t); mkdir -p tests/fuzz/corpus/$$n; \
	  echo "== $$n ($(FUZZ_QUICK_RUNS) runs)"; rm -rf $(FUZZ_BUILD)/quick-$$n; mkdir -p $(FUZZ_BUILD)/quick-$$n; \
	  $$t -runs=$(FUZZ_QUICK_RUNS) -max_total_time=60 -artifact_prefix=$(FUZZ_BUILD)/ $(FUZZ_BUILD)/quick-$$n tests/fuzz/corpus/$$n >$(FUZZ_BUILD)/$$n.log 2>&1 \
	    || { tail -40 $(FUZZ_BUILD)/$$n.log; exit 1; }; done

# `make fuzz-long`: every target for FUZZ_LONG_SECONDS (600), new coverage merged into the
# corpus; executions reached in build/fuzz/long-report.txt.
FUZZ_LONG_SECONDS ?= 600
fuzz-long: $(FUZZ_TARGETS)
	FUZZ_LONG_SECONDS=$(FUZZ_LONG_SECONDS) bash tests/fuzz/long.sh $(FUZZ_TARGETS)

HAVE_CLANG := $(shell command -v $(FUZZ_CC) >/dev/null 2>&1 && echo 1)

# ---- integration tests: the real daemons, real peers (pytest, run by /usr/bin/python3)
integration: all testhooks
	GATEHOUSE_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# ---- end-to-end: network namespaces, real clients and servers (root; skipped otherwise).
# A pytest run of its own: its conftest.py is not the integration tests' one.
e2e: all
	GATEHOUSE_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/e2e

check: all unit $(if $(HAVE_CLANG),fuzz-quick) integration e2e

# `make soak` (not part of `make check`): both daemons from the ASan+UBSan build under a
# bounded mixed load for SOAK_SECONDS: no sanitizer report or leak, RSS growth bounded.
SOAK_SECONDS ?= 600
soak:
	$(MAKE) all SANITIZE=1 && $(PYTHON) tests/soak/soak.py --build $(abspath build/san) --seconds $(SOAK_SECONDS)

# `sudo make demo`: the e2e topology and a narrated scenario (demo/sample-output.txt)
demo: all
	$(PYTHON) demo/demo.py --build $(abspath $(BUILD))

# The image and docker-compose.yml on a real engine (starts one when it can, as root).
# GATEHOUSE_DOCKER_OPTIONAL=1: exit 0 with one line when no engine can be had.
docker-check:
	bash tests/docker/run.sh

# `make bench` (root, ~11 min): gatehouse beside NSD, Unbound, dnsmasq, nginx and HAProxy;
# writes bench/RESULTS.md. BENCH_ARGS=--quick for a short pass.
bench: all
	$(PYTHON) bench/run.py $(BENCH_ARGS)

# `make install`: the daemons (sbin), gatehouse-audit (bin), the man pages, the documents and
# an example configuration under PREFIX (default /usr/local), staged under DESTDIR for
# packaging. Nothing goes to /etc: copy the example to /etc/gatehouse/gatehouse.conf. The
# man pages name DOCDIR.
PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/gatehouse
INSTALL ?= install
MAN_PAGES = man/gatehouse.conf.5 man/gatehouse-resolver.8 man/gatehouse-forwarder.8 man/gatehouse-audit.1
# $(call install_man,PAGE,SECTION_DIR): the page with DOCDIR in place of the default's
install_man = sed 's|/usr/local/share/doc/gatehouse|$(DOCDIR)|g' $(1) \
	  >$(DESTDIR)$(MANDIR)/$(2)/$(notdir $(1)) && chmod 0644 $(DESTDIR)$(MANDIR)/$(2)/$(notdir $(1))

install: all
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	$(INSTALL) -m 0755 $(BUILD)/gatehouse-resolver $(BUILD)/gatehouse-forwarder $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0755 $(BUILD)/gatehouse-audit $(DESTDIR)$(BINDIR)/
	$(call install_man,man/gatehouse-audit.1,man1)
	$(call install_man,man/gatehouse.conf.5,man5)
	$(call install_man,man/gatehouse-resolver.8,man8)
	$(call install_man,man/gatehouse-forwarder.8,man8)
	$(INSTALL) -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 docs/*.md $(DESTDIR)$(DOCDIR)/docs/
	$(INSTALL) -m 0644 examples/gatehouse.conf $(DESTDIR)$(DOCDIR)/examples/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/gatehouse-resolver $(DESTDIR)$(SBINDIR)/gatehouse-forwarder
	rm -f $(DESTDIR)$(BINDIR)/gatehouse-audit
	rm -f $(foreach p,$(MAN_PAGES),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(notdir $(p)))
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -rf build

.PHONY: all testhooks unit fuzz fuzz-build fuzz-quick fuzz-long integration e2e check soak demo bench docker-check \
        install uninstall clean

-include $(shell find build -name '*.d' 2>/dev/null)
