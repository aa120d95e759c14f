package io.github.peakend.peer;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/** Counts shared by the stream threads: records processed, the first and the last one's time. */
final class Stats {
  private final long expected;
  private final AtomicLong processed = new AtomicLong();
  private final AtomicLong firstNanos = new AtomicLong();
  private volatile long lastNanos;
  final LongAdder alerts = new LongAdder();
  final LongAdder invalid = new LongAdder();
  final LongAdder duplicates = new LongAdder();
  final CountDownLatch done = new CountDownLatch(1);

  Stats(long expected) {
    this.expected = expected;
  }

  void started() {
    if (firstNanos.get() == 0) {
      firstNanos.compareAndSet(0, System.nanoTime());
    }
  }

  void processed() {
    if (processed.incrementAndGet() == expected) {
      lastNanos = System.nanoTime();
      done.countDown();
    }
  }

  void alert() {
    alerts.increment();
  }

  void invalid() {
    invalid.increment();
  }

  void duplicate() {
    duplicates.increment();
  }

  long count() {
    return processed.get();
  }

  /** Seconds from the first record to the expected-th. */
  double seconds() {
    return (lastNanos - firstNanos.get()) / 1e9;
  }
}
