#!/usr/bin/env bash
# Starts, stops or checks the test S3 server: moto's S3 API on
# 127.0.0.1:5055 (in memory). Tests of the s3:// store need it.
#
#   scripts/s3.sh start   # installs moto[server] with pip if missing, starts it, waits until it answers
#   scripts/s3.sh stop
#   scripts/s3.sh status
set -euo pipefail
here=$(dirname "$0")
. "$here/service.sh"

ADDR=${STRATA_TEST_S3_ADDR:-127.0.0.1:5055}
install() {
  if ! python3 -c 'import moto.server, flask_cors' >/dev/null 2>&1; then
    echo "moto: installing moto[server] with pip"
    python3 -m pip install --quiet 'moto[server]==5.*'
  fi
}

ACTION=${1:-status} service_main moto "$ADDR" install \
  python3 -m moto.server -H "${ADDR%:*}" -p "${ADDR#*:}"
