#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for development, tests and CI.
# The broker's jars come from Maven Central through deploy/local/pom.xml; no Docker, no download of a distribution.
#
# Usage: deploy/local/kafka.sh start|stop|status|bootstrap|resolve
#   start      resolve jars, format the storage if it is new (a formatted one keeps its data and cluster id),
#              start the broker on the ports it had before (when they are free), create missing topics;
#              the last stdout line is KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:<port>.
#              With KAFKA_BOOTSTRAP_SERVERS already set, it only creates the topics on that cluster.
#   stop       stop the broker recorded in the state dir (SIGTERM, then SIGKILL after 30 s)
#   status     print running/stopped and the address; exit 0 if running, 1 if not
#   bootstrap  print the recorded address
#   resolve    only copy the broker's jars into the cache (for CI caching)
#
# Environment: TANDEM_KAFKA_DIR (state dir, default <repo>/var/kafka), PYTHON (default <repo>/.venv/bin/python),
#   KAFKA_HEAP_OPTS (default -Xms256m -Xmx1g), KAFKA_START_TIMEOUT (seconds, default 90), JAVA_HOME.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
POM="$HERE/pom.xml"
# The pom is the one place that names the Kafka version; the cache folder follows it.
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)"
CACHE="$REPO/.cache/kafka-$KAFKA_VERSION"
LIBS="$CACHE/libs"
LIBS_MARKER="$CACHE/libs.complete"

STATE="${TANDEM_KAFKA_DIR:-$REPO/var/kafka}"
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
PID_FILE="$STATE/kafka.pid"
BOOTSTRAP_FILE="$STATE/bootstrap"
PROPS="$STATE/server.properties"
PORTS_FILE="$STATE/ports" # "<broker port> <controller port>" of the last start, reused on the next
DATA="$STATE/data"
LOGS="$STATE/logs"
OUT="$STATE/kafka.out" # the JVM's own stdout/stderr (crashes, bad flags); the broker log is $LOGS/server.log

PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT=30

