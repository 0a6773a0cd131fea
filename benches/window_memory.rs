//! Memory of the ingest window state per active series, at 1 million
//! active series (target: under 300 bytes per series).
//!
//! ```text
//! cargo bench --bench window_memory
//! STRATA_BENCH_SERIES=2000000 cargo bench --bench window_memory
//! ```
//! Counts the bytes the allocator holds for [`Windows`] after feeding every
//! series one sample per minute: first with one open window per series,
//! then with two (the steady state under the default 1-minute lateness:
//! the current minute and the one before it).

use std::time::{Duration, Instant};

use strata_pipeline::tier::Windows;
use strata_schemas::Sample;
use strata_schemas::tier::MINUTE_NS;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::held;
#[path = "support/node_series.rs"]
mod node_series;

/// A node-exporter-like series: `node_cpu_seconds_total{cpu, mode,
/// instance, job}` and friends, about 70 bytes of name and labels.
fn sample(i: usize, ts_ns: i64) -> Sample {
    const NAMES: [&str; 4] = [
        "node_cpu_seconds_total",
        "node_network_receive_bytes_total",
        "node_filesystem_avail_bytes",
        "node_disk_io_time_seconds_total",
    ];
    node_series::sample(NAMES[i % 4], i, ts_ns)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let series: usize = std::env::var("STRATA_BENCH_SERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let partitions = 4;
    let t0 = 1_700_000_000 * 1_000_000_000 / MINUTE_NS * MINUTE_NS;
    let key_bytes: usize = (0..1000)
        .map(|i| {
            let s = sample(i, 0);
            s.metric_name.len()
                + s.labels
                    .pairs()
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>()
        })
        .sum::<usize>()
        / 1000;

    let base = held();
    let mut w = Windows::new(MINUTE_NS, Duration::from_secs(60), Duration::from_secs(30));
    let now = Instant::now();
    let t = Instant::now();
    let mut offsets = vec![0i64; partitions];
    let mut feed = |w: &mut Windows, minute: i64| {
        for chunk in (0..series).collect::<Vec<_>>().chunks(10_000) {
            for &i in chunk {
                let p = i % partitions;
                let s = [sample(
                    i,
                    t0 + minute * MINUTE_NS + (i as i64 % 60) * 1_000_000_000,
                )];
                w.feed(p as i32, offsets[p], &s, now);
                offsets[p] += 1;
            }
        }
    };
    feed(&mut w, 0);
    let one = held() - base;
    feed(&mut w, 1);
    let two = held() - base;
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(w.series(), series);
    assert_eq!(w.open_windows(), 2 * series);

    println!("window_memory series={series} partitions={partitions} name+labels≈{key_bytes} bytes");
    println!(
        "  one open window per series   {:>7.1} bytes/series",
        one as f64 / series as f64
    );
    println!(
        "  two open windows per series  {:>7.1} bytes/series  (steady state, target < 300)",
        two as f64 / series as f64
    );
    println!(
        "  fed {} samples in {secs:.2}s ({:.2} M samples/s, sample construction included)",
        2 * series,
        2.0 * series as f64 / secs / 1e6
    );
    std::hint::black_box(&w);
}
