#!/usr/bin/env bash
# Shared by broker.sh and s3.sh: start a local test service in the
# background, wait until its TCP port answers, stop it, or report on it.
# Source it, then call `service_main NAME ADDR INSTALL_FN COMMAND...` with
# the script's first argument in $ACTION.

listening() { (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; }

service_main() {
  local name=$1 addr=$2 install=$3
  shift 3
  local state=${TMPDIR:-/tmp}/strata-$name
  mkdir -p "$state"
  case "${ACTION:-status}" in
    start)
      if listening "$addr"; then
        echo "$name: already answering on $addr"
        return 0
      fi
      "$install"
      echo "$name: starting on $addr (log: $state/$name.log)"
      nohup "$@" >"$state/$name.log" 2>&1 &
      echo $! >"$state/$name.pid"
      for _ in $(seq 1 150); do
        if listening "$addr"; then
          echo "$name: up (pid $(cat "$state/$name.pid"))"
          return 0
        fi
        sleep 0.2
      done
      echo "$name: did not come up; its log:" >&2
      cat "$state/$name.log" >&2
      return 1
      ;;
    stop)
      if [ -f "$state/$name.pid" ]; then
        kill "$(cat "$state/$name.pid")" 2>/dev/null || true
        rm -f "$state/$name.pid"
        echo "$name: stopped"
      fi
      ;;
    status)
      if listening "$addr"; then echo "$name: answering on $addr"; else echo "$name: not running"; return 1; fi
      ;;
    *)
      echo "usage: $0 start|stop|status" >&2
      return 2
      ;;
  esac
}
