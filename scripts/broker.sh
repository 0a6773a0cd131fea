#!/usr/bin/env bash
# Starts, stops or checks the test broker: tansu 0.6.0 on 127.0.0.1:9092,
# in memory (nothing survives its restart).
#
#   scripts/broker.sh start   # installs tansu if missing, starts it, waits until it answers
#   scripts/broker.sh stop
#   scripts/broker.sh status
set -euo pipefail
here=$(dirname "$0")
. "$here/service.sh"

ADDR=${STRATA_TEST_BROKER_ADDR:-127.0.0.1:9092}
install() { "$here/install-tansu.sh"; }

ACTION=${1:-status} service_main tansu "$ADDR" install \
  tansu broker \
  --listener-url "tcp://$ADDR" \
  --advertised-listener-url "tcp://$ADDR" \
  --storage-engine memory://tansu/
