//! The query benchmark's data set (`#[path]`-included by
//! `benches/query_vs_duckdb.rs`): node-exporter-like series over 30 days,
//! written through Strata's ingest writers and maintenance, kept on disk
//! between runs.
//!
//! [`HOSTS`] hosts of 40 series each (CPU seconds per cpu and mode, load
//! averages, memory, network and disk counters, filesystem space,
//! temperatures, processes, `up`), scraped every 30 s for [`DAYS`] days
//! from [`START_NS`], each host at its own offset in the interval; one host
//! restarts (its counters start again from 0) on day 12.
//!
//! Every hour is one flush of ingest's own writers: the samples, as
//! messages of one host's scrape each (one Kafka partition), are pushed
//! into a [`RawBuffer`] and fed to the 1-minute [`Windows`]; the windows
//! the watermark closed are encoded by `tier::minute::encode`; the files
//! are put and published by one commit with the offset range and window
//! mark, as `pipeline/src/ingest.rs` flushes. A last flush with every
//! partition idle closes the remaining windows. Then maintenance runs as
//! `strata ingest` would schedule it: compaction (raw: one file per hour
//! already; `1m`: each hour's parts folded into one file, as steady-state
//! ingest with its many small flushes ends up) and the rollup of `1m` into
//! `1h`, and garbage collection of the replaced files. So files, partitioning, sort order, row groups, encodings and the
//! commit log are what ingest and maintenance produce.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use strata_maintain::compact::{CompactOptions, compact};
use strata_maintain::gc::{GcOptions, gc};
use strata_maintain::rollup::{RollupOptions, rollup};
use strata_pipeline::tier::{RawBuffer, Windows, minute};
use strata_schemas::tier::{HOUR_NS, MINUTE_NS};
use strata_schemas::{Labels, Sample, Tier};
use strata_storage::{Commit, CommitOutcome, OffsetRange, Store, TableLog};

/// Bump whenever the data or the way it is written changes: a store of
/// another version is regenerated.
/// 2: aggregated files carry series indexes in their footers.
pub(crate) const VERSION: u32 = 2;
/// Hosts.
pub(crate) const HOSTS: usize = 50;
/// Series per host.
pub(crate) const SERIES_PER_HOST: usize = 40;
/// Days of data.
pub(crate) const DAYS: i64 = 30;
/// Scrape interval.
pub(crate) const STEP_NS: i64 = 30_000_000_000;
/// 2026-01-01T00:00:00Z, the first hour.
pub(crate) const START_NS: i64 = 1_767_225_600_000_000_000;
/// Seed of every host's generator.
const SEED: u64 = 20_260_101;
/// The ingest source the commits name.
const SOURCE: &str = "bench/query-vs-duckdb";
/// Name of the file marking a complete store.
const MARKER: &str = "dataset.json";

/// Total samples.
pub(crate) fn samples() -> u64 {
    (HOSTS * SERIES_PER_HOST) as u64 * (DAYS * 24 * HOUR_NS / STEP_NS) as u64
}

/// What the marker file records: a store is reused only if it matches.
fn marker() -> serde_json::Value {
    serde_json::json!({
        "version": VERSION,
        "hosts": HOSTS,
        "series_per_host": SERIES_PER_HOST,
        "days": DAYS,
        "step_ns": STEP_NS,
        "start_ns": START_NS,
        "seed": SEED,
        "samples": samples(),
    })
}

/// Opens the store in `dir`, generating it first unless it holds a
/// complete data set of this version.
pub(crate) async fn open_or_generate(dir: &Path) -> Arc<TableLog> {
    let marker_path = dir.join(MARKER);
    let found = std::fs::read(&marker_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    if found.as_ref() == Some(&marker()) {
        eprintln!("reusing the data set in {}", dir.display());
        return open(dir).await;
    }
    if dir.exists() {
        // Only ever remove a store this benchmark wrote (complete or not).
        let ours = found.is_some() || dir.join("_log").exists();
        let empty = std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none());
        assert!(
            ours || empty,
            "{} exists and is not a benchmark store; choose another STRATA_BENCH_DIR",
            dir.display()
        );
        eprintln!(
            "removing {} (another version, or an interrupted run)",
            dir.display()
        );
        std::fs::remove_dir_all(dir).expect("remove the old store");
    }
    std::fs::create_dir_all(dir).expect("create the store directory");
    let log = open(dir).await;
    generate(&log).await;
    std::fs::write(&marker_path, serde_json::to_vec_pretty(&marker()).unwrap())
        .expect("write the marker");
    log
}

async fn open(dir: &Path) -> Arc<TableLog> {
    let store = Store::open(&format!("file://{}", dir.display())).expect("open the store");
    Arc::new(TableLog::open(store).await.expect("open the log"))
}

