#!/usr/bin/env bash
# Fuzzes every message decoder with cargo-fuzz (libFuzzer), each for
# SECONDS (default 180), seeded with the golden messages of
# decode/tests/golden. Fails on a panic, a crash, or an allocation over
# 512 MB (-malloc_limit_mb): no decoder may allocate without bound.
#
#   scripts/fuzz.sh                 # every format, 3 minutes each
#   SECONDS_EACH=600 scripts/fuzz.sh influx otlp-proto
#
# Built with AddressSanitizer (cargo-fuzz's default): libFuzzer's
# -malloc_limit_mb works through the sanitizer's malloc hooks, so without
# ASan a single 600 MB allocation goes unnoticed (tried: `--sanitizer none`
# ran past it; ASan stops with "out-of-memory (malloc(629145600))").
#
# Needs cargo-fuzz (installed when missing). cargo-fuzz passes nightly-only
# flags to rustc; the fixed toolchain is stable (it ships the ASan runtime),
# so the build runs with RUSTC_BOOTSTRAP=1, for the fuzz build only. The
# decoders are their own light crate (decode/), so the build takes a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}"
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked
formats=("$@")
[ ${#formats[@]} -gt 0 ] || formats=(json influx telegraf-json prometheus-kafka-adapter otlp-json otlp-proto auto)
secs="${SECONDS_EACH:-180}"
summary=()
cargo fuzz build --fuzz-dir fuzz -O decode
for f in "${formats[@]}"; do
  corpus="$CARGO_TARGET_DIR/fuzz-corpus/$f"
  mkdir -p "$corpus"
  echo "== fuzzing $f for ${secs}s (corpus $corpus)"
  STRATA_FUZZ_FORMAT="$f" cargo fuzz run --fuzz-dir fuzz -O decode \
    "$corpus" decode/tests/golden -- \
    -max_total_time="$secs" -malloc_limit_mb=512 -rss_limit_mb=2048 -print_final_stats=1 \
    2>&1 | tee "$CARGO_TARGET_DIR/fuzz-$f.log" | grep -E '^(#[0-9]+.*pulse|==|SUMMARY|Done|stat::)' || true
  # cargo fuzz exits non-zero on a crash; the pipe hides it, so look.
  grep -q '^Done [0-9]* runs' "$CARGO_TARGET_DIR/fuzz-$f.log" || {
    echo "fuzzing $f failed, see $CARGO_TARGET_DIR/fuzz-$f.log and fuzz/artifacts/decode/" >&2
    exit 1
  }
  summary+=("$f: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$CARGO_TARGET_DIR/fuzz-$f.log"), corpus $(ls "$corpus" | wc -l) inputs")
done
printf '%s\n' "== no crash, no allocation over 512 MB:" "${summary[@]}"

