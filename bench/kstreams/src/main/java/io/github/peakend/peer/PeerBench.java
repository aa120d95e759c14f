package io.github.peakend.peer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.Stores;

/**
 * peakend's peer in {@code make bench-peer}: the benchmark's detection ({@link Detection}) as a
 * Kafka Streams application with a RocksDB store, run over all of one input topic from the start.
 * Prints its settings, then one line: events, seconds from the first record processed to the last,
 * events/s, alerts forwarded.
 *
 * <pre>
 * java -cp 'target/peakend-peer.jar:target/lib/*' io.github.peakend.peer.PeerBench \
 *   --brokers 127.0.0.1:9092 --topic T --events N --exactly-once off|on [--set key=value]...
 * </pre>
 */
public final class PeerBench {
  private PeerBench() {}

  /**
   * The settings the benchmark runs with, tuned as a Kafka Streams user tunes for throughput (see
   * docs/performance.md); --set overrides or adds any Streams, consumer or producer setting.
   */
  static Map<String, String> settings(boolean eos) {
    Map<String, String> s = new LinkedHashMap<>();
    s.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, eos ? StreamsConfig.EXACTLY_ONCE_V2 : StreamsConfig.AT_LEAST_ONCE);
    s.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, "2"); // the machine's cores; 4 partitions
    s.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, String.valueOf(64L << 20));
    s.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, eos ? "1000" : "30000");
    return s;
  }

  public static void main(String[] args) throws Exception {
    String brokers = null;
    String topic = null;
    String alerts = null;
    String appId = null;
    long events = 0;
    boolean eos = false;
    long timeoutSec = 900;
    List<String[]> overrides = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (i + 1 >= args.length) {
        usage("missing value for " + a);
      }
      String v = args[++i];
      switch (a) {
        case "--brokers" -> brokers = v;
        case "--topic" -> topic = v;
        case "--alerts" -> alerts = v;
        case "--app-id" -> appId = v;
        case "--events" -> events = Long.parseLong(v);
        case "--timeout" -> timeoutSec = Long.parseLong(v);
        case "--exactly-once" -> {
          if (!v.equals("on") && !v.equals("off")) {
            usage("--exactly-once: want on or off, not " + v);
          }
          eos = v.equals("on");
        }
        case "--set" -> {
          int eq = v.indexOf('=');
          if (eq <= 0) {
            usage("--set: want key=value, not " + v);
          }
          overrides.add(new String[] {v.substring(0, eq), v.substring(eq + 1)});
        }
        default -> usage("unknown option " + a);
      }
    }
    if (brokers == null || topic == null || events <= 0) {
      usage("--brokers, --topic and --events are required");
    }
    String mode = eos ? "on" : "off";
    if (appId == null) {
      appId = "peer-" + mode + "-" + System.currentTimeMillis();
    }
    if (alerts == null) {
      alerts = appId + "-alerts";
    }

    Map<String, String> settings = settings(eos);
    for (String[] kv : overrides) {
      settings.put(kv[0], kv[1]);
    }
    StringBuilder shown = new StringBuilder("peer settings (exactly_once=" + mode + "):");
    settings.forEach((k, v) -> shown.append(' ').append(k).append('=').append(v));
    System.out.println(shown);

    Path stateDir = Files.createTempDirectory("peakend-peer");
    Properties p = new Properties();
    p.putAll(settings);
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, "1");
    p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");

    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers))) {
      admin.createTopics(List.of(new NewTopic(alerts, 4, (short) 1))).all().get(30, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      if (!(e.getCause() instanceof TopicExistsException)) {
        throw e;
      }
    }

    Stats stats = new Stats(events);
    KafkaStreams streams = new KafkaStreams(topology(topic, alerts, stats), p);
    streams.setUncaughtExceptionHandler(
        e -> {
          System.err.println("peer: stream thread failed: " + e);
          return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse
              .SHUTDOWN_APPLICATION;
        });
    streams.start();
    boolean ok = stats.done.await(timeoutSec, TimeUnit.SECONDS);
    streams.close(Duration.ofSeconds(60));
    streams.cleanUp();
    deleteTree(stateDir);
    if (!ok) {
      System.err.printf("peer: processed %d of %d events in %d s; giving up%n", stats.count(), events, timeoutSec);
      System.exit(1);
    }
    double secs = stats.seconds();
    System.out.printf(
        "peer exactly_once=%s events=%d seconds=%.2f rate=%.0f alerts=%d invalid=%d duplicates=%d alerts_topic=%s%n",
        mode, events, secs, events / secs, stats.alerts.sum(), stats.invalid.sum(), stats.duplicates.sum(), alerts);
  }

  /** experiences → detect (state in a cached RocksDB store, logged to its changelog) → alerts. */
  static Topology topology(String topic, String alerts, Stats stats) {
    StreamsBuilder b = new StreamsBuilder();
    b.addStateStore(
        Stores.keyValueStoreBuilder(
                Stores.persistentKeyValueStore(DetectProcessor.STORE), Serdes.String(), CustomerState.SERDE)
            .withCachingEnabled());
    b.stream(topic, Consumed.with(Serdes.String(), Serdes.ByteArray()))
        .process(() -> new DetectProcessor(stats), DetectProcessor.STORE)
        .to(alerts, Produced.with(Serdes.String(), Serdes.ByteArray()));
    return b.build();
  }

  private static void usage(String why) {
    System.err.println("peer: " + why);
    System.err.println(
        "usage: PeerBench --brokers HOST:PORT --topic T --events N [--exactly-once off|on] [--alerts TOPIC] [--app-id ID] [--timeout S] [--set key=value]...");
    System.exit(2);
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      s.sorted(Comparator.reverseOrder())
          .forEach(
              f -> {
                try {
                  Files.deleteIfExists(f);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              });
    }
  }
}