/// Ingests every hour, then runs maintenance.
async fn generate(log: &Arc<TableLog>) {
    let hours = DAYS * 24;
    eprintln!(
        "generating {} samples ({HOSTS} hosts × {SERIES_PER_HOST} series, {DAYS} days at {} s) \
         into {} …",
        samples(),
        STEP_NS / 1_000_000_000,
        log.store().url()
    );
    let started = Instant::now();
    let mut hosts: Vec<Host> = (0..HOSTS).map(Host::new).collect();
    // Ingest's defaults: 1 minute of lateness, 30 s idle timeout.
    let idle = Duration::from_secs(30);
    let mut windows = Windows::new(MINUTE_NS, Duration::from_secs(60), idle);
    windows.assign(0, None, None, 1);
    // One instant for the whole run: the partition never looks idle until
    // the final flush.
    let now = Instant::now();
    let mut offset: i64 = 0;
    let mut stored: Option<i64> = None;
    let mut pending: Option<tokio::task::JoinHandle<(u64, u64)>> = None;
    let (mut bytes, mut files) = (0u64, 0u64);
    for h in 0..hours {
        let hour = START_NS + h * HOUR_NS;
        let mut buffer = RawBuffer::default();
        let mut message = Vec::with_capacity(SERIES_PER_HOST);
        for k in 0..HOUR_NS / STEP_NS {
            for host in hosts.iter_mut() {
                host.scrape(hour + k * STEP_NS, &mut message);
                windows.feed(0, offset, &message, now);
                offset += 1;
                for s in message.drain(..) {
                    buffer.push(s);
                }
            }
        }
        let (closed, marks) = windows.close(now, |_| Some(offset));
        let range = OffsetRange {
            source: SOURCE.into(),
            partition: 0,
            from: stored,
            to: offset,
            window: marks.get(&0).copied(),
        };
        stored = Some(offset);
        // Encode and commit this hour while the next one is generated;
        // commits stay in order.
        if let Some(p) = pending.take() {
            let (b, f) = p.await.expect("flush task");
            bytes += b;
            files += f;
        }
        let log = Arc::clone(log);
        pending = Some(tokio::spawn(async move {
            flush(&log, buffer, closed, range).await
        }));
        if (h + 1) % 24 == 0 {
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "  day {:>2}/{DAYS}: {:>11} samples, {files} files, {:.0} MB, {secs:.0} s (ETA {:.0} s)",
                (h + 1) / 24,
                (h + 1) as u64 * samples() / hours as u64,
                bytes as f64 / 1e6,
                secs / (h + 1) as f64 * (hours - h - 1) as f64
            );
        }
    }
    if let Some(p) = pending.take() {
        p.await.expect("flush task");
    }
    // Every partition idle: the last windows close, as when ingest stops.
    let later = now + idle + Duration::from_secs(1);
    let (closed, marks) = windows.close(later, |_| stored);
    let range = OffsetRange {
        source: SOURCE.into(),
        partition: 0,
        from: stored,
        to: offset,
        window: marks.get(&0).copied(),
    };
    flush(log, RawBuffer::default(), closed, range).await;
    eprintln!(
        "ingested in {:.0} s; compacting (1m: one file per hour) …",
        started.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let opts = CompactOptions {
        min_files: 1,
        ..Default::default()
    };
    let report = compact(log, &opts).await.expect("compact");
    eprintln!("  {report} in {:.0} s", t.elapsed().as_secs_f64());
    eprintln!("rolling 1m up into 1h …");
    let t = Instant::now();
    let report = rollup(log, &RollupOptions::default())
        .await
        .expect("rollup");
    eprintln!("  {report} in {:.0} s", t.elapsed().as_secs_f64());
    assert_eq!(report.hours as i64, hours, "every hour rolled up");
    // Nothing else reads this store: the files compaction replaced go now
    // rather than after GC's grace period.
    let report = gc(
        log,
        GcOptions {
            grace: Duration::ZERO,
            dry_run: false,
        },
    )
    .await
    .expect("gc");
    eprintln!("  gc: {report}");
    eprintln!("data set ready in {:.0} s", started.elapsed().as_secs_f64());
}

/// One ingest flush: encodes the raw buffer and the closed windows, puts
/// the files and commits them with `range`. Returns bytes and files
/// written.
async fn flush(
    log: &TableLog,
    buffer: RawBuffer,
    closed: Vec<strata_pipeline::tier::window::ClosedWindow>,
    range: OffsetRange,
) -> (u64, u64) {
    let (mut encoded, minute) =
        tokio::try_join!(buffer.encode(), minute::encode(closed)).expect("encode the flush");
    encoded.extend(minute);
    for e in &encoded {
        e.put(log.store()).await.expect("put a file");
    }
    let commit = Commit {
        add: encoded.iter().map(|e| e.file.clone()).collect(),
        offsets: vec![range],
        writer: "query benchmark".into(),
        ..Default::default()
    };
    match log.commit(commit).await.expect("commit") {
        CommitOutcome::Committed { .. } => {}
        CommitOutcome::Conflict { reason } => panic!("commit refused: {reason}"),
    }
    let bytes = encoded.iter().map(|e| e.len() as u64).sum();
    (bytes, encoded.len() as u64)
}

