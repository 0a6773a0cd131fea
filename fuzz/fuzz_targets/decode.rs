//! Every message decoder on arbitrary bytes: no panic, no unbounded
//! allocation (run with `-malloc_limit_mb`, see scripts/fuzz.sh).
//!
//! The format is fixed by `STRATA_FUZZ_FORMAT` (a `--format` name; `auto`
//! detects per input, as ingest does), so each decoder gets its own run.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use strata_decode::{self as decode, DecodeLimits, Format};

static FORMAT: LazyLock<Format> = LazyLock::new(|| {
    std::env::var("STRATA_FUZZ_FORMAT")
        .map(|f| f.parse().expect("STRATA_FUZZ_FORMAT: a --format name"))
        .unwrap_or(Format::Auto)
});

/// 2026-01-01T00:00:00Z: inputs' timestamps are judged against a fixed clock.
const NOW_NS: i64 = 1_767_225_600_000_000_000;

fuzz_target!(|data: &[u8]| {
    let decoded = decode::decode(*FORMAT, data, DecodeLimits::default(), NOW_NS);
    // Every rejected part carries a reason.
    assert!(decoded.rejected.iter().all(|r| !r.reason.is_empty()));
});
