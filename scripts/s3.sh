#!/usr/bin/env bash
# Starts, stops or checks the test S3 server: moto's S3 API on
# 127.0.0.1:5055 (in memory). Tests of the s3:// store need it.
#
#   scripts/s3.sh start   # installs moto[server] from PyPI if missing, starts it, waits until it answers
#   scripts/s3.sh stop
set -euo pipefail

ADDR=${STRATA_TEST_S3_ADDR:-127.0.0.1:5055}
STATE=${STRATA_S3_STATE:-${TMPDIR:-/tmp}/strata-s3}
mkdir -p "$STATE"

listening() { (exec 3<>"/dev/tcp/${ADDR%:*}/${ADDR#*:}") 2>/dev/null; }

case "${1:-status}" in
  start)
    if listening; then
      echo "s3: already answering on $ADDR"
      exit 0
    fi
    if ! python3 -c 'import moto.server, flask_cors' >/dev/null 2>&1; then
      echo "s3: installing moto[server] from PyPI"
      python3 -m pip install --quiet 'moto[server]==5.*'
    fi
    echo "s3: starting moto on $ADDR (log: $STATE/moto.log)"
    nohup python3 -m moto.server -H "${ADDR%:*}" -p "${ADDR#*:}" >"$STATE/moto.log" 2>&1 &
    echo $! >"$STATE/moto.pid"
    for _ in $(seq 1 150); do
      if listening; then
        echo "s3: up (pid $(cat "$STATE/moto.pid"))"
        exit 0
      fi
      sleep 0.2
    done
    echo "s3: moto did not come up; its log:" >&2
    cat "$STATE/moto.log" >&2
    exit 1
    ;;
  stop)
    if [ -f "$STATE/moto.pid" ]; then
      kill "$(cat "$STATE/moto.pid")" 2>/dev/null || true
      rm -f "$STATE/moto.pid"
      echo "s3: stopped"
    fi
    ;;
  status)
    if listening; then echo "s3: answering on $ADDR"; else echo "s3: not running"; exit 1; fi
    ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
