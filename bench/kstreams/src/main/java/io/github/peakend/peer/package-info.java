/**
 * peakend's peer for {@code make bench-peer}: the benchmark's detection as a Kafka Streams
 * application with a RocksDB store (benchmark only; docs/performance.md, "Against a peer").
 */
package io.github.peakend.peer;
