package io.github.peakend.peer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The peer's topology on Kafka Streams' test driver (a real RocksDB store): events in, alerts out. */
class PeerTopologyTest {
  @TempDir java.nio.file.Path stateDir;

  private static String ev(String id, String cust, String time, String journey, String outcome, String metrics) {
    return "{\"event_id\":\"" + id + "\",\"customer_id\":\"" + cust + "\",\"time\":\"" + time
        + "\",\"journey\":\"" + journey + "\",\"outcome\":\"" + outcome + "\"" + metrics
        + ",\"customer\":{\"tier\":\"gold\",\"value\":300}}";
  }

  private static String late(String id, String cust, String time, double hours) {
    return ev(id, cust, time, "delivery", "delivered", ",\"metrics\":{\"delay_hours\":" + hours + "}");
  }

  private List<String> run(String... values) throws Exception {
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, "peer-test");
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    Stats stats = new Stats(values.length);
    try (TopologyTestDriver d = new TopologyTestDriver(PeerBench.topology("in", "out", stats), p)) {
      TestInputTopic<String, byte[]> in =
          d.createInputTopic("in", new StringSerializer(), new ByteArraySerializer());
      TestOutputTopic<String, byte[]> out =
          d.createOutputTopic("out", new StringDeserializer(), new ByteArrayDeserializer());
      for (String v : values) {
        in.pipeInput("k", v.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      }
      List<String> got = new ArrayList<>();
      for (byte[] a : out.readValuesToList()) {
        JsonNode n = DetectProcessor.MAPPER.readTree(a);
        got.add(n.get("customer_id").asText() + " " + n.get("detector").asText() + " " + n.get("severity").asText());
      }
      assertEquals(values.length, stats.count());
      return got;
    }
  }

  @Test
  void lateDeliveryCooldownAndEscalation() throws Exception {
    List<String> got =
        run(
            late("e1", "c1", "2026-01-01T00:00:00Z", 30), // minor
            late("e2", "c1", "2026-01-01T01:00:00Z", 30), // raised to major by peak-end: escalates
            late("e3", "c1", "2026-01-01T02:00:00Z", 30), // major again inside the cooldown: suppressed
            late("e4", "c1", "2026-01-01T03:00:00Z", 200), // critical: escalates
            late("e5", "c2", "2026-01-01T03:00:00Z", 3)); // fine
    assertEquals(List.of("c1 late_delivery minor", "c1 late_delivery major", "c1 late_delivery critical"), got);
  }

  @Test
  void repeatedFailuresDuplicatesAndBadRecords() throws Exception {
    List<String> got =
        run(
            ev("f1", "c1", "2026-01-01T00:00:00Z", "checkout", "failed", ""),
            ev("f1", "c1", "2026-01-01T00:00:00Z", "checkout", "failed", ""), // redelivery: dropped
            "not json",
            ev("f2", "c1", "2026-01-01T00:00:00Z", "teleport", "failed", ""), // unknown journey
            ev("f3", "c1", "2026-01-01T05:00:00Z", "support_call", "dropped", ""), // 2 in 24 h: minor
            ev("f4", "c2", "2026-01-02T00:00:00Z", "checkout", "failed", ""),
            ev("f5", "c2", "2026-01-03T01:00:00Z", "checkout", "failed", "")); // 25 h apart: nothing
    assertEquals(List.of("c1 repeated_failures minor"), got);
  }

  @Test
  void alertIdIsPeakends() {
    // alerts.AlertID("late_delivery", "cust-00001", []byte("ev-1")) in peakend.
    assertEquals(GO_ALERT_ID, Detection.alertId("late_delivery", "cust-00001", "ev-1".getBytes()));
  }

  static final String GO_ALERT_ID = "81f9e4e3bd46f7d5697eb669fa639d39";
}
