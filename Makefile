# vigil: build, test, benchmark, lint.
GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN         ?= bin

.PHONY: all build test lint vet fmt-check unit bench compare run clean

all: build

build:
	$(GO) build -o $(BIN)/vigil ./cmd/vigil
	$(GO) build -o $(BIN)/vigil-bench ./cmd/vigil-bench

# The README's test command: formatting, vet, staticcheck, then every test
# with the race detector.
test: lint unit

lint: fmt-check vet
	$(STATICCHECK) ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -timeout 20m ./...

# Go benchmarks of the hot paths (hashing, open/read, leaf encoding, store
# writes, whole-tree scan).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./merkle/ ./scanner/ ./store/ ./bench/

# Runs vigil on the embedded default config: a first baseline, then a check.
# The database goes to /var/tmp so that it lies outside every monitored root.
run: build
	$(BIN)/vigil --db /var/tmp/vigil-demo.db init --force
	$(BIN)/vigil --db /var/tmp/vigil-demo.db check

clean:
	rm -rf $(BIN)

-include bench/Makefile.snippet
