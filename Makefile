# peakend — see README.md. `make test` is what CI runs (.ci/run).
GO ?= go
BIN := bin/peakend
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build demo test test-fast test-race test-integration test-integration-3.9 bench-kafka bench-peer bench bench-micro bench-replay bench-tune fuzz lint kafka-up kafka-down kafka-wipe clean

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/peakend

demo:
	$(GO) run ./cmd/peakend demo

# The whole suite (what CI runs): gofmt and vet, every test with the race
# detector on the in-process broker (kfake), then the integration suite
# against a real Kafka broker that test-integration starts and stops: once on
# the newest Kafka 4.x (deploy/kafka-local/pom.xml), once on Kafka 3.9.
test: lint test-race test-integration test-integration-3.9

# Fast tests only: the in-process broker (kfake), no race detector, no JVM.
test-fast:
	$(GO) test -count=1 ./...

test-race:
	$(GO) test -race -count=1 -timeout 15m ./...

# A real Kafka (KRaft, from Maven jars) on 127.0.0.1:$(IT_PORT)-$$(($(IT_PORT)+3)),
# data in a temporary directory, stopped afterwards whatever happens.
# KAFKA_VERSION: empty for the 4.x pinned in deploy/kafka-local/pom.xml
# (4.4.0), 3.9 for the 3.9 line (pom-3.9.xml), or an exact version.
IT_PORT ?= 19092
KAFKA_VERSION ?= $(PEAKEND_KAFKA_VERSION)
test-integration:
	PEAKEND_IT_PORT=$(IT_PORT) PEAKEND_KAFKA_VERSION=$(KAFKA_VERSION) scripts/test-integration.sh

test-integration-3.9:
	PEAKEND_IT_PORT=$(IT_PORT) PEAKEND_KAFKA_VERSION=3.9 scripts/test-integration.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags integration ./integration/

# Benchmarks report figures; they never fail on wall-clock.
bench: bench-micro bench-replay

bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./event/ ./engine/ ./stream/

bench-replay:
	scripts/bench-replay.sh

bench-tune:
	scripts/bench-tune.sh

# End to end against a real local broker (a throw-away one unless
# PEAKEND_BENCH_BROKERS is set): events/s and append→alert p50/p99.
bench-kafka:
	scripts/bench-kafka.sh

# peakend against its peer, the same detection as a Kafka Streams application
# (bench/kstreams/, Maven): both over one topic on a real local broker,
# at-least-once and exactly-once. Needs Java 17 and Maven; not part of CI.
bench-peer:
	scripts/bench-peer.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 60s ./event/

KAFKA_PORT ?= 9092

# A real single-node Kafka (KRaft) from Maven Central jars, with peakend's
# topics: 4.x by default, KAFKA_VERSION=3.9 for the 3.9 line.
kafka-up:
	PEAKEND_KAFKA_VERSION=$(KAFKA_VERSION) deploy/kafka-local/kafka.sh up --port $(KAFKA_PORT)
	PEAKEND_KAFKA_VERSION=$(KAFKA_VERSION) deploy/kafka-local/kafka.sh topics --port $(KAFKA_PORT)

kafka-down:
	deploy/kafka-local/kafka.sh down --port $(KAFKA_PORT)

kafka-wipe:
	deploy/kafka-local/kafka.sh down --port $(KAFKA_PORT) --wipe

clean:
	rm -rf bin
