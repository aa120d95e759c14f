package io.github.peakend.peer;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * One task's detection: reads the customer's state from the RocksDB store (through the store
 * cache), judges the experience, writes the state back and forwards the alert, if any.
 */
final class DetectProcessor implements Processor<String, byte[], String, byte[]> {
  static final String STORE = "customers";
  static final ObjectMapper MAPPER = new ObjectMapper();

  private final Stats stats;
  private ProcessorContext<String, byte[]> ctx;
  private KeyValueStore<String, CustomerState> store;

  DetectProcessor(Stats stats) {
    this.stats = stats;
  }

  @Override
  public void init(ProcessorContext<String, byte[]> context) {
    ctx = context;
    store = context.getStateStore(STORE);
  }

  @Override
  public void process(Record<String, byte[]> r) {
    stats.started();
    try {
      if (r.value() == null) {
        throw new Detection.Invalid("no value");
      }
      Experience ev = MAPPER.readValue(r.value(), Experience.class);
      if (ev == null) {
        throw new Detection.Invalid("null");
      }
      long t = Detection.eventTime(ev);
      CustomerState c = store.get(ev.customerId);
      if (c == null) {
        c = new CustomerState();
      }
      long h = Detection.identityHash(ev, r.value());
      if (c.seen(h)) {
        stats.duplicate();
        return;
      }
      Detection.Alert a = Detection.apply(c, ev, r.value(), t, h);
      store.put(ev.customerId, c);
      if (a != null) {
        ctx.forward(new Record<>(ev.customerId, MAPPER.writeValueAsBytes(a), r.timestamp()));
        stats.alert();
      }
    } catch (IOException | Detection.Invalid e) {
      stats.invalid(); // peakend would send it to its DLQ
    } finally {
      stats.processed();
    }
  }
}
