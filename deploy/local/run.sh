#!/usr/bin/env bash
# `make run`: a real Kafka, every service on SQLite under var/, a demo organisation, and the URLs.
# Data is kept between runs (Kafka's log and the stores under var/; `make clean` starts fresh). A service that
# dies is restarted with a backoff, and so is the broker this script started; Ctrl-C stops everything it started.
#
# Environment: TANDEM_VAR_DIR (the state folder, default <repo>/var), TANDEM_<SERVICE>_PORT, KAFKA_BOOTSTRAP_SERVERS
# (use that cluster instead of starting one), TANDEM_RUN_NO_DEMO=1 (skip the demo organisation).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
BIN="$REPO/.venv/bin"
VAR="${TANDEM_VAR_DIR:-$REPO/var}"
mkdir -p "$VAR"
VAR="$(cd "$VAR" && pwd)"
LOGS="$VAR/logs"
OWN_KAFKA=$([[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]] && echo yes || echo no)
export TANDEM_KAFKA_DIR="${TANDEM_KAFKA_DIR:-$VAR/kafka}"
SERVICES=(goals checkins reviews projections)
declare -A PORT=(
  [goals]="${TANDEM_GOALS_PORT:-8001}" [checkins]="${TANDEM_CHECKINS_PORT:-8002}"
  [reviews]="${TANDEM_REVIEWS_PORT:-8003}" [projections]="${TANDEM_PROJECTIONS_PORT:-8000}"
)
declare -A STORE=(
  [goals]="goals/events.db" [checkins]="checkins/events.db" [reviews]="reviews/events.db"
  [projections]="projections/read-model.db"
)
declare -A PID=() STARTED_AT=() RESTART_AT=() BACKOFF=()
DELAY=0
BACKOFF_FIRST=1 # seconds before the first restart; doubled on each quick death, up to BACKOFF_MAX
BACKOFF_MAX=30
STABLE_AFTER=60 # a service that ran this long before dying starts again at the first backoff

say() { echo "run.sh: $*" >&2; }

stop_everything() {
  trap - INT TERM EXIT
  echo
  echo "stopping…"
  for name in "${!PID[@]}"; do kill -TERM "${PID[$name]}" 2>/dev/null || true; done
  for name in "${!PID[@]}"; do wait "${PID[$name]}" 2>/dev/null || true; done
  if [[ "$OWN_KAFKA" == yes ]]; then bash deploy/local/kafka.sh stop; fi
  echo "stopped."
}
trap stop_everything EXIT
trap 'stop_everything; exit 130' INT
trap 'stop_everything; exit 143' TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for name in "${SERVICES[@]}"; do
  port_free "${PORT[$name]}" || {
    echo "port ${PORT[$name]} is in use: stop what holds it, or set TANDEM_${name^^}_PORT" >&2
    exit 1
  }
done

mkdir -p "$LOGS" "$VAR/goals" "$VAR/checkins" "$VAR/reviews" "$VAR/projections"
# Starts our broker (again, on its data) and exports its address; with a cluster given, only creates the topics.
start_kafka() {
  local line
  if [[ "$OWN_KAFKA" == yes ]]; then
    line="$(env -u KAFKA_BOOTSTRAP_SERVERS bash deploy/local/kafka.sh start | tail -n 1)"
  else
    line="$(bash deploy/local/kafka.sh start | tail -n 1)"
  fi
  [[ "$line" == KAFKA_BOOTSTRAP_SERVERS=* ]] || return 1
  export KAFKA_BOOTSTRAP_SERVERS="${line#*=}"
}
start_kafka || { echo "Kafka did not start; see the lines above" >&2; exit 1; }

# One service on its port and its store under $VAR; its log is appended to, so a crash stays readable.
start_service() {
  local name="$1" prefix="TANDEM_${1^^}_"
  local url_var="${prefix}DATABASE_URL"
  echo "--- run.sh: starting $name at $(date -u +%FT%TZ)" >>"$LOGS/$name.log"
  env "${prefix}PORT=${PORT[$name]}" "$url_var=${!url_var:-sqlite:///$VAR/${STORE[$name]}}" \
    "$BIN/tandem-$name" >>"$LOGS/$name.log" 2>&1 &
  PID[$name]=$!
  STARTED_AT[$name]=$SECONDS
}
for name in "${SERVICES[@]}"; do start_service "$name"; done

