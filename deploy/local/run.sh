#!/usr/bin/env bash
# `make run`: a real Kafka, every service on SQLite under var/, a demo organisation, and the URLs.
# Each run starts from a clean slate (fresh Kafka data, fresh stores); Ctrl-C stops everything it started.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
BIN="$REPO/.venv/bin"
LOGS="$REPO/var/logs"
GOALS_PORT="${TANDEM_GOALS_PORT:-8001}"
CHECKINS_PORT="${TANDEM_CHECKINS_PORT:-8002}"
REVIEWS_PORT="${TANDEM_REVIEWS_PORT:-8003}"
PROJECTIONS_PORT="${TANDEM_PROJECTIONS_PORT:-8000}"
OWN_KAFKA=$([[ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ]] && echo yes || echo no)
PIDS=()

stop_everything() {
  trap - INT TERM EXIT
  echo
  echo "stopping…"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ "$OWN_KAFKA" == yes ]]; then bash deploy/local/kafka.sh stop; fi
  echo "stopped."
}
trap stop_everything INT TERM EXIT

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$GOALS_PORT" "$CHECKINS_PORT" "$REVIEWS_PORT" "$PROJECTIONS_PORT"; do
  port_free "$port" || { echo "port $port is in use: stop what holds it, or set TANDEM_<SERVICE>_PORT" >&2; exit 1; }
done

# A fresh Kafka has no history, so stores that remember old positions must start fresh too.
rm -rf var/goals var/checkins var/reviews var/projections
mkdir -p "$LOGS"
eval "$(bash deploy/local/kafka.sh start | tail -n 1)"
export KAFKA_BOOTSTRAP_SERVERS

TANDEM_GOALS_PORT="$GOALS_PORT" "$BIN/tandem-goals" >"$LOGS/goals.log" 2>&1 &
PIDS+=($!)
TANDEM_CHECKINS_PORT="$CHECKINS_PORT" "$BIN/tandem-checkins" >"$LOGS/checkins.log" 2>&1 &
PIDS+=($!)
TANDEM_REVIEWS_PORT="$REVIEWS_PORT" "$BIN/tandem-reviews" >"$LOGS/reviews.log" 2>&1 &
PIDS+=($!)
TANDEM_PROJECTIONS_PORT="$PROJECTIONS_PORT" "$BIN/tandem-projections" >"$LOGS/projections.log" 2>&1 &
PIDS+=($!)

wait_ready() {
  local name="$1" port="$2" log="$3"
  for _ in $(seq 1 120); do
    if "$BIN/python" -c "import httpx,sys; sys.exit(httpx.get('http://127.0.0.1:$port/health/ready').status_code != 200)" 2>/dev/null; then
      return 0
    fi
    sleep 0.5
  done
  echo "$name did not become ready; last lines of $log:" >&2
  tail -n 30 "$log" >&2
  exit 1
}
wait_ready goals "$GOALS_PORT" "$LOGS/goals.log"
wait_ready checkins "$CHECKINS_PORT" "$LOGS/checkins.log"
wait_ready reviews "$REVIEWS_PORT" "$LOGS/reviews.log"
wait_ready projections "$PROJECTIONS_PORT" "$LOGS/projections.log"

"$BIN/python" deploy/local/demo.py --goals "http://127.0.0.1:$GOALS_PORT" --checkins "http://127.0.0.1:$CHECKINS_PORT" \
  --reviews "http://127.0.0.1:$REVIEWS_PORT"

cat <<INFO

Tandem is running (Kafka at $KAFKA_BOOTSTRAP_SERVERS; logs in var/logs/).
  goals API          http://127.0.0.1:$GOALS_PORT/docs
  check-ins API      http://127.0.0.1:$CHECKINS_PORT/docs
  reviews API        http://127.0.0.1:$REVIEWS_PORT/docs
  projections API    http://127.0.0.1:$PROJECTIONS_PORT/docs
  web dashboard      http://127.0.0.1:$PROJECTIONS_PORT/
  a review packet    http://127.0.0.1:$PROJECTIONS_PORT/v1/employees/rep-ben/review-packet?cycle=2026&format=html  (and .pdf)
  dashboard JSON     http://127.0.0.1:$PROJECTIONS_PORT/v1/dashboards/alignment?manager_id=mgr-ana
  rebuild            .venv/bin/tandem-projections rebuild   (replays every topic into a fresh store, then swaps it in)
  health, metrics    /health/live  /health/ready  /metrics on each service
Press Ctrl-C to stop everything.
INFO

# Stop everything as soon as any service exits on its own.
wait -n "${PIDS[@]}"
echo "a service stopped unexpectedly; see var/logs/" >&2
exit 1
