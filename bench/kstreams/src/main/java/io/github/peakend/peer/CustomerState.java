package io.github.peakend.peer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * What the two detectors need to remember of one customer, as peakend's customer header keeps it:
 * the identities of the last 16 events (duplicates), the last 16 bad experiences (repeat), the
 * peak-end memory, the cooldown's last alert, tier and value. Stored in RocksDB through {@link
 * #SERDE}, a compact binary encoding.
 */
public final class CustomerState {
  /** Event identities kept to drop redeliveries (peakend's state.MaxRecent). */
  public static final int MAX_RECENT = 16;

  /** Bad experiences kept for repeat (peakend's state.MaxBadMarks). */
  public static final int MAX_BAD_MARKS = 16;

  /** A bad experience repeat counts. */
  public record Mark(long time, String journey, String outcome) {}

  long[] recent = new long[0];
  final List<Mark> bad = new ArrayList<>();
  double worstBad;
  long worstAt;
  double lastBad;
  long lastAt;
  boolean hasCooldown;
  long cooldownTime;
  int cooldownSeverity;
  String tier = "";
  double value;

  boolean seen(long h) {
    for (long r : recent) {
      if (r == h) {
        return true;
      }
    }
    return false;
  }

  void remember(long h) {
    int keep = Math.min(recent.length, MAX_RECENT - 1);
    long[] next = new long[keep + 1];
    System.arraycopy(recent, recent.length - keep, next, 0, keep);
    next[keep] = h;
    recent = next;
  }

  private static void putString(ByteBuffer b, String s) {
    byte[] u = s.getBytes(StandardCharsets.UTF_8);
    b.putShort((short) u.length);
    b.put(u);
  }

  private static String getString(ByteBuffer b) {
    byte[] u = new byte[b.getShort() & 0xffff];
    b.get(u);
    return new String(u, StandardCharsets.UTF_8);
  }

  byte[] encode() {
    int size = 1 + 8 * recent.length + 1 + 8 * 5 + 1 + 8 + 1 + 2 + tier.length() * 3;
    for (Mark m : bad) {
      size += 8 + 4 + (m.journey().length() + m.outcome().length()) * 3;
    }
    ByteBuffer b = ByteBuffer.allocate(size);
    b.put((byte) recent.length);
    for (long r : recent) {
      b.putLong(r);
    }
    b.put((byte) bad.size());
    for (Mark m : bad) {
      b.putLong(m.time());
      putString(b, m.journey());
      putString(b, m.outcome());
    }
    b.putDouble(worstBad).putLong(worstAt).putDouble(lastBad).putLong(lastAt);
    b.put((byte) (hasCooldown ? 1 : 0)).putLong(cooldownTime).put((byte) cooldownSeverity);
    putString(b, tier);
    b.putDouble(value);
    byte[] out = new byte[b.position()];
    b.flip();
    b.get(out);
    return out;
  }

  static CustomerState decode(byte[] data) {
    ByteBuffer b = ByteBuffer.wrap(data);
    CustomerState c = new CustomerState();
    c.recent = new long[b.get()];
    for (int i = 0; i < c.recent.length; i++) {
      c.recent[i] = b.getLong();
    }
    int n = b.get();
    for (int i = 0; i < n; i++) {
      c.bad.add(new Mark(b.getLong(), getString(b), getString(b)));
    }
    c.worstBad = b.getDouble();
    c.worstAt = b.getLong();
    c.lastBad = b.getDouble();
    c.lastAt = b.getLong();
    c.hasCooldown = b.get() != 0;
    c.cooldownTime = b.getLong();
    c.cooldownSeverity = b.get();
    c.tier = getString(b);
    c.value = b.getDouble();
    return c;
  }

  /** The store's value serde. */
  public static final Serde<CustomerState> SERDE =
      new Serde<>() {
        @Override
        public Serializer<CustomerState> serializer() {
          return (topic, c) -> c == null ? null : c.encode();
        }

        @Override
        public Deserializer<CustomerState> deserializer() {
          return (topic, data) -> data == null ? null : decode(data);
        }
      };
}
