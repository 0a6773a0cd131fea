#!/usr/bin/env bash
# Fuzzes every message decoder with cargo-fuzz (libFuzzer), each for
# SECONDS (default 180), seeded with the golden messages of
# decode/tests/golden. Fails on a panic, a crash, or an allocation over
# 512 MB (-malloc_limit_mb): no decoder may allocate without bound.
#
#   scripts/fuzz.sh                 # every format, 3 minutes each
#   SECONDS_EACH=600 scripts/fuzz.sh influx otlp-proto
#
# Needs cargo-fuzz (installed when missing). cargo-fuzz passes nightly-only
# flags to rustc; the fixed toolchain is stable, so the build runs with
# RUSTC_BOOTSTRAP=1, for the fuzz build only.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
formats=("$@")
[ ${#formats[@]} -gt 0 ] || formats=(json influx telegraf-json prometheus-kafka-adapter otlp-json otlp-proto auto)
secs="${SECONDS_EACH:-180}"
cargo fuzz build --fuzz-dir fuzz --sanitizer none -O decode
for f in "${formats[@]}"; do
  corpus="$CARGO_TARGET_DIR/fuzz-corpus/$f"
  mkdir -p "$corpus"
  echo "== fuzzing $f for ${secs}s (corpus $corpus)"
  STRATA_FUZZ_FORMAT="$f" cargo fuzz run --fuzz-dir fuzz --sanitizer none -O decode \
    "$corpus" decode/tests/golden -- \
    -max_total_time="$secs" -malloc_limit_mb=512 -rss_limit_mb=2048 -print_final_stats=1
done
