#!/usr/bin/env bash
# kafka.sh: a real single-node Apache Kafka broker (KRaft), built from jars on
# Maven Central: no Docker, no tarball. For local runs and integration tests.
# Two release lines: 4.x (pom.xml, the default, logs through log4j2) and 3.9
# (pom-3.9.xml, reload4j); PEAKEND_KAFKA_VERSION picks one.
#
#   kafka.sh install                      collect the jars (once per version; cached)
#   kafka.sh version                      print the Kafka version this would run
#   kafka.sh up      [--port 9092] [--sasl] [--tls DIR]
#                                         start the broker in the background
#   kafka.sh down    [--port 9092] [--wipe]   stop it (--wipe: delete its data)
#   kafka.sh restart [--port 9092]        down, then up (data kept)
#   kafka.sh status  [--port 9092]        exit 0 if running, 3 if not
#   kafka.sh logs    [--port 9092] [-f] [-n LINES]
#   kafka.sh topics  [--port 9092] [--partitions N] [NAME...]
#                                         create topics if missing (default:
#                                         peakend's input topics)
#
# Listeners, all on 127.0.0.1 (the controller listener is port + 1):
#   PLAINTEXT      port                   always
#   SASL_PLAINTEXT port + 2               with --sasl (or PEAKEND_KAFKA_SASL=1):
#                  mechanisms PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; one user,
#                  $PEAKEND_KAFKA_SASL_USER / $PEAKEND_KAFKA_SASL_PASSWORD
#                  (default peakend / peakend-secret: for local tests only).
#                  SCRAM credentials are written when the storage is formatted
#                  (a fresh data directory: `down --wipe` first).
#   SSL            port + 3               with --tls DIR (or PEAKEND_KAFKA_TLS_DIR):
#                  PEM files in DIR: ca.pem (trusted CAs) and broker.pem (the
#                  broker's unencrypted PKCS#8 key, then its certificate chain);
#                  clients must present a certificate signed by ca.pem.
#
# Environment (all optional):
#   PEAKEND_KAFKA_CACHE            jars, in libs-VERSION/ (default: deploy/kafka-local/.cache)
#   PEAKEND_KAFKA_DATA             data, config, logs, pid files (default: the cache);
#                                  a temporary directory gives a throw-away broker
#   PEAKEND_KAFKA_PORT             client port when --port is not given (default 9092)
#   PEAKEND_KAFKA_CONTROLLER_PORT  KRaft controller port (default: port + 1)
#   PEAKEND_KAFKA_VERSION          org.apache.kafka:kafka_2.13 version: a line, 4 or
#                                  3.9 (the version pinned in pom.xml or pom-3.9.xml),
#                                  or an exact version, 4.x.y or 3.x.y (default:
#                                  pom.xml's, the newest 4.x tested). A data
#                                  directory written by a newer line is refused.
#   PEAKEND_KAFKA_HEAP_OPTS        default "-Xmx512m -Xms256m"
#   PEAKEND_KAFKA_START_TIMEOUT    seconds to wait for startup (default 90)
#   PEAKEND_KAFKA_STOP_TIMEOUT     seconds to wait after SIGTERM (default 30)
#   PEAKEND_KAFKA_PARTITIONS       num.partitions and `topics` default (default 4)
#   JAVA, MVN                      the java and mvn commands
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${PEAKEND_KAFKA_CACHE:-$HERE/.cache}
JAVA=${JAVA:-java}
MVN=${MVN:-mvn}
HEAP_OPTS=${PEAKEND_KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}
START_TIMEOUT=${PEAKEND_KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${PEAKEND_KAFKA_STOP_TIMEOUT:-30}
PARTITIONS=${PEAKEND_KAFKA_PARTITIONS:-4}
RUNDIR=${PEAKEND_KAFKA_DATA:-$CACHE}
SASL=${PEAKEND_KAFKA_SASL:-0}
TLS_DIR=${PEAKEND_KAFKA_TLS_DIR:-}
SASL_USER=${PEAKEND_KAFKA_SASL_USER:-peakend}
SASL_PASSWORD=${PEAKEND_KAFKA_SASL_PASSWORD:-peakend-secret}
STARTED_MSG='Kafka Server started'

PROG=$(basename "$0")
die() { echo "$PROG: $*" >&2; exit 1; }
usage_error() { echo "$PROG: $*" >&2; echo "usage: $PROG install|version|up|down|restart|status|logs|topics [--port N] (see the head of $0)" >&2; exit 2; }
log() { echo "$PROG: $*" >&2; }

need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH${2:+ ($2)}"; }

# ---------------------------------------------------------------- options

PORT=${PEAKEND_KAFKA_PORT:-9092}
WIPE=0
FOLLOW=0
LINES=100
TOPIC_PARTITIONS=$PARTITIONS
ARGS=()

parse_opts() {
  while [ $# -gt 0 ]; do
    case $1 in
      --port) [ $# -ge 2 ] || usage_error "--port needs a value"; PORT=$2; shift 2 ;;
      --port=*) PORT=${1#--port=}; shift ;;
      --wipe) WIPE=1; shift ;;
      --sasl) SASL=1; shift ;;
      --tls) [ $# -ge 2 ] || usage_error "--tls needs a directory"; TLS_DIR=$2; shift 2 ;;
      -f|--follow) FOLLOW=1; shift ;;
      -n|--lines) [ $# -ge 2 ] || usage_error "$1 needs a value"; LINES=$2; shift 2 ;;
      --partitions) [ $# -ge 2 ] || usage_error "--partitions needs a value"; TOPIC_PARTITIONS=$2; shift 2 ;;
      -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      -*) usage_error "unknown option $1" ;;
      *) ARGS+=("$1"); shift ;;
    esac
  done
  case $PORT in ''|*[!0-9]*) usage_error "bad port '$PORT'" ;; esac
  if [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65534 ]; then usage_error "bad port '$PORT'"; fi
  CONTROLLER_PORT=${PEAKEND_KAFKA_CONTROLLER_PORT:-$((PORT + 1))}
  case $CONTROLLER_PORT in ''|*[!0-9]*) usage_error "bad PEAKEND_KAFKA_CONTROLLER_PORT '$CONTROLLER_PORT'" ;; esac
  [ "$CONTROLLER_PORT" != "$PORT" ] || usage_error "controller port and client port are both $PORT"
  SASL_PORT=$((PORT + 2))
  TLS_PORT=$((PORT + 3))
  case $SASL in 1|true|yes) SASL=1 ;; *) SASL=0 ;; esac
  if [ -n "$TLS_DIR" ]; then
    TLS_DIR=$(cd "$TLS_DIR" 2>/dev/null && pwd) || usage_error "--tls: no directory '$TLS_DIR'"
  fi
  DATA=$RUNDIR/data-$PORT
  DATA_VERSION=$RUNDIR/data-$PORT.kafka-version
  CONF=$RUNDIR/conf-$PORT
  LOGS=$RUNDIR/logs
  SERVER_LOG=$LOGS/server-$PORT.log
  STDOUT_LOG=$LOGS/stdout-$PORT.log
  PIDFILE=$RUNDIR/kafka-$PORT.pid
}

