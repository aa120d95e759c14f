package io.github.peakend.peer;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;

/**
 * The detection of peakend's benchmark configuration, line for line with peakend's engine (engine,
 * detectors, alerts packages): the late_delivery threshold (delivery delay_hours at 24, 72, 168)
 * and the repeated_failures repeat detector (failed or dropped, 2, 3, 5 within 24 h), the peak-end
 * rise of a second failure (14-day half-life), a 72 h cooldown per customer unless the severity
 * rises, redeliveries dropped by event_id, and peakend's deterministic alert_id. Journeys outside
 * peakend's default allow-list, and records without a customer, time or journey, are rejected.
 */
public final class Detection {
  static final int NONE = 0;
  static final int MINOR = 1;
  static final int MAJOR = 2;
  static final int CRITICAL = 3;
  static final String[] SEVERITY = {"none", "minor", "major", "critical"};
  private static final double[] BADNESS = {0, 0.4, 0.7, 1};

  static final long HOUR = 3_600_000_000_000L;
  static final long COOLDOWN = 72 * HOUR;
  static final long REPEAT_WITHIN = 24 * HOUR;
  static final long PEAK_HALF_LIFE = 336 * HOUR;
  static final double RECENT_PAIN = 0.2;
  static final double[] LATE_CUTS = {24, 72, 168};
  static final double[] REPEAT_CUTS = {2, 3, 5};
  static final Set<String> BAD_OUTCOMES = Set.of("failed", "dropped");
  static final Set<String> JOURNEYS = Set.of("delivery", "support_call", "checkout", "playback");

  /** A detector's verdict on one experience. */
  record Finding(String detector, int order, int severity, double score, String reason, boolean repeat) {
    boolean better(Finding g) {
      if (severity != g.severity) {
        return severity > g.severity;
      }
      if (score != g.score) {
        return score > g.score;
      }
      return order < g.order;
    }
  }

  /** The alert written to the alerts topic (the fields of peakend's alert that this detection fills). */
  public record Alert(
      @JsonProperty("alert_id") String alertId,
      @JsonProperty("customer_id") String customerId,
      @JsonProperty("detector") String detector,
      @JsonProperty("journey") String journey,
      @JsonProperty("severity") String severity,
      @JsonProperty("score") double score,
      @JsonProperty("priority") double priority,
      @JsonProperty("reason") String reason,
      @JsonProperty("event_time") String eventTime,
      @JsonProperty("detected_at") String detectedAt,
      @JsonProperty("customer") Map<String, Object> customer,
      @JsonProperty("kind") String kind) {}

  /** Thrown for a record peakend would send to its DLQ. */
  public static final class Invalid extends Exception {
    Invalid(String reason) {
      super(reason, null, false, false);
    }
  }

  /** The event time of an experience in Unix nanoseconds. */
  static long eventTime(Experience ev) throws Invalid {
    if (ev.customerId == null || ev.customerId.isEmpty() || ev.customerId.length() > 256) {
      throw new Invalid("customer_id missing or too long");
    }
    if (ev.journey == null || ev.journey.isEmpty()) {
      throw new Invalid("journey missing");
    }
    if (!JOURNEYS.contains(ev.journey)) {
      throw new Invalid("unknown journey");
    }
    if (ev.time == null) {
      throw new Invalid("time missing");
    }
    try {
      Instant t =
          ev.time.endsWith("Z") ? Instant.parse(ev.time) : OffsetDateTime.parse(ev.time).toInstant();
      return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
    } catch (RuntimeException e) {
      throw new Invalid("time: not RFC 3339");
    }
  }

  private static int level(double[] cuts, double v) {
    for (int i = 2; i >= 0; i--) {
      if (v >= cuts[i]) {
        return i + 1;
      }
    }
    return NONE;
  }

  private static Finding threshold(Experience ev) {
    if (!"delivery".equals(ev.journey) || ev.metrics == null) {
      return null;
    }
    Double v = ev.metrics.get("delay_hours");
    if (v == null) {
      return null;
    }
    int sev = level(LATE_CUTS, v);
    if (sev == NONE) {
      return null;
    }
    double lo = LATE_CUTS[0];
    double top = LATE_CUTS[2];
    double score = clamp01(0.5 + 0.5 * (v - lo) / (2 * top - lo + 1e-12));
    String reason =
        String.format(
            "Delivery delay of %.1f hours, beyond the %s limit of %.0f hours",
            v, SEVERITY[sev], LATE_CUTS[sev - 1]);
    return new Finding("late_delivery", 0, sev, score, reason, false);
  }

  private static boolean bad(Experience ev) {
    return ev.outcome != null && BAD_OUTCOMES.contains(ev.outcome);
  }

  private static boolean counts(CustomerState.Mark m, long now) {
    return BAD_OUTCOMES.contains(m.outcome()) && m.time() <= now && now - m.time() <= REPEAT_WITHIN;
  }

  private static int countAt(CustomerState c, long t) {
    int n = 1;
    for (CustomerState.Mark m : c.bad) {
      if (counts(m, t)) {
        n++;
      }
    }
    return n;
  }

  /** repeat: the largest count over the windows ending at this failure or a later one within 24 h. */
  private static Finding repeat(Experience ev, CustomerState c, long t) {
    if (!bad(ev)) {
      return null;
    }
    int n = countAt(c, t);
    for (CustomerState.Mark m : c.bad) {
      if (counts(m, m.time()) && m.time() > t && m.time() - t <= REPEAT_WITHIN) {
        int k = countAt(c, m.time());
        if (k > n) {
          n = k;
        }
      }
    }
    int sev = level(REPEAT_CUTS, n);
    if (sev == NONE) {
      return null;
    }
    String reason = n + " bad experiences within 24 hours";
    return new Finding("repeated_failures", 1, sev, clamp01(n / REPEAT_CUTS[2]), reason, true);
  }

