#!/usr/bin/env bash
# Starts, stops or checks the test broker: tansu 0.6.0 on 127.0.0.1:9092,
# in memory (nothing survives its restart).
#
#   scripts/broker.sh start   # installs tansu if missing, starts it, waits until it answers
#   scripts/broker.sh stop
#   scripts/broker.sh status
set -euo pipefail

ADDR=${STRATA_TEST_BROKER_ADDR:-127.0.0.1:9092}
STATE=${STRATA_BROKER_STATE:-${TMPDIR:-/tmp}/strata-broker}
mkdir -p "$STATE"

listening() { (exec 3<>"/dev/tcp/${ADDR%:*}/${ADDR#*:}") 2>/dev/null; }

case "${1:-status}" in
  start)
    if listening; then
      echo "broker: already answering on $ADDR"
      exit 0
    fi
    "$(dirname "$0")/install-tansu.sh"
    echo "broker: starting tansu on $ADDR (log: $STATE/tansu.log)"
    nohup tansu broker \
      --listener-url "tcp://$ADDR" \
      --advertised-listener-url "tcp://$ADDR" \
      --storage-engine memory://tansu/ \
      >"$STATE/tansu.log" 2>&1 &
    echo $! >"$STATE/tansu.pid"
    for _ in $(seq 1 100); do
      if listening; then
        echo "broker: up (pid $(cat "$STATE/tansu.pid"))"
        exit 0
      fi
      sleep 0.1
    done
    echo "broker: tansu did not come up; its log:" >&2
    cat "$STATE/tansu.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$STATE/tansu.pid" ]; then
      kill "$(cat "$STATE/tansu.pid")" 2>/dev/null || true
      rm -f "$STATE/tansu.pid"
      echo "broker: stopped"
    fi
    ;;
  status)
    if listening; then echo "broker: answering on $ADDR"; else echo "broker: not running"; exit 1; fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
