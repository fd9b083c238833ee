# vigil: build, test, benchmark, lint, install.
GO          ?= go
# Pinned in go.mod's tool directive: no network once `go mod download` ran.
STATICCHECK ?= $(GO) tool staticcheck
GOVULNCHECK ?= $(GO) tool govulncheck
BIN         ?= bin
# Extra flags for the test tiers; .ci/run passes -count=1 so that CI never
# reports cached results.
GOTESTFLAGS ?=

# Installation layout (make install PREFIX=/usr DESTDIR=pkgroot).
PREFIX      ?= /usr/local
DESTDIR     ?=
BINDIR      ?= $(PREFIX)/bin
LIBEXECDIR  ?= $(PREFIX)/libexec/vigil
MANDIR      ?= $(PREFIX)/share/man
DOCDIR      ?= $(PREFIX)/share/doc/vigil
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d

# The commit, for 'vigil version' where the go command stamps none (a git
# worktree); a clone's build information carries vcs.revision anyway.
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null)
GOBUILD      = $(GO) build -buildvcs=auto -ldflags "-X main.commit=$(COMMIT)"

.PHONY: all build test test-long test-all lint vet fmt-check unit unit-long fuzz vulncheck deploy-check docs install bench compare run screenshots clean

all: build

build:
	$(GOBUILD) -o $(BIN)/vigil ./cmd/vigil
	$(GO) build -o $(BIN)/vigil-bench ./cmd/vigil-bench

# The README's test command: formatting, vet, staticcheck, the deployment
# checks (systemd units, NixOS module, install), then the short tier: every
# test with the race detector, the end-to-end ones with a few rounds.
test: lint deploy-check unit

# The long tier: the packages whose tests have long cases (fimtest.Long,
# fimtest.Rounds: kill -9 loops, mutation sweeps, ...) with VIGIL_LONG=1.
test-long: unit-long

# Both tiers, as .ci/run runs them.
test-all: test test-long

lint: fmt-check vet
	$(STATICCHECK) ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=freebsd $(GO) build ./...
	GOOS=freebsd $(GO) vet ./...
	GOARCH=386 $(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race $(GOTESTFLAGS) -timeout 20m ./...

# Every package with a test file that calls fimtest.Long or fimtest.Rounds.
LONG_RE   = fimtest[.](Long|Rounds)[(]
LONG_PKGS = $(sort $(patsubst %/,%,$(dir $(shell grep -rlE --include='*_test.go' '$(LONG_RE)' .))))

unit-long:
	VIGIL_LONG=1 $(GO) test -race -count=1 -timeout 60m $(LONG_PKGS)

# The fuzz targets CI runs for FUZZTIME each: package:Target, one word each.
FUZZ     ?= internal/engine:FuzzMerge internal/engine:FuzzVerifyProof internal/report:FuzzReadSaved scanner:FuzzBigTree
FUZZTIME ?= 20s

fuzz:
	@for f in $(FUZZ); do \
		echo "fuzz $$f for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${f#*:}\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 3s ./$${f%%:*} || exit 1; \
	done

# The README's screenshots of the web console, from its browser test
# (headless Chromium on a fixture fleet).
screenshots:
	VIGIL_SCREENSHOTS=$(CURDIR)/doc $(GO) test -count=1 -run '^TestBrowser$$' ./internal/console

# Known vulnerabilities in the code vigil calls (needs vuln.go.dev).
vulncheck:
	$(GOVULNCHECK) ./...

# systemd-analyze verify and security of the units, the NixOS module's
# parse and render check, the phase transition hook and make install.
deploy-check:
	contrib/check-deploy.sh

# Regenerates the man page and the shell completions from the command
# line's description (cmd/vigil/cli.go); commit the result.
docs:
	$(GO) test ./cmd/vigil -run '^TestGeneratedFiles$$' -update

install:
	$(GOBUILD) -o $(BIN)/vigil ./cmd/vigil
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 $(BIN)/vigil $(DESTDIR)$(BINDIR)/vigil
	install -m 0755 contrib/transition_phase.sh $(DESTDIR)$(LIBEXECDIR)/transition_phase.sh
	install -m 0644 doc/vigil.1 $(DESTDIR)$(MANDIR)/man1/vigil.1
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	for u in vigil-check.service vigil-check.timer vigil-watch.service vigil-fleet.service; do \
		sed -e 's|/usr/local/bin/vigil|$(BINDIR)/vigil|g' -e 's|/usr/local/share/doc/vigil|$(DOCDIR)|g' \
			contrib/systemd/$$u > $(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 contrib/systemd/vigil.sysusers $(DESTDIR)$(SYSUSERSDIR)/vigil.conf
	install -m 0644 contrib/completion/vigil.bash $(DESTDIR)$(BASHCOMPDIR)/vigil
	install -m 0644 contrib/completion/_vigil $(DESTDIR)$(ZSHCOMPDIR)/_vigil
	install -m 0644 contrib/completion/vigil.fish $(DESTDIR)$(FISHCOMPDIR)/vigil.fish

# Go benchmarks of the hot paths (hashing, open/read, leaf encoding, store
# writes, whole-tree scan).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./merkle/ ./scanner/ ./store/ ./bench/

# A demonstration, not a test: vigil on the embedded default config, a first
# baseline then a check, with a database of its own (a new directory under
# /var/tmp, outside every monitored root, removed afterwards; KEEP=1 keeps
# it). The check prints what it found; its codes 1-7 are findings (the host
# changed since the baseline), not a failure: only 8 and up fail.
run: build
	@db=$$(mktemp -d /var/tmp/vigil-demo.XXXXXX) || exit 1; \
	if [ -n "$(KEEP)" ]; then echo "make run: database $$db/vigil.db (kept)"; \
	else trap 'rm -rf "$$db"' EXIT; echo "make run: database $$db/vigil.db (removed at the end; KEEP=1 keeps it)"; fi; \
	vigil="$(BIN)/vigil --config internal/config/default.toml --db $$db/vigil.db"; \
	$$vigil init; rc=$$?; \
	if [ $$rc -ge 8 ]; then echo "make run: vigil init failed (exit $$rc)"; exit $$rc; fi; \
	$$vigil check; rc=$$?; \
	if [ $$rc -ge 8 ]; then echo "make run: vigil check failed (exit $$rc)"; exit $$rc; fi; \
	echo "make run: vigil check exited $$rc (0: nothing changed; 1, 2, 4 and their sums: paths added, removed, changed)"

clean:
	rm -rf $(BIN)

-include bench/Makefile.snippet