  private static void learn(Experience ev, CustomerState c, long t) {
    if (!bad(ev)) {
      return;
    }
    int at = c.bad.size();
    while (at > 0 && c.bad.get(at - 1).time() > t) {
      at--;
    }
    if (at == 0 && c.bad.size() >= CustomerState.MAX_BAD_MARKS) {
      return;
    }
    c.bad.add(at, new CustomerState.Mark(t, ev.journey, ev.outcome));
    while (c.bad.size() > CustomerState.MAX_BAD_MARKS) {
      c.bad.remove(0);
    }
  }

  private static double worstAt(CustomerState c, long t) {
    if (t <= c.worstAt) {
      return c.worstBad;
    }
    return c.worstBad * Math.pow(2, -(double) (t - c.worstAt) / (double) PEAK_HALF_LIFE);
  }

  private static double clamp01(double v) {
    return Math.max(0, Math.min(1, v));
  }

  /** 64-bit FNV-1a: the identity of an event among a customer's recent ones. */
  static long fnv(byte[] b) {
    long h = 0xcbf29ce484222325L;
    for (byte x : b) {
      h ^= x & 0xff;
      h *= 0x100000001b3L;
    }
    return h;
  }

  /** peakend's alerts.AlertID: sha256 of the length-prefixed detector, customer and identity. */
  static String alertId(String detector, String customer, byte[] identity) {
    MessageDigest h;
    try {
      h = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    for (byte[] f :
        new byte[][] {
          detector.getBytes(StandardCharsets.UTF_8), customer.getBytes(StandardCharsets.UTF_8), identity
        }) {
      long n = f.length;
      while (n >= 0x80) { // uvarint
        h.update((byte) (n | 0x80));
        n >>>= 7;
      }
      h.update((byte) n);
      h.update(f);
    }
    byte[] sum = h.digest();
    return HexFormat.of().formatHex(sum, 0, 16);
  }

  /**
   * The identity of an event among its customer's recent ones: a hash of its event_id or, without
   * one, of the record's bytes (in another domain), as peakend keeps them.
   */
  static long identityHash(Experience ev, byte[] raw) {
    return hasEventId(ev) ? fnv(ev.eventId.getBytes(StandardCharsets.UTF_8)) : fnv(raw) ^ 0x9e3779b97f4a7c15L;
  }

  private static boolean hasEventId(Experience ev) {
    return ev.eventId != null && !ev.eventId.isEmpty();
  }

  /**
   * Judges experience ev (raw: the record's bytes; t: its event time; h: its {@link
   * #identityHash}) of customer c, folds it into c and returns the alert it raises, or null. The
   * caller has dropped redeliveries ({@code c.seen(h)}).
   */
  static Alert apply(CustomerState c, Experience ev, byte[] raw, long t, long h) {
    byte[] identity = hasEventId(ev) ? ev.eventId.getBytes(StandardCharsets.UTF_8) : raw;
    // Judge against the history before this event.
    Finding best = threshold(ev);
    Finding r = repeat(ev, c, t);
    if (r != null && (best == null || r.better(best))) {
      best = r;
    }
    // Fold it in.
    c.remember(h);
    c.lastAt = Math.max(c.lastAt, t);
    if (ev.customer != null) {
      if (ev.customer.tier != null && !ev.customer.tier.isEmpty()) {
        c.tier = ev.customer.tier;
      }
      if (ev.customer.value != null) {
        c.value = ev.customer.value;
      }
    }
    learn(ev, c, t);
    // Peak-end memory: a second failure within the memory of the first rises one level.
    int sev = NONE;
    if (best != null) {
      if (best.severity() < CRITICAL && !best.repeat() && worstAt(c, t) >= RECENT_PAIN) {
        best =
            new Finding(
                best.detector(),
                best.order(),
                best.severity() + 1,
                best.score(),
                best.reason() + " (raised to " + SEVERITY[best.severity() + 1] + ": another bad experience recently)",
                false);
      }
      sev = best.severity();
    }
    double b = BADNESS[sev];
    if (b >= worstAt(c, t)) {
      c.worstBad = b;
      c.worstAt = t;
    }
    if (t >= c.lastAt) {
      c.lastBad = b;
    }
    double perceived = (Math.max(worstAt(c, t), c.lastBad) + c.lastBad) / 2;
    if (best == null) {
      return null;
    }
    // Cooldown on event time: one alert per customer per 72 h, unless the severity rises.
    if (c.hasCooldown) {
      long d = Math.abs(t - c.cooldownTime);
      if (d < COOLDOWN && best.severity() <= c.cooldownSeverity) {
        return null;
      }
    }
    c.hasCooldown = true;
    c.cooldownTime = t;
    c.cooldownSeverity = best.severity();
    double v = c.value > 0 ? Math.min(99, 10 * Math.log10(1 + c.value)) : 0;
    String et = Instant.ofEpochSecond(0, t).toString();
    return new Alert(
        alertId(best.detector(), ev.customerId, identity),
        ev.customerId,
        best.detector(),
        ev.journey,
        SEVERITY[best.severity()],
        Math.round(best.score() * 1e6) / 1e6,
        Math.round((best.severity() * 100 + v) * 100) / 100.0,
        best.reason(),
        et,
        Instant.now().toString(),
        Map.of("tier", c.tier, "value", c.value, "perceived", Math.round(perceived * 1000) / 1000.0),
        "customer");
  }
}