wait_ready() {
  local name="$1" log="$LOGS/$1.log"
  for _ in $(seq 1 120); do
    if "$BIN/python" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:${PORT[$name]}/health/ready').status_code != 200)" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  echo "$name did not become ready; last lines of $log:" >&2
  tail -n 30 "$log" >&2
  exit 1
}
for name in "${SERVICES[@]}"; do wait_ready "$name"; done

if [[ "${TANDEM_RUN_NO_DEMO:-}" != 1 ]]; then
  "$BIN/python" deploy/local/demo.py --goals "http://127.0.0.1:${PORT[goals]}" \
    --checkins "http://127.0.0.1:${PORT[checkins]}" --reviews "http://127.0.0.1:${PORT[reviews]}"
fi

cat <<INFO

Tandem is running (Kafka at $KAFKA_BOOTSTRAP_SERVERS; data and logs in $VAR).
  goals API          http://127.0.0.1:${PORT[goals]}/docs
  check-ins API      http://127.0.0.1:${PORT[checkins]}/docs
  reviews API        http://127.0.0.1:${PORT[reviews]}/docs
  projections API    http://127.0.0.1:${PORT[projections]}/docs
  web dashboard      http://127.0.0.1:${PORT[projections]}/
  a review packet    http://127.0.0.1:${PORT[projections]}/v1/employees/rep-ben/review-packet?cycle=2026&format=html  (and .pdf)
  dashboard JSON     http://127.0.0.1:${PORT[projections]}/v1/dashboards/alignment?manager_id=mgr-ana
  rebuild            .venv/bin/tandem-projections rebuild   (replays every topic into a fresh store, then swaps it in)
  health, metrics    /health/live  /health/ready  /metrics on each service
A service that dies is restarted; data is kept for the next run (make clean starts fresh).
Press Ctrl-C to stop everything.
INFO

# The broker runs detached (kafka.sh), so it is watched by its recorded pid rather than waited for.
kafka_alive() {
  local pid
  pid="$(cat "$TANDEM_KAFKA_DIR/kafka.pid" 2>/dev/null)" || return 1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# Sets the next start of $1 (and DELAY) after its backoff, which doubles on each quick death and resets after a
# stable run of $2 seconds.
schedule_restart() {
  local name="$1" ran="$2"
  if ((ran >= STABLE_AFTER)); then BACKOFF[$name]=$BACKOFF_FIRST; fi
  DELAY="${BACKOFF[$name]:-$BACKOFF_FIRST}"
  RESTART_AT[$name]=$((SECONDS + DELAY))
  BACKOFF[$name]=$((DELAY * 2 > BACKOFF_MAX ? BACKOFF_MAX : DELAY * 2))
}

# A dead service is noted once (terminal and its log), then started again when its backoff has passed.
note_exit() {
  local name="$1" status=0
  wait "${PID[$name]}" || status=$?
  local ran=$((SECONDS - STARTED_AT[$name]))
  schedule_restart "$name" "$ran"
  local message="$name (pid ${PID[$name]}) exited with status $status after ${ran}s; restarting in ${DELAY}s"
  say "$message"
  echo "--- run.sh: $message" >>"$LOGS/$name.log"
  unset "PID[$name]"
}

KAFKA_STARTED_AT=$SECONDS
while true; do
  for name in "${SERVICES[@]}"; do
    if [[ -n "${PID[$name]:-}" ]] && ! kill -0 "${PID[$name]}" 2>/dev/null; then
      note_exit "$name"
    elif [[ -z "${PID[$name]:-}" ]] && ((SECONDS >= RESTART_AT[$name])); then
      start_service "$name"
      say "$name restarted (pid ${PID[$name]}); log in $LOGS/$name.log"
    fi
  done
  if [[ "$OWN_KAFKA" == yes ]] && ! kafka_alive && ((SECONDS >= ${RESTART_AT[kafka]:-0})); then
    say "the Kafka broker is gone; restarting it on its data (log in $TANDEM_KAFKA_DIR/logs)"
    if start_kafka; then
      KAFKA_STARTED_AT=$SECONDS
      say "the Kafka broker is back at $KAFKA_BOOTSTRAP_SERVERS"
    else
      schedule_restart kafka $((SECONDS - KAFKA_STARTED_AT))
      say "the Kafka broker did not start; trying again in ${DELAY}s"
    fi
  fi
  # A child's death or a signal ends the pause at once; otherwise it is the polling interval.
  sleep 1 &
  wait -n "$!" "${PID[@]}" 2>/dev/null || true
done