/// How one series' value moves from one scrape to the next.
enum Model {
    /// A counter in integer units of `1/scale`: idle with probability
    /// `p_idle`, else growing by a log-normal number of units of mean
    /// `mean`.
    Counter {
        units: f64,
        scale: f64,
        mean: f64,
        sigma: f64,
        p_idle: f64,
    },
    /// A gauge reverting to `mean`, rounded to `1/scale`.
    Gauge {
        x: f64,
        mean: f64,
        sd: f64,
        scale: f64,
    },
    /// An integer gauge moving, with probability `p`, by a normal number
    /// (sd `sd`) of `quantum`s.
    Walk {
        v: f64,
        quantum: f64,
        p: f64,
        sd: f64,
    },
    /// One of `values`, switching with probability `p`.
    States {
        values: &'static [f64],
        v: f64,
        p: f64,
    },
    /// Never moves.
    Constant(f64),
}

fn normal(rng: &mut SmallRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

impl Model {
    fn counter(start: f64, mean_inc: f64, sigma: f64, p_idle: f64, decimals: i32) -> Self {
        let scale = 10f64.powi(decimals);
        Model::Counter {
            units: (start * scale).round(),
            scale,
            mean: mean_inc * scale,
            sigma,
            p_idle,
        }
    }

    fn gauge(mean: f64, sd: f64, decimals: i32) -> Self {
        Model::Gauge {
            x: mean,
            mean,
            sd,
            scale: 10f64.powi(decimals),
        }
    }

    fn walk(start: f64, quantum: f64, p: f64, sd: f64) -> Self {
        Model::Walk {
            v: (start / quantum).round() * quantum,
            quantum,
            p,
            sd,
        }
    }

    /// The next value; `restart` resets counters to 0.
    fn next(&mut self, rng: &mut SmallRng, restart: bool) -> f64 {
        match self {
            Model::Counter {
                units,
                scale,
                mean,
                sigma,
                p_idle,
            } => {
                if restart {
                    *units = 0.0;
                }
                if !rng.random_bool(*p_idle) {
                    let mu = mean.ln() - *sigma * *sigma / 2.0;
                    *units += (mu + *sigma * normal(rng)).exp().round();
                }
                *units / *scale
            }
            Model::Gauge { x, mean, sd, scale } => {
                *x = *mean + 0.9 * (*x - *mean) + *sd * 0.44 * normal(rng);
                (x.max(0.0) * *scale).round() / *scale
            }
            Model::Walk { v, quantum, p, sd } => {
                if rng.random_bool(*p) {
                    *v = (*v + (*sd * normal(rng)).round() * *quantum).max(0.0);
                }
                *v
            }
            Model::States { values, v, p } => {
                if rng.random_bool(*p) {
                    *v = values[rng.random_range(0..values.len())];
                }
                *v
            }
            Model::Constant(v) => *v,
        }
    }
}

/// One series of a host.
struct Series {
    name: String,
    labels: Labels,
    model: Model,
}

/// One scraped host.
struct Host {
    offset_ns: i64,
    rng: SmallRng,
    series: Vec<Series>,
    /// Scrape time from which counters start again (a restart).
    restart_at: Option<i64>,
    restarted: bool,
}

/// The value of label `instance` of host `h`.
pub(crate) fn instance(h: usize) -> String {
    format!("host-{h:03}:9100")
}

impl Host {
    fn new(h: usize) -> Self {
        let mut rng = SmallRng::seed_from_u64(SEED ^ (h as u64).wrapping_mul(0x9E37_79B9));
        let inst = instance(h);
        let util = 0.05 + 0.5 * rng.random::<f64>();
        let uptime = 1e5 + 3e6 * rng.random::<f64>();
        let step = STEP_NS as f64 / 1e9;
        let mut series = Vec::with_capacity(SERIES_PER_HOST);
        let mut add = |name: &str, extra: &[(&str, &str)], model: Model| {
            let mut pairs = vec![("instance", inst.as_str()), ("job", "node")];
            pairs.extend_from_slice(extra);
            series.push(Series {
                name: name.to_string(),
                labels: Labels::from_pairs(pairs),
                model,
            });
        };
        // CPU seconds, 2 decimals (USER_HZ).
        for cpu in 0..4 {
            let c = cpu.to_string();
            let busy = util * (0.5 + rng.random::<f64>());
            for (mode, share, p_idle) in [
                ("idle", 1.0 - busy, 0.0),
                ("user", busy * 0.65, 0.0),
                ("system", busy * 0.25, 0.0),
                ("iowait", busy * 0.05, 0.3),
            ] {
                let model = Model::counter(uptime * share, step * share, 0.3, p_idle, 2);
                add(
                    "node_cpu_seconds_total",
                    &[("cpu", &c), ("mode", mode)],
                    model,
                );
            }
        }
        for (name, sd) in [
            ("node_load1", 0.5),
            ("node_load5", 0.3),
            ("node_load15", 0.2),
        ] {
            add(name, &[], Model::gauge(4.0 * util, sd, 2));
        }
        let total = (8 + rng.random_range(0..8) * 8) as f64 * 1_073_741_824.0;
        for (name, share, p, sd) in [
            ("node_memory_MemAvailable_bytes", 0.6, 0.9, 300.0),
            ("node_memory_MemFree_bytes", 0.2, 0.9, 300.0),
            ("node_memory_Cached_bytes", 0.3, 0.3, 50.0),
            ("node_memory_Buffers_bytes", 0.02, 0.1, 10.0),
        ] {
            add(name, &[], Model::walk(total * share, 1024.0, p, sd));
        }
        for (dev, bytes) in [("eth0", 2e5 * step), ("lo", 2e4 * step)] {
            for dir in ["receive", "transmit"] {
                let model = Model::counter(bytes * 4e4, bytes, 0.8, 0.0, 0);
                add(
                    &format!("node_network_{dir}_bytes_total"),
                    &[("device", dev)],
                    model,
                );
            }
        }
        for (dev, busy, p_idle) in [("nvme0n1", 1.0, 0.1), ("sda", 0.05, 0.7)] {
            let d = [("device", dev)];
            let model = Model::counter(3e10, 2e5 * step * busy, 1.2, p_idle, 0);
            add("node_disk_read_bytes_total", &d, model);
            let model = Model::counter(8e10, 4e5 * step * busy, 1.0, p_idle, 0);
            add("node_disk_written_bytes_total", &d, model);
            let model = Model::counter(4e3, 0.008 * step * busy, 0.8, p_idle, 3);
            add("node_disk_io_time_seconds_total", &d, model);
        }
        for (mp, fs) in [("/", "ext4"), ("/var", "xfs")] {
            let size = (1e5 + 5e8 * rng.random::<f64>()).round() * 4096.0;
            let free = size * rng.random::<f64>();
            add(
                "node_filesystem_avail_bytes",
                &[("mountpoint", mp), ("fstype", fs)],
                Model::walk(free, 4096.0, 0.3, 100.0),
            );
        }
        for chip in 0..2 {
            add(
                "node_hwmon_temp_celsius",
                &[("sensor", &format!("temp{chip}"))],
                Model::gauge(45.0 + 3.0 * chip as f64, 0.6, 1),
            );
        }
        add(
            "node_procs_running",
            &[],
            Model::States {
                values: &[0.0, 1.0, 1.0, 2.0, 3.0, 4.0],
                v: 1.0,
                p: 0.6,
            },
        );
        add("up", &[], Model::Constant(1.0));
        add(
            "node_context_switches_total",
            &[],
            Model::counter(uptime * 3000.0, 3000.0 * step, 0.3, 0.0, 0),
        );
        assert_eq!(series.len(), SERIES_PER_HOST);
        Self {
            // Whole milliseconds within the interval.
            offset_ns: rng.random_range(0..STEP_NS / 1_000_000) * 1_000_000,
            rng,
            series,
            restart_at: (h + 1 == HOSTS).then_some(START_NS + 12 * 24 * HOUR_NS + 7 * HOUR_NS),
            restarted: false,
        }
    }

    /// The samples of the scrape of interval `t`, appended to `out`.
    fn scrape(&mut self, t: i64, out: &mut Vec<Sample>) {
        let ts = t + self.offset_ns;
        let restart = !self.restarted && self.restart_at.is_some_and(|r| ts >= r);
        self.restarted |= restart;
        for s in &mut self.series {
            out.push(Sample {
                metric_name: s.name.clone(),
                labels: s.labels.clone(),
                ts_ns: ts,
                value: s.model.next(&mut self.rng, restart),
            });
        }
    }
}

/// Files, rows and bytes of one tier in the newest snapshot.
pub(crate) async fn tier_size(log: &TableLog, tier: Tier) -> (usize, u64, u64) {
    let snap = log.snapshot().await.expect("snapshot");
    let files: Vec<_> = snap.files_of(tier.dir()).collect();
    (
        files.len(),
        files.iter().map(|f| f.rows).sum(),
        files.iter().map(|f| f.bytes).sum(),
    )
}