# ---------------------------------------------------------------- version

pom_version() {  # pom file -> its kafka.version
  sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$HERE/$1" | head -n1
}

# Sets VERSION (exact), POM (the pom listing its jars), PINNED (that pom's
# kafka.version), LOG4J (log4j2 for 4.x, log4j for 3.x: reload4j) and LIBS.
resolve_version() {
  local want=${PEAKEND_KAFKA_VERSION:-} major
  major=${want%%.*}
  case $major in
    '') POM=pom.xml ;;
    3) POM=pom-3.9.xml ;;
    [4-9]|[1-9][0-9]) POM=pom.xml ;;
    *) die "PEAKEND_KAFKA_VERSION='$want': want 4 or 3.9 (a line) or an exact version such as 4.4.0 or 3.9.1" ;;
  esac
  PINNED=$(pom_version "$POM")
  [ -n "$PINNED" ] || die "cannot read kafka.version from $HERE/$POM"
  case $want in
    '') VERSION=$PINNED ;;
    *.*.*) VERSION=$want ;;
    *) # a line (4, 3.9, 4.4): the version its pom pins
      case $PINNED in
        "$want".*) VERSION=$PINNED ;;
        *) die "PEAKEND_KAFKA_VERSION='$want': $POM pins $PINNED; give an exact version (e.g. $want.0)" ;;
      esac ;;
  esac
  case $VERSION in
    *[!0-9A-Za-z.-]*) die "PEAKEND_KAFKA_VERSION='$want': not a version" ;;
  esac
  case $VERSION in 3.*) LOG4J=log4j ;; *) LOG4J=log4j2 ;; esac
  LIBS=$CACHE/libs-$VERSION
}

