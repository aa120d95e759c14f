# peakend — see README.md. `make test` is what CI runs (.ci/run).
GO ?= go
BIN := bin/peakend
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: build demo test test-fast bench bench-micro bench-replay fuzz lint kafka-up kafka-down kafka-wipe clean

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/peakend

demo:
	$(GO) run ./cmd/peakend demo

# The whole suite: vet, gofmt, and every test with the race detector.
test: lint
	$(GO) test -race -count=1 -timeout 15m ./...

test-fast:
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Benchmarks report figures; they never fail on wall-clock.
bench: bench-micro bench-replay

bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./internal/event/ ./engine/ ./stream/

bench-replay:
	scripts/bench-replay.sh

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 60s ./internal/event/

KAFKA_PORT ?= 9092

# A real single-node Kafka (KRaft) from Maven Central jars, with peakend's topics.
kafka-up:
	deploy/kafka-local/kafka.sh up --port $(KAFKA_PORT)
	deploy/kafka-local/kafka.sh topics --port $(KAFKA_PORT)

kafka-down:
	deploy/kafka-local/kafka.sh down --port $(KAFKA_PORT)

kafka-wipe:
	deploy/kafka-local/kafka.sh down --port $(KAFKA_PORT) --wipe

clean:
	rm -rf bin
