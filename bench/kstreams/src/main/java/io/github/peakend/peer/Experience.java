package io.github.peakend.peer;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/** An experience event (peakend's input contract), as Jackson reads it. Unknown fields are ignored. */
@JsonIgnoreProperties(ignoreUnknown = true)
public final class Experience {
  @JsonProperty("event_id")
  public String eventId;

  @JsonProperty("customer_id")
  public String customerId;

  @JsonProperty("time")
  public String time;

  @JsonProperty("journey")
  public String journey;

  @JsonProperty("outcome")
  public String outcome;

  @JsonProperty("metrics")
  public Map<String, Double> metrics;

  @JsonProperty("attributes")
  public Map<String, String> attributes;

  @JsonProperty("customer")
  public CustomerInfo customer;

  /** The optional customer block: tier and value. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public static final class CustomerInfo {
    @JsonProperty("tier")
    public String tier;

    @JsonProperty("value")
    public Double value;
  }
}