# ---------------------------------------------------------------- install

installed() {
  [ -f "$LIBS/.complete" ] && [ "$(cat "$LIBS/.complete")" = "$VERSION" ] \
    && compgen -G "$LIBS/kafka_2.13-$VERSION.jar" >/dev/null
}

cmd_install() {
  local want=$VERSION
  mkdir -p "$CACHE"
  # One installer at a time (parallel CI jobs sharing a cache).
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE/.install.lock"
    flock 9
  fi
  if installed; then
    return 0
  fi
  need "$MVN" "install Maven, e.g. apt-get install -y maven"
  need "$JAVA" "install Java 17, e.g. apt-get install -y openjdk-17-jre-headless"
  log "collecting Apache Kafka $want jars from Maven Central into $LIBS ..."
  local tmp=$CACHE/libs.tmp.$$
  rm -rf "$tmp"
  local mvnlog=$CACHE/mvn-install-$want.log
  local -a mvnargs=(-B -q -f "$HERE/$POM"
    org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies
    -DincludeScope=runtime "-DoutputDirectory=$tmp" "-Dkafka.version=$want")
  if ! "$MVN" "${mvnargs[@]}" >"$mvnlog" 2>&1; then
    rm -rf "$tmp"
    tail -n 40 "$mvnlog" >&2 || true
    die "mvn copy-dependencies failed (full output in $mvnlog)"
  fi
  [ -f "$tmp/kafka_2.13-$want.jar" ] || { rm -rf "$tmp"; die "kafka_2.13-$want.jar missing after mvn (see $mvnlog)"; }
  echo "$want" >"$tmp/.complete"
  rm -rf "$LIBS"
  mv "$tmp" "$LIBS"
  rm -f "$mvnlog"
  log "installed Apache Kafka $want ($(find "$LIBS" -name '*.jar' | wc -l) jars, $(du -sh "$LIBS" | cut -f1))"
}

# ---------------------------------------------------------------- process helpers

is_kafka_pid() {  # pid -> is it our broker (this config)?
  local pid=$1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka\.Kafka $CONF/server.properties"
}

