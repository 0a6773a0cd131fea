//! Memory of the alert evaluator per selected series, at 1 million series.
//!
//! ```text
//! cargo bench --bench alert_memory
//! STRATA_BENCH_SERIES=200000 cargo bench --bench alert_memory
//! ```
//! Feeds every series one sample each 15 s of event time for 2 minutes
//! and evaluates after each round, then counts the bytes the allocator
//! holds for the [`Engine`]: once with an instant rule (which keeps the
//! newest point per series), once with a rule over a 1-minute range
//! (which keeps the points of that minute).

use std::time::Instant;

use strata_alerts::engine::{Engine, EngineOptions};
use strata_alerts::rule;
use strata_schemas::Sample;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::held;
#[path = "support/node_series.rs"]
mod node_series;

/// Series `i` of `node_cpu_seconds_total`.
fn sample(i: usize, ts_ns: i64) -> Sample {
    node_series::sample("node_cpu_seconds_total", i, ts_ns)
}

fn measure(series: usize, expr: &str) -> (f64, usize, f64) {
    let yaml = format!(
        "groups:\n  - name: bench\n    interval: 15s\n    rules:\n      - alert: Never\n        expr: '{expr}'\n"
    );
    let groups = rule::parse("bench.yml", &yaml).expect("valid rule");
    let base = held();
    let mut engine = Engine::new(
        groups
            .into_iter()
            .map(|g| ("bench.yml".to_string(), g))
            .collect(),
        EngineOptions::default(),
    );
    let t0_ms: i64 = 1_700_000_000_000;
    let mut eval_secs = 0.0;
    for round in 0..8 {
        let t_ms = t0_ms + round * 15_000;
        for i in 0..series {
            engine.push(&sample(i, t_ms * 1_000_000));
        }
        let started = Instant::now();
        let r = engine.advance(t_ms);
        eval_secs = started.elapsed().as_secs_f64();
        assert!(r.transitions.is_empty(), "the rule never holds");
    }
    let bytes = (held() - base) as f64 / series as f64;
    let (live, points, _) = engine.series_stats();
    assert_eq!(live, series);
    std::hint::black_box(&engine);
    (bytes, points, eval_secs)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let series: usize = std::env::var("STRATA_BENCH_SERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    println!("alert_memory series={series}, one sample per series every 15s, 8 rounds");
    for expr in [
        "node_cpu_seconds_total > 1e15",
        "avg_over_time(node_cpu_seconds_total[1m]) > 1e15",
    ] {
        let (bytes, points, eval) = measure(series, expr);
        println!(
            "  {expr:<52} {bytes:>7.1} bytes/series  {:.1} points/series  last evaluation {:.0} ms",
            points as f64 / series as f64,
            eval * 1e3
        );
    }
}
