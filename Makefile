# vigil: build, test, benchmark, lint, install.
GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN         ?= bin

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

.PHONY: all build test lint vet fmt-check unit deploy-check docs install bench compare run clean

all: build

build:
	$(GOBUILD) -o $(BIN)/vigil ./cmd/vigil
	$(GO) build -o $(BIN)/vigil-bench ./cmd/vigil-bench

# The README's test command: formatting, vet, staticcheck, the deployment
# checks (systemd units, NixOS module, install), then every test with the
# race detector.
test: lint deploy-check unit

lint: fmt-check vet
	$(STATICCHECK) ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=freebsd $(GO) build ./...
	GOOS=freebsd $(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -timeout 20m ./...

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
	for u in vigil-check.service vigil-check.timer vigil-watch.service; do \
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

# Runs vigil on the embedded default config: a first baseline, then a check.
# The database goes to /var/tmp so that it lies outside every monitored root.
run: build
	$(BIN)/vigil --config internal/config/default.toml --db /var/tmp/vigil-demo.db init --force
	$(BIN)/vigil --config internal/config/default.toml --db /var/tmp/vigil-demo.db check

clean:
	rm -rf $(BIN)

-include bench/Makefile.snippet