running_pid() {  # prints the broker pid for this port, or fails
  local pid=""
  if [ -f "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    if is_kafka_pid "$pid"; then echo "$pid"; return 0; fi
  fi
  # Pid file lost or stale: look for a broker started with exactly our config file.
  local p
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    if is_kafka_pid "$p"; then
      echo "$p" >"$PIDFILE" 2>/dev/null || true
      echo "$p"; return 0
    fi
  done
  return 1
}

port_open() {  # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

file_size() { [ -f "$1" ] && wc -c <"$1" | tr -d ' ' || echo 0; }

# ---------------------------------------------------------------- config

write_config() {
  mkdir -p "$DATA" "$CONF" "$LOGS"
  local listeners="PLAINTEXT://127.0.0.1:$PORT" map="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
  if [ "$SASL" = 1 ]; then
    listeners+=",SASL_PLAINTEXT://127.0.0.1:$SASL_PORT"; map+=",SASL_PLAINTEXT:SASL_PLAINTEXT"
  fi
  if [ -n "$TLS_DIR" ]; then
    [ -f "$TLS_DIR/ca.pem" ] && [ -f "$TLS_DIR/broker.pem" ] || die "--tls $TLS_DIR: ca.pem and broker.pem are required"
    listeners+=",SSL://127.0.0.1:$TLS_PORT"; map+=",SSL:SSL"
  fi
  cat >"$CONF/server.properties" <<EOF
# Written by $PROG up; rewritten on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=$listeners,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$map
log.dirs=$DATA

num.partitions=$PARTITIONS
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
auto.create.topics.enable=false
delete.topic.enable=true

# Fast, small, single machine.
group.initial.rebalance.delay.ms=0
log.cleaner.dedupe.buffer.size=8388608
log.cleaner.threads=1
num.io.threads=4
num.network.threads=2
num.recovery.threads.per.data.dir=1
log.segment.bytes=67108864
log.retention.hours=168
EOF
  if [ "$SASL" = 1 ]; then
    cat >>"$CONF/server.properties" <<EOF

# SASL_PLAINTEXT on $SASL_PORT: PLAIN (users in the JAAS line) and SCRAM
# (credentials stored in the cluster metadata at format time).
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_USER="$SASL_PASSWORD";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
  fi
  if [ -n "$TLS_DIR" ]; then
    cat >>"$CONF/server.properties" <<EOF

# SSL on $TLS_PORT with PEM files; clients must present a certificate.
ssl.keystore.type=PEM
ssl.keystore.location=$TLS_DIR/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.pem
ssl.client.auth=required
EOF
  fi
  write_log_config
}

# The broker logs to $SERVER_LOG, everything at WARN except the startup and
# shutdown lines (kafka.sh up waits for "Kafka Server started"); the tools log
# to stderr at WARN. Kafka 3.x reads log4j 1 properties (reload4j), 4.x log4j2.
write_log_config() {
  rm -f "$CONF/log4j.properties" "$CONF/tools-log4j.properties" \
    "$CONF/log4j2.properties" "$CONF/tools-log4j2.properties"
  if [ "$LOG4J" = log4j ]; then
    cat >"$CONF/log4j.properties" <<EOF
# Written by $PROG up for Kafka $VERSION (reload4j).
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$SERVER_LOG
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n

log4j.logger.kafka=WARN
log4j.logger.org.apache.kafka=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.authorizer.logger=WARN
# "Kafka Server started" (KRaft: KafkaRaftServer; ZooKeeper mode: KafkaServer)
log4j.logger.kafka.Kafka\$=INFO
log4j.logger.kafka.server.KafkaRaftServer=INFO
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
log4j.logger.kafka.server.ControllerServer=INFO
EOF
    cat >"$CONF/tools-log4j.properties" <<EOF
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
    return 0
  fi
  cat >"$CONF/log4j2.properties" <<EOF
# Written by $PROG up for Kafka $VERSION (log4j2).
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = $SERVER_LOG
appender.file.filePattern = $SERVER_LOG.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2

rootLogger.level = WARN
rootLogger.appenderRef.file.ref = file
# "Kafka Server started" (KafkaRaftServer), and the start and stop of its parts.
logger.main.name = kafka.Kafka\$
logger.main.level = INFO
logger.raft.name = kafka.server.KafkaRaftServer
logger.raft.level = INFO
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = INFO
logger.controller.name = kafka.server.ControllerServer
logger.controller.level = INFO
EOF
  cat >"$CONF/tools-log4j2.properties" <<EOF
status = warn
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = stderr
EOF
}

# The JVM flag that points the broker (log4j*.properties) or a tool
# (tools-log4j*.properties) at its config.
log_opt() {  # file prefix: log4j or tools-log4j
  if [ "$LOG4J" = log4j ]; then
    echo "-Dlog4j.configuration=file:$CONF/$1.properties"
  else
    echo "-Dlog4j2.configurationFile=$CONF/${1}2.properties"
  fi
}

java_tool() {  # class args...
  "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    "$(log_opt tools-log4j)" -cp "$LIBS/*" "$@"
}

# The Kafka version that last ran on $DATA is kept beside it: a newer line
# may rewrite the data in a format an older one cannot read (4.x over 3.9
# data is an upgrade; 3.9 over 4.x data is refused here with a clear error,
# not left to fail in the broker's log).
check_data_version() {
  local had
  [ -f "$DATA/meta.properties" ] && [ -f "$DATA_VERSION" ] || return 0
  had=$(cat "$DATA_VERSION")
  [ "${had%%.*}" -le "${VERSION%%.*}" ] 2>/dev/null && return 0
  die "$DATA was last run by Kafka $had, which Kafka $VERSION cannot read: run '$PROG down --port $PORT --wipe' first, or use another PEAKEND_KAFKA_DATA"
}

format_storage() {
  [ -f "$DATA/meta.properties" ] && return 0
  local id out
  id=$(java_tool kafka.tools.StorageTool random-uuid 2>>"$STDOUT_LOG" | tail -n1 | tr -d '\r') \
    || die "kafka.tools.StorageTool random-uuid failed (see $STDOUT_LOG)"
  [ -n "$id" ] || die "kafka.tools.StorageTool random-uuid printed nothing"
  local -a scram=()
  if [ "$SASL" = 1 ]; then
    scram=(--add-scram "SCRAM-SHA-256=[name=$SASL_USER,password=$SASL_PASSWORD]"
           --add-scram "SCRAM-SHA-512=[name=$SASL_USER,password=$SASL_PASSWORD]")
  fi
  if ! out=$(java_tool kafka.tools.StorageTool format -t "$id" -c "$CONF/server.properties" --ignore-formatted "${scram[@]}" 2>&1); then
    echo "$out" >&2
    die "formatting $DATA failed"
  fi
  log "formatted $DATA (cluster id $id)"
}

print_failure_logs() {  # only what this start wrote (offsets taken before it)
  local f off lines
  for f in "$SERVER_LOG:$LOG_OFFSET" "$STDOUT_LOG:$OUT_OFFSET"; do
    off=${f##*:}; f=${f%:*}
    [ -f "$f" ] || continue
    [ "$(file_size "$f")" -ge "$off" ] || off=0
    lines=$(tail -c "+$((off + 1))" "$f" | tail -n 40)
    [ -n "$lines" ] || continue
    echo "---- last lines of $f ----" >&2
    echo "$lines" >&2
  done
}

# ---------------------------------------------------------------- commands

cmd_up() {
  local pid
  if pid=$(running_pid); then
    echo "kafka already running on 127.0.0.1:$PORT (pid $pid)"
    return 0
  fi
  rm -f "$PIDFILE"
  need "$JAVA" "install Java 17, e.g. apt-get install -y openjdk-17-jre-headless"
  if port_open 127.0.0.1 "$PORT"; then
    die "127.0.0.1:$PORT is already in use by another process (try --port)"
  fi
  if port_open 127.0.0.1 "$CONTROLLER_PORT"; then
    die "controller port 127.0.0.1:$CONTROLLER_PORT is already in use (set PEAKEND_KAFKA_CONTROLLER_PORT)"
  fi
  if [ "$SASL" = 1 ] && port_open 127.0.0.1 "$SASL_PORT"; then
    die "SASL port 127.0.0.1:$SASL_PORT is already in use (try --port)"
  fi
  if [ -n "$TLS_DIR" ] && port_open 127.0.0.1 "$TLS_PORT"; then
    die "TLS port 127.0.0.1:$TLS_PORT is already in use (try --port)"
  fi
  installed || cmd_install
  check_data_version
  write_config
  format_storage

  local t0=$SECONDS
  LOG_OFFSET=$(file_size "$SERVER_LOG")
  OUT_OFFSET=$(file_size "$STDOUT_LOG")
  # setsid: the broker outlives this shell and its process group (make, CI
  # steps, Ctrl-C). bash -c writes its own pid, then becomes java by exec.
  # shellcheck disable=SC2086,SC2016
  PEAKEND_PIDFILE=$PIDFILE setsid bash -c 'echo $$ >"$PEAKEND_PIDFILE"; exec "$@"' kafka \
    "$JAVA" $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true \
    "$(log_opt log4j)" "-Dkafka.logs.dir=$LOGS" \
    -cp "$LIBS/*" kafka.Kafka "$CONF/server.properties" \
    </dev/null >>"$STDOUT_LOG" 2>&1 &

  local deadline=$((SECONDS + START_TIMEOUT)) started=0 open=0
  while :; do
    pid=$(cat "$PIDFILE" 2>/dev/null || true)
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PIDFILE"
      print_failure_logs
      die "kafka exited during startup on 127.0.0.1:$PORT"
    fi
    if [ "$(file_size "$SERVER_LOG")" -lt "$LOG_OFFSET" ]; then LOG_OFFSET=0; fi  # rotated
    [ "$started" = 1 ] || { tail -c "+$((LOG_OFFSET + 1))" "$SERVER_LOG" 2>/dev/null | grep -q "$STARTED_MSG" && started=1; } || true
    [ "$open" = 1 ] || { port_open 127.0.0.1 "$PORT" && open=1; } || true
    if [ "$started" = 1 ] && [ "$open" = 1 ]; then break; fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      print_failure_logs
      echo "$PROG: kafka did not start within ${START_TIMEOUT}s (port open: $open, '$STARTED_MSG' logged: $started); stopping it" >&2
      [ -z "$pid" ] || stop_pid "$pid" 10 || true
      rm -f "$PIDFILE"
      exit 1
    fi
    sleep 0.25
  done
  local extra=""
  [ "$SASL" = 1 ] && extra+=", SASL on 127.0.0.1:$SASL_PORT"
  [ -z "$TLS_DIR" ] || extra+=", TLS on 127.0.0.1:$TLS_PORT"
  echo "$VERSION" >"$DATA_VERSION"
  echo "kafka $VERSION up on 127.0.0.1:$PORT$extra (pid $pid, started in $((SECONDS - t0))s; data $DATA)"
}

stop_pid() {  # pid timeout
  local pid=$1 timeout=$2 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < timeout * 4; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  log "kafka (pid $pid) still running ${timeout}s after SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  return 1
}

cmd_down() {
  local pid
  if pid=$(running_pid); then
    stop_pid "$pid" "$STOP_TIMEOUT" || die "could not stop kafka (pid $pid)"
    echo "kafka on 127.0.0.1:$PORT stopped (pid $pid)"
  else
    echo "kafka on 127.0.0.1:$PORT is not running"
  fi
  rm -f "$PIDFILE"
  if [ "$WIPE" = 1 ]; then
    rm -rf "$DATA" "$CONF" "$DATA_VERSION"
    echo "wiped $DATA"
  fi
}

cmd_status() {
  local pid
  if pid=$(running_pid); then
    if port_open 127.0.0.1 "$PORT"; then
      echo "kafka running on 127.0.0.1:$PORT (pid $pid)"
    else
      echo "kafka process running (pid $pid) but 127.0.0.1:$PORT is not accepting connections (starting or stopping?)"
    fi
    return 0
  fi
  echo "kafka on 127.0.0.1:$PORT is not running"
  return 3
}

cmd_logs() {
  [ -f "$SERVER_LOG" ] || die "no log yet at $SERVER_LOG"
  if [ "$FOLLOW" = 1 ]; then
    exec tail -n "$LINES" -F "$SERVER_LOG"
  fi
  tail -n "$LINES" "$SERVER_LOG"
}

cmd_topics() {
  running_pid >/dev/null || die "kafka on 127.0.0.1:$PORT is not running (run: $PROG up --port $PORT)"
  installed || cmd_install
  [ "${#ARGS[@]}" -gt 0 ] || ARGS=(experiences complaints peakend-feedback)
  local t out
  for t in "${ARGS[@]}"; do
    if out=$(java_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$PORT" \
      --create --if-not-exists --topic "$t" --partitions "$TOPIC_PARTITIONS" --replication-factor 1 2>&1); then
      echo "topic $t ready"
    else
      echo "$out" >&2
      die "could not create topic $t"
    fi
  done
}

# ---------------------------------------------------------------- main

[ $# -ge 1 ] || usage_error "missing command"
CMD=$1; shift
parse_opts "$@"
resolve_version
if [ "$CMD" != topics ] && [ "${#ARGS[@]}" -gt 0 ]; then usage_error "unexpected argument '${ARGS[0]}'"; fi
case $CMD in
  install) cmd_install; installed && echo "kafka jars ready in $LIBS ($(cat "$LIBS/.complete"))" ;;
  version) echo "$VERSION" ;;
  up|start) cmd_up ;;
  down|stop) cmd_down ;;
  restart) WIPE=0; cmd_down; cmd_up ;;
  status) cmd_status ;;
  logs) cmd_logs ;;
  topics) cmd_topics ;;
  -h|--help|help) parse_opts --help ;;
  *) usage_error "unknown command '$CMD'" ;;
esac
