# polykv — every target works from a fresh clone with only Go installed.
# Tools are run with `go run module@version`: nothing to install by hand.

SHELL         := bash
GO            ?= go
GOLANGCI_LINT ?= github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
BENCHSTAT     ?= golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
FUZZTIME      ?= 30s
BENCH_OUT     ?= bench-results
BENCH_FLAGS   ?=

.PHONY: all test test-short chromium disktools bench bench-scale calibrate lint vet fmt stress fuzz build clean

all: test

## test: vet, gofmt check, and every test (full conformance suite on every backend) with -race.
test: vet fmt chromium disktools
	$(GO) test -race -count=1 -timeout 25m ./...

## test-short: the same without -race, for a quick local loop.
test-short:
	$(GO) test -count=1 -short ./...

## chromium: headless Chromium for the operator view's browser test, installed
## from Debian when missing and possible (root, apt-get); otherwise that test skips.
chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium not installed: the browser test (cmd/polykv TestBrowserProgressPage) will skip"

## disktools: mkfs.ext4 and mount for the power-cut tests (a loop-mounted ext4
## per test), installed from Debian when missing and possible; otherwise they skip.
disktools:
	@command -v mkfs.ext4 >/dev/null && command -v mount >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  apt-get update -qq && apt-get install -y -qq e2fsprogs mount >/dev/null; } || \
	  echo "mkfs.ext4 or mount missing: the power-cut tests (TestPowerCut) will skip"

vet:
	$(GO) vet ./...

## fmt: fail if any file is not gofmt-formatted.
fmt:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needs to run on:"; echo "$$out"; exit 1; fi

## bench: compare the backends on the default workload; results under bench-results/.
bench:
	$(GO) run ./cmd/polykv bench --out $(BENCH_OUT) $(BENCH_FLAGS)

## bench-scale: traverse-gen at SCALE_SIZES nodes on the disk backends (one
## process per run, default memory budget), then scale.txt and scale.png
## (throughput and peak RSS against size) under $(BENCH_OUT)/scale. The 10M
## run takes hours on a small machine: SCALE_SIZES=100000,1000000 to skip it.
SCALE_SIZES    ?= 100000,1000000,10000000
SCALE_BACKENDS ?= badger,pebble,bbolt
bench-scale:
	@set -e; reports=; for n in $$(echo $(SCALE_SIZES) | tr , ' '); do \
	  $(GO) run ./cmd/polykv bench --workload traverse-gen --backends $(SCALE_BACKENDS) --size $$n --reps 1 \
	    --out $(BENCH_OUT)/scale/$$n $(BENCH_FLAGS); \
	  reports="$$reports $(BENCH_OUT)/scale/$$n/report.json"; \
	done; \
	$(GO) run ./cmd/polykv scale --out $(BENCH_OUT)/scale $$reports

## calibrate: polykv against each engine's own API, as paired Go benchmarks
## (short timed blocks alternating in one process); benchstat prints the
## medians, overhead-p50-% being the overhead in percent. The
## OverheadPairedMetrics rows compare a store wrapped by metrics.Wrap with
## the same store unwrapped (badger), beside control rows of two unwrapped
## stores. A few minutes.
calibrate:
	@mkdir -p $(BENCH_OUT)
	set -o pipefail; $(GO) test -run '^$$' -bench OverheadPaired -benchtime 200x -count 6 ./bench/ | tee $(BENCH_OUT)/paired.txt
	$(GO) run $(BENCHSTAT) $(BENCH_OUT)/paired.txt
	@echo "raw results: $(BENCH_OUT)/paired.txt"

## lint: golangci-lint at a pinned version (fetched by go run).
lint:
	$(GO) run $(GOLANGCI_LINT) run ./...

## stress: long crash/kill and power-cut loops (200+ cycles per backend and mode), long model
## and conformance runs, disk-full cycles, Pebble faults at every write, the
## corruption matrix at 25 seeds, the etcd member-loss and shared-traversal
## runs and the etcd suite's long traversal; prints each summary line. Log:
## stress.log.
stress:
	@set -o pipefail; POLYKV_STRESS=1 $(GO) test -v -count=1 -timeout 120m \
	  -run 'Crash|PowerCut|Model|Stress|Kill|DiskFull|FaultAtEveryWrite|Corrupt|MemberLoss|SharedTraversal|Linearizable' ./... 2>&1 \
	  | tee stress.log | grep -E '^(ok|FAIL|panic)|--- FAIL|crash: .*cycles|kill:|diskfull:|errorfs|outage:'
	@set -o pipefail; POLYKV_STRESS=1 $(GO) test -v -count=1 -timeout 30m -run 'TestConformance/Nodestore/Traversal' ./backends/etcd/ 2>&1 \
	  | tee -a stress.log | grep -E '^(ok|FAIL|panic)|--- FAIL'

## fuzz: run each fuzz target for FUZZTIME.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

build:
	$(GO) build -o bin/polykv ./cmd/polykv

clean:
	rm -rf bin $(BENCH_OUT)