log() { echo "kafka.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# --- jars -------------------------------------------------------------------------------------------------

resolve() {
  # The marker holds the pom's checksum, so editing the pom (e.g. a new version) resolves again.
  local want
  want="$(sha256sum "$POM" | cut -d' ' -f1)"
  if [[ -f "$LIBS_MARKER" && "$(cat "$LIBS_MARKER")" == "$want" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found: Maven is needed once to fetch the broker's jars"
  log "resolving Kafka $KAFKA_VERSION jars into $LIBS"
  rm -rf "$LIBS" "$LIBS_MARKER"
  mkdir -p "$LIBS"
  # Maven's output is kept in a file and shown only when it fails (quiet mode still prints colour codes).
  mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS" \
    >"$CACHE/mvn.log" 2>&1 || { cat "$CACHE/mvn.log" >&2; die "mvn could not resolve the Kafka jars"; }
  ls "$LIBS"/kafka_2.13-*.jar >/dev/null 2>&1 || die "mvn finished but $LIBS has no kafka_2.13 jar"
  echo "$want" >"$LIBS_MARKER"
}

# Runs a Kafka tool class with the broker's classpath and our logging config (else log4j complains on stderr).
kafka_java() {
  "$JAVA" -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$LOGS" -cp "$LIBS/*" "$@"
}

# --- process helpers --------------------------------------------------------------------------------------

recorded_pid() {
  cat "$PID_FILE" 2>/dev/null || true
}

recorded_bootstrap() {
  cat "$BOOTSTRAP_FILE" 2>/dev/null || true
}

# True only if $1 is alive AND is a broker of this state dir: a recycled pid must never be signalled.
is_our_broker() {
  local pid="$1"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *kafka.Kafka*"$PROPS"* ]]
}

port_answers() {
  local port="$1"
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

is_running() {
  local pid addr
  pid="$(recorded_pid)"
  addr="$(recorded_bootstrap)"
  is_our_broker "$pid" && [[ -n "$addr" ]] && port_answers "${addr##*:}"
}

# Two distinct free loopback ports: both sockets are held open together so the kernel cannot hand out one twice.
pick_ports() {
  python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*(x.getsockname()[1] for x in s))
[x.close() for x in s]'
}

# The ports of the last start when both are still free: clients keep their address across a restart,
# and the controller keeps the endpoint its quorum recorded.
previous_ports() {
  local broker_port="" controller_port=""
  [[ -f "$PORTS_FILE" ]] && read -r broker_port controller_port <"$PORTS_FILE" || true
  [[ -n "$broker_port" && -n "$controller_port" ]] || return 1
  ! port_answers "$broker_port" && ! port_answers "$controller_port" || return 1
  echo "$broker_port $controller_port"
}

# A formatted log dir holds meta.properties with the cluster id; formatting it again would refuse or wipe it.
is_formatted() {
  [[ -f "$DATA/meta.properties" ]]
}

show_log_tail() {
  log "---- tail of $LOGS/server.log ----"
  tail -n 40 "$LOGS/server.log" >&2 2>/dev/null || true
  log "---- tail of $OUT ----"
  tail -n 20 "$OUT" >&2 2>/dev/null || true
}

# --- topics -----------------------------------------------------------------------------------------------

create_topics() {
  local bootstrap="$1"
  [[ -x "$PYTHON" ]] || command -v "$PYTHON" >/dev/null || die "python not found at $PYTHON (set PYTHON)"
  # Topic lines go to stderr so stdout stays the single KAFKA_BOOTSTRAP_SERVERS line.
  "$PYTHON" -m tandem_runtime.topics --bootstrap "$bootstrap" >&2 || die "creating the topics on $bootstrap failed"
}

# One start/stop at a time per state dir: parallel test runs must not format each other's data.
lock_state() {
  exec 9>"$STATE/.lock"
  flock -w $((START_TIMEOUT + 60)) 9 || die "another kafka.sh start/stop holds $STATE/.lock"
}

# --- commands ---------------------------------------------------------------------------------------------

write_properties() {
  local broker_port="$1" controller_port="$2"
  cat >"$PROPS" <<EOF
# Written by deploy/local/kafka.sh on each start; edits here are overwritten.
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$broker_port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$broker_port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
controller.quorum.bootstrap.servers=127.0.0.1:$controller_port
log.dirs=$DATA
num.partitions=12
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
}

cmd_start() {
  if [[ -n "${KAFKA_BOOTSTRAP_SERVERS:-}" ]]; then
    log "KAFKA_BOOTSTRAP_SERVERS is set: using that cluster, starting nothing"
    create_topics "$KAFKA_BOOTSTRAP_SERVERS"
    echo "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS"
    return 0
  fi

  lock_state

  if is_running; then
    local addr
    addr="$(recorded_bootstrap)"
    log "broker already running (pid $(recorded_pid)) at $addr"
    create_topics "$addr"
    echo "KAFKA_BOOTSTRAP_SERVERS=$addr"
    return 0
  fi
  if is_our_broker "$(recorded_pid)"; then
    log "broker pid $(recorded_pid) is alive but does not answer: stopping it before starting afresh"
    stop_recorded
  fi

  resolve
  command -v "$JAVA" >/dev/null || die "java not found (Kafka $KAFKA_VERSION needs Java 17+)"

  local broker_port="" controller_port=""
  read -r broker_port controller_port < <(previous_ports || pick_ports) || true
  [[ -n "$broker_port" && -n "$controller_port" ]] || die "could not pick free loopback ports (python3 needed)"
  local addr="127.0.0.1:$broker_port"

  rm -f "$PID_FILE" "$BOOTSTRAP_FILE"
  rm -rf "$LOGS"
  mkdir -p "$DATA" "$LOGS"
  : >"$OUT"
  write_properties "$broker_port" "$controller_port"
  echo "$broker_port $controller_port" >"$PORTS_FILE"

  local started=$SECONDS cluster_id
  if is_formatted; then
    log "restarting on the existing data in $DATA (cluster $(sed -n 's/^cluster.id=//p' "$DATA/meta.properties"))"
  else
    cluster_id="$(kafka_java kafka.tools.StorageTool random-uuid)"
    kafka_java kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$PROPS" >>"$OUT" 2>&1 \
      || { show_log_tail; die "formatting $DATA failed"; }
  fi

  # setsid + nohup: the broker outlives this shell and the terminal, and gets no signal meant for our group;
  # 9>&- so it does not inherit the lock, which it would otherwise hold for its whole life.
  # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS is a list of flags
  setsid nohup "$JAVA" ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} \
    -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/log4j2.properties" -Dkafka.logs.dir="$LOGS" \
    -cp "$LIBS/*" kafka.Kafka "$PROPS" >>"$OUT" 2>&1 </dev/null 9>&- &
  local pid=$!
  echo "$pid" >"$PID_FILE"
  log "broker pid $pid starting on $addr (state in $STATE)"

  local deadline=$((SECONDS + START_TIMEOUT))
  until grep -q "Kafka Server started" "$LOGS/server.log" 2>/dev/null && port_answers "$broker_port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log_tail
      rm -f "$PID_FILE"
      die "the broker exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail
      stop_recorded
      die "the broker was not ready after ${START_TIMEOUT}s"
    fi
    sleep 0.2
  done
  echo "$addr" >"$BOOTSTRAP_FILE"
  log "broker ready in $((SECONDS - started))s"

  create_topics "$addr"
  echo "KAFKA_BOOTSTRAP_SERVERS=$addr"
}

# Stop the recorded pid only (never by name): SIGTERM for a clean shutdown, SIGKILL if it hangs.
stop_recorded() {
  local pid
  pid="$(recorded_pid)"
  if is_our_broker "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "broker pid $pid did not exit within ${STOP_TIMEOUT}s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
    log "broker pid $pid stopped"
  fi
  rm -f "$PID_FILE" "$BOOTSTRAP_FILE"
}

cmd_stop() {
  lock_state
  stop_recorded
}

cmd_status() {
  if is_running; then
    echo "running $(recorded_bootstrap) (pid $(recorded_pid))"
    return 0
  fi
  if is_our_broker "$(recorded_pid)"; then
    echo "stopped (pid $(recorded_pid) is alive but $(recorded_bootstrap) does not answer yet)"
  else
    echo "stopped"
  fi
  return 1
}

cmd_bootstrap() {
  local addr
  addr="$(recorded_bootstrap)"
  [[ -n "$addr" ]] || die "no broker recorded in $STATE (run: $0 start)"
  echo "$addr"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  bootstrap) cmd_bootstrap ;;
  resolve) resolve ;;
  *)
    echo "usage: $0 start|stop|status|bootstrap|resolve" >&2
    exit 2
    ;;
esac
