//! Bytes per sample of the tiers on node-exporter-like data.
//!
//! ```text
//! cargo bench --bench storage
//! ```
//!
//! Generates 8 hosts × 279 series (2,232) over 2 hours at 15 s, 1,071,360
//! samples: CPU seconds (counters with 2 decimals), network, disk, vmstat
//! and netstat counters (integers, busy to idle, one host restarting),
//! disk times (3 decimals), memory and filesystem bytes (integer gauges
//! moving every scrape or now and then), load averages (2 decimals),
//! temperatures (1 decimal), states (frequencies, running processes) and
//! constant series (40%: sizes, zero error counters, info series).
//!
//! For the raw tier it prints bytes/sample per column (compressed column
//! chunks; the rest of the file as "(footer)") of one file per hour
//! partition, as ingest writes them (`SampleBatchBuilder` →
//! `encode_raw`), for the encoding before value representations (`Float64`
//! byte-stream-split), for `encode_raw`, and for `encode_raw` of each part
//! of `split_by_value_repr`; on three data sets: timestamps on the 15 s
//! grid, timestamps with ±2 ms of jitter, and the first plus the series an
//! exporter reports as arbitrary floats. Then the sizes of the 1m and 1h
//! tiers built from the same samples, against raw.

mod data {
    //! A deterministic node-exporter-like sample set.
    #![allow(missing_docs)]

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// 2026-01-01T00:00:00Z, the first scrape.
    pub(crate) const START_NS: i64 = 1_767_225_600_000_000_000;
    /// Scrape interval.
    pub(crate) const STEP_NS: i64 = 15_000_000_000;

    /// One series: name, labels, and its points `(ts_ns, value)`.
    pub(crate) struct Series {
        pub(crate) name: String,
        pub(crate) labels: Vec<(String, String)>,
        pub(crate) points: Vec<(i64, f64)>,
    }

    /// Value models.
    pub(crate) struct Gen {
        pub(crate) rng: StdRng,
        pub(crate) n: usize,
        /// Point index of a restart of the host being generated, if any:
        /// counters start again from 0 there.
        pub(crate) restart_at: Option<usize>,
    }

    impl Gen {
        fn normal(&mut self) -> f64 {
            let u1: f64 = self.rng.random::<f64>().max(1e-300);
            let u2: f64 = self.rng.random();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        }

        fn lognormal(&mut self, mean: f64, sigma: f64) -> f64 {
            let mu = mean.ln() - sigma * sigma / 2.0;
            (mu + sigma * self.normal()).exp()
        }

        /// A counter in integer units, shown as `units / 10^decimals`:
        /// each step idle with probability `p_idle`, else growing by a
        /// log-normal amount of mean `mean_inc` units.
        pub(crate) fn counter(
            &mut self,
            start: f64,
            mean_inc: f64,
            sigma: f64,
            p_idle: f64,
            decimals: i32,
        ) -> Vec<f64> {
            let scale = 10f64.powi(decimals);
            let mut units = (start * scale).round();
            (0..self.n)
                .map(|i| {
                    if self.restart_at == Some(i) {
                        units = 0.0;
                    }
                    if !self.rng.random_bool(p_idle) {
                        units += self.lognormal(mean_inc * scale, sigma).round();
                    }
                    units / scale
                })
                .collect()
        }

        /// A gauge mean-reverting around `mean`, rounded to `decimals`.
        pub(crate) fn gauge(&mut self, mean: f64, sd: f64, decimals: i32) -> Vec<f64> {
            let scale = 10f64.powi(decimals);
            let mut x = mean + sd * self.normal();
            (0..self.n)
                .map(|_| {
                    x = mean + 0.9 * (x - mean) + sd * 0.44 * self.normal();
                    (x.max(0.0) * scale).round() / scale
                })
                .collect()
        }

        /// An integer gauge that, with probability `p_change` per step,
        /// moves by a normal number (sd `sd_quanta`) of `quantum`s.
        pub(crate) fn walk(
            &mut self,
            start: f64,
            quantum: f64,
            p_change: f64,
            sd_quanta: f64,
        ) -> Vec<f64> {
            let mut v = (start / quantum).round() * quantum;
            (0..self.n)
                .map(|_| {
                    if self.rng.random_bool(p_change) {
                        let q = (sd_quanta * self.normal()).round();
                        v = (v + q * quantum).max(0.0);
                    }
                    v
                })
                .collect()
        }

        /// A gauge taking one of `values`, switching with probability
        /// `p_change` per step.
        pub(crate) fn states(&mut self, values: &[f64], p_change: f64) -> Vec<f64> {
            let mut v = values[self.rng.random_range(0..values.len())];
            (0..self.n)
                .map(|_| {
                    if self.rng.random_bool(p_change) {
                        v = values[self.rng.random_range(0..values.len())];
                    }
                    v
                })
                .collect()
        }

        pub(crate) fn constant(&self, v: f64) -> Vec<f64> {
            vec![v; self.n]
        }

        /// Durations measured in ns and reported in seconds, as Go's
        /// `time.Duration.Seconds()`: up to 9 decimals.
        pub(crate) fn durations(&mut self, mean_s: f64) -> Vec<f64> {
            (0..self.n)
                .map(|_| (self.lognormal(mean_s * 1e9, 0.5).round()) / 1e9)
                .collect()
        }

        /// A float with no short decimal form, like a ratio or a time in
        /// seconds with a nanosecond fraction.
        pub(crate) fn arbitrary(&mut self, mean: f64, sd: f64) -> Vec<f64> {
            (0..self.n).map(|_| mean + sd * self.normal()).collect()
        }
    }

    /// A series of one host: name, labels, one value per step.
    pub(crate) type HostSeries = (String, Vec<(String, String)>, Vec<f64>);

    fn lbl(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The series of one host; with `floats`, also the series an exporter
    /// reports as floats without a short decimal form (scrape durations,
    /// `node_time_seconds`, timex).
    pub(crate) fn host(g: &mut Gen, host: usize, floats: bool) -> Vec<HostSeries> {
        let inst = format!("node{host:02}:9100");
        let base = [("instance", inst.as_str()), ("job", "node")];
        let mut out = Vec::new();
        let mut add = |name: &str, extra: &[(&str, &str)], values: Vec<f64>| {
            let mut l = base.to_vec();
            l.extend_from_slice(extra);
            out.push((name.to_string(), lbl(&l), values));
        };
        let util = 0.05 + 0.3 * g.rng.random::<f64>();
        let uptime = 1e5 + 3e6 * g.rng.random::<f64>();
        // CPU seconds: 2 decimals (USER_HZ), 15 s per step split by mode.
        for cpu in 0..4 {
            let c = cpu.to_string();
            let busy = util * (0.5 + g.rng.random::<f64>());
            for (mode, share, p_idle) in [
                ("user", 0.65, 0.0),
                ("system", 0.25, 0.0),
                ("iowait", 0.04, 0.3),
                ("irq", 0.01, 0.7),
                ("softirq", 0.05, 0.2),
                ("nice", 0.001, 0.98),
                ("steal", 0.0001, 0.999),
            ] {
                let v = g.counter(uptime * busy * share, 15.0 * busy * share, 0.6, p_idle, 2);
                add("node_cpu_seconds_total", &[("cpu", &c), ("mode", mode)], v);
            }
            let v = g.counter(uptime * (1.0 - busy), 15.0 * (1.0 - busy), 0.05, 0.0, 2);
            add(
                "node_cpu_seconds_total",
                &[("cpu", &c), ("mode", "idle")],
                v,
            );
            for m in ["user", "nice"] {
                let v = g.constant(0.0);
                add(
                    "node_cpu_guest_seconds_total",
                    &[("cpu", &c), ("mode", m)],
                    v,
                );
            }
            let freqs: Vec<f64> = (8..=36).map(|x| x as f64 * 1e8).collect();
            let v = g.states(&freqs, 0.5);
            add("node_cpu_scaling_frequency_hertz", &[("cpu", &c)], v);
        }
        // Load averages: 2 decimals.
        for (name, sd) in [
            ("node_load1", 0.5),
            ("node_load5", 0.3),
            ("node_load15", 0.2),
        ] {
            let v = g.gauge(4.0 * util, sd, 2);
            add(name, &[], v);
        }
        // Memory: bytes in KiB units; half constant, some busy, some slow.
        let total = (8 + g.rng.random_range(0..8) * 8) as f64 * 1073741824.0;
        for i in 0..40 {
            let name = format!("node_memory_m{i:02}_bytes");
            let start = (total * g.rng.random::<f64>() / 1024.0).round() * 1024.0;
            let v = match i {
                0..20 => g.constant(start),
                20..32 => g.walk(start, 1024.0, 0.9, 300.0),
                _ => g.walk(start, 1024.0, 0.05, 50.0),
            };
            add(&name, &[], v);
        }
        // Network: eth0 busy, lo moderate, docker0 quiet.
        for (dev, bytes) in [("eth0", 2e6), ("lo", 2e5), ("docker0", 2e3)] {
            for dir in ["receive", "transmit"] {
                let v = g.counter(bytes * 4e4, bytes, 0.8, 0.0, 0);
                add(
                    &format!("node_network_{dir}_bytes_total"),
                    &[("device", dev)],
                    v,
                );
                let v = g.counter(bytes / 900.0 * 4e4, bytes / 900.0, 0.6, 0.0, 0);
                add(
                    &format!("node_network_{dir}_packets_total"),
                    &[("device", dev)],
                    v,
                );
                let v = g.counter(3.0, 1.0, 0.1, 0.99, 0);
                add(
                    &format!("node_network_{dir}_drop_total"),
                    &[("device", dev)],
                    v,
                );
                let v = g.counter(0.0, 5.0, 0.5, 0.95, 0);
                add(
                    &format!("node_network_{dir}_multicast_total"),
                    &[("device", dev)],
                    v,
                );
                for c in ["errs", "fifo", "frame", "compressed", "carrier", "colls"] {
                    let v = g.constant(0.0);
                    add(
                        &format!("node_network_{dir}_{c}_total"),
                        &[("device", dev)],
                        v,
                    );
                }
            }
        }
        // Disks: integer counters, time counters with 3 decimals (ms).
        for (dev, busy) in [("nvme0n1", 1.0), ("sda", 0.05)] {
            let d = [("device", dev)];
            let v = g.counter(2e6, 40.0 * busy, 0.9, 0.1, 0);
            add("node_disk_writes_completed_total", &d, v);
            let v = g.counter(5e5, 10.0 * busy, 0.9, 0.3, 0);
            add("node_disk_writes_merged_total", &d, v);
            let v = g.counter(8e10, 4e5 * busy, 1.0, 0.1, 0);
            add("node_disk_written_bytes_total", &d, v);
            let v = g.counter(2e3, 0.05 * busy, 0.9, 0.1, 3);
            add("node_disk_write_time_seconds_total", &d, v);
            let v = g.counter(1e6, 2.0 * busy, 1.2, 0.7, 0);
            add("node_disk_reads_completed_total", &d, v);
            let v = g.counter(1e5, 1.0 * busy, 1.0, 0.9, 0);
            add("node_disk_reads_merged_total", &d, v);
            let v = g.counter(3e10, 6e4 * busy, 1.2, 0.7, 0);
            add("node_disk_read_bytes_total", &d, v);
            let v = g.counter(5e2, 0.01 * busy, 1.0, 0.7, 3);
            add("node_disk_read_time_seconds_total", &d, v);
            let v = g.counter(4e3, 0.08 * busy, 0.8, 0.1, 3);
            add("node_disk_io_time_seconds_total", &d, v);
            let v = g.counter(5e3, 0.1 * busy, 0.9, 0.1, 3);
            add("node_disk_io_time_weighted_seconds_total", &d, v);
            let v = g.states(&[0.0, 0.0, 0.0, 1.0, 2.0], 0.3);
            add("node_disk_io_now", &d, v);
            let v = g.counter(1e4, 0.5 * busy, 0.5, 0.8, 0);
            add("node_disk_flush_requests_total", &d, v);
            for c in ["discards_completed", "discards_merged", "discarded_sectors"] {
                let v = g.constant(0.0);
                add(&format!("node_disk_{c}_total"), &d, v);
            }
        }
        // Filesystems: sizes constant, free space moving in 4 KiB blocks.
        for (mp, fs) in [
            ("/", "ext4"),
            ("/boot", "vfat"),
            ("/var", "xfs"),
            ("/run", "tmpfs"),
        ] {
            let l = [("mountpoint", mp), ("fstype", fs)];
            let size = (1e5 + 5e8 * g.rng.random::<f64>()).round() * 4096.0;
            let free = (size * g.rng.random::<f64>() / 4096.0).round() * 4096.0;
            add("node_filesystem_size_bytes", &l, g.constant(size));
            let v = g.walk(free, 4096.0, 0.3, 100.0);
            add("node_filesystem_free_bytes", &l, v.clone());
            add(
                "node_filesystem_avail_bytes",
                &l,
                v.iter()
                    .map(|f| (f - (0.05 * size).round()).max(0.0))
                    .collect(),
            );
            add(
                "node_filesystem_files",
                &l,
                g.constant((size / 16384.0).round()),
            );
            let v = g.walk(size / 20000.0, 1.0, 0.2, 3.0);
            add("node_filesystem_files_free", &l, v);
            add("node_filesystem_readonly", &l, g.constant(0.0));
            add("node_filesystem_device_error", &l, g.constant(0.0));
        }
        // vmstat and netstat counters, from busy to never moving.
        for i in 0..16 {
            let (inc, p_idle) = [(3e4, 0.0), (50.0, 0.2), (2.0, 0.8), (0.0, 1.0)][i % 4];
            let v = if inc == 0.0 {
                g.constant(0.0)
            } else {
                g.counter(inc * 1e5, inc, 0.7, p_idle, 0)
            };
            add(&format!("node_vmstat_v{i:02}"), &[], v);
        }
        for i in 0..24 {
            let v = match i % 6 {
                0 | 1 => g.counter(1e8, 300.0, 0.6, 0.0, 0),
                2 => g.counter(1e5, 3.0, 0.8, 0.5, 0),
                3 => g.walk(40.0, 1.0, 0.3, 2.0),
                4 => g.constant(0.0),
                _ => g.counter(10.0, 1.0, 0.1, 0.97, 0),
            };
            add(&format!("node_netstat_n{i:02}"), &[], v);
        }
        for i in 0..8 {
            let v = g.walk(20.0 + 100.0 * i as f64, 1.0, 0.4, 2.0);
            add(&format!("node_sockstat_s{i}"), &[], v);
        }
        let v = g.counter(uptime * 3000.0, 45000.0, 0.3, 0.0, 0);
        add("node_context_switches_total", &[], v);
        let v = g.counter(uptime * 2000.0, 30000.0, 0.3, 0.0, 0);
        add("node_intr_total", &[], v);
        let v = g.counter(uptime * 2.0, 30.0, 0.5, 0.05, 0);
        add("node_forks_total", &[], v);
        let v = g.states(&[0.0, 1.0, 1.0, 2.0, 3.0, 4.0], 0.6);
        add("node_procs_running", &[], v);
        let v = g.states(&[0.0, 0.0, 0.0, 1.0], 0.2);
        add("node_procs_blocked", &[], v);
        add(
            "node_boot_time_seconds",
            &[],
            g.constant((1.7e9 - uptime).round()),
        );
        let v = g.walk(3800.0, 1.0, 0.5, 20.0);
        add("node_entropy_available_bits", &[], v);
        // Temperatures: 1 decimal.
        for chip in 0..6 {
            let v = g.gauge(45.0 + 3.0 * chip as f64, 0.6, 1);
            add(
                "node_hwmon_temp_celsius",
                &[("sensor", &format!("temp{chip}"))],
                v,
            );
        }
        // Info-style and status series.
        for name in [
            "up",
            "node_exporter_build_info",
            "node_uname_info",
            "node_os_info",
            "node_dmi_info",
            "node_network_up",
            "node_textfile_scrape_error",
            "node_time_zone_offset_seconds",
        ] {
            add(
                name,
                &[],
                g.constant(if name.ends_with("error") { 0.0 } else { 1.0 }),
            );
        }
        // The exporter's own process.
        let v = g.counter(uptime * 0.02, 0.3, 0.5, 0.0, 2);
        add("process_cpu_seconds_total", &[], v);
        let v = g.walk(2.5e7, 4096.0, 0.8, 200.0);
        add("process_resident_memory_bytes", &[], v);
        let v = g.walk(3e6, 8.0, 1.0, 5000.0);
        add("go_memstats_alloc_bytes", &[], v);
        let v = g.counter(uptime * 5e5, 7e6, 0.3, 0.0, 0);
        add("go_memstats_alloc_bytes_total", &[], v);
        let v = g.states(&[8.0, 9.0, 10.0, 11.0], 0.3);
        add("go_goroutines", &[], v);
        if floats {
            for i in 0..12 {
                let v = g.durations(0.0005 * (1 + i) as f64);
                add(
                    "node_scrape_collector_duration_seconds",
                    &[("collector", &format!("c{i:02}"))],
                    v,
                );
            }
            let ns0 = START_NS as f64;
            let t: Vec<f64> = (0..g.n)
                .map(|i| (ns0 + i as f64 * 15e9 + g.rng.random_range(0.0..2e6)).round() / 1e9)
                .collect();
            add("node_time_seconds", &[], t);
            let v = g.arbitrary(1.0, 1e-5);
            add("node_timex_frequency_adjustment_ratio", &[], v);
            for q in ["0", "0.25", "0.5", "0.75", "1"] {
                let v = g.durations(2e-5);
                add("go_gc_duration_seconds", &[("quantile", q)], v);
            }
        }
        out
    }

    /// `hosts` hosts over `hours` hours at 15 s, each host at its own
    /// offset in the interval; with `jitter`, each scrape up to 2 ms early
    /// or late. The last host restarts 25 minutes before the end.
    pub(crate) fn node_exporter(
        hosts: usize,
        hours: usize,
        floats: bool,
        jitter: bool,
        seed: u64,
    ) -> Vec<Series> {
        let n = hours * 240;
        let mut g = Gen {
            rng: StdRng::seed_from_u64(seed),
            n,
            restart_at: None,
        };
        let mut out = Vec::new();
        for h in 0..hosts {
            g.restart_at = (h + 1 == hosts).then(|| n - 100);
            let offset = g.rng.random_range(2..14_998) as i64 * 1_000_000;
            for (name, labels, values) in host(&mut g, h, floats) {
                let points = values
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let jitter = if jitter {
                            g.rng.random_range(-2..=2) * 1_000_000
                        } else {
                            0
                        };
                        (START_NS + offset + i as i64 * STEP_NS + jitter, v)
                    })
                    .collect();
                out.push(Series {
                    name,
                    labels: labels.clone(),
                    points,
                });
            }
        }
        out
    }
}

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Encoding, LogicalType};
use datafusion::parquet::file::metadata::ParquetMetaDataReader;
use strata_schemas::agg::sample_cmp;
use strata_schemas::{Agg, AggBatchBuilder, Labels, Sample, SampleBatchBuilder, Tier};
use strata_storage::parquet::{self, split_by_value_repr};

const HOSTS: usize = 8;
const HOURS: usize = 2;
const SEED: u64 = 42;

/// The raw tier's batches, one per hour partition, as ingest builds them.
fn raw_batches(series: &[data::Series]) -> Vec<RecordBatch> {
    let mut parts: BTreeMap<i64, SampleBatchBuilder> = BTreeMap::new();
    for s in series {
        let labels = Labels::from_pairs(s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for &(ts, value) in &s.points {
            let part = Tier::Raw.partition_start(ts);
            parts.entry(part).or_default().push(Sample {
                metric_name: s.name.clone(),
                labels: labels.clone(),
                ts_ns: ts,
                value,
            });
        }
    }
    parts.into_values().map(|b| b.finish().unwrap()).collect()
}

/// The batches of an aggregated tier, one per partition: each series'
/// samples aggregated per window, rows in storage order.
fn agg_batches(series: &[data::Series], tier: Tier) -> Vec<RecordBatch> {
    let res = tier.resolution_ns().unwrap();
    let mut sorted: Vec<(&str, Labels, &data::Series)> = series
        .iter()
        .map(|s| {
            let labels = Labels::from_pairs(s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            (s.name.as_str(), labels, s)
        })
        .collect();
    sorted.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut parts: BTreeMap<i64, AggBatchBuilder> = BTreeMap::new();
    for (name, labels, s) in sorted {
        let mut windows: BTreeMap<i64, Vec<(i64, f64)>> = BTreeMap::new();
        for &p in &s.points {
            windows
                .entry(p.0.div_euclid(res) * res)
                .or_default()
                .push(p);
        }
        for (bucket, mut points) in windows {
            points.sort_by(|a, b| sample_cmp(*a, *b));
            let agg = Agg::of_sorted(&points).unwrap();
            parts.entry(tier.partition_start(bucket)).or_default().push(
                name,
                labels.pairs().iter().map(|(k, v)| (k.as_str(), v.as_str())),
                bucket,
                &agg,
            );
        }
    }
    parts.into_values().map(|b| b.finish().unwrap()).collect()
}

/// The raw encoding before value representations: `Float64`
/// byte-stream-split, whatever the values.
fn encode_raw_old(batch: &RecordBatch) -> Vec<u8> {
    let props = parquet::raw_writer_properties(Encoding::BYTE_STREAM_SPLIT);
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
    buf
}

/// Sizes of some Parquet files: compressed bytes per top-level column, the
/// rest (footer, magic) under "(footer)", and each file's stored value
/// type with its row count.
#[derive(Default)]
struct Sizes {
    columns: BTreeMap<String, u64>,
    total: u64,
    files: Vec<(String, String, usize)>,
    encode: Duration,
}

impl Sizes {
    fn add(&mut self, file: &[u8]) {
        let len = file.len();
        let meta_len = u32::from_le_bytes(file[len - 8..len - 4].try_into().unwrap()) as usize;
        let meta =
            ParquetMetaDataReader::decode_metadata(&file[len - 8 - meta_len..len - 8]).unwrap();
        let mut in_columns = 0;
        let mut value = (String::new(), String::new());
        for rg in meta.row_groups() {
            for c in rg.columns() {
                let name = c.column_path().parts()[0].clone();
                *self.columns.entry(name.clone()).or_default() += c.compressed_size() as u64;
                in_columns += c.compressed_size() as u64;
                if name == "value" {
                    let d = c.column_descr();
                    let ty = match d.logical_type_ref() {
                        Some(LogicalType::Decimal(d)) => {
                            format!("Decimal({},{})", d.precision, d.scale)
                        }
                        _ => format!("{}", d.physical_type()),
                    };
                    let enc: Vec<String> = c
                        .encodings()
                        .filter(|e| *e != Encoding::RLE)
                        .map(|e| format!("{e}"))
                        .collect();
                    value = (ty, enc.join("+"));
                }
            }
        }
        *self.columns.entry("(footer)".into()).or_default() += len as u64 - in_columns;
        self.total += len as u64;
        let rows = meta.file_metadata().num_rows() as usize;
        self.files.push((value.0, value.1, rows));
    }
}

fn measure(batches: &[RecordBatch], encode: impl Fn(&RecordBatch) -> Vec<Vec<u8>>) -> Sizes {
    let mut sizes = Sizes::default();
    for b in batches {
        let t = Instant::now();
        let files = encode(b);
        sizes.encode += t.elapsed();
        files.iter().for_each(|f| sizes.add(f));
    }
    sizes
}

fn per_sample(bytes: u64, samples: usize) -> String {
    format!("{:.3}", bytes as f64 / samples as f64)
}

fn raw_report(title: &str, floats: bool, jitter: bool) {
    let series = data::node_exporter(HOSTS, HOURS, floats, jitter, SEED);
    let batches = raw_batches(&series);
    let samples: usize = batches.iter().map(|b| b.num_rows()).sum();
    println!(
        "\n## raw tier, {title}\n{} series, {samples} samples, {} hourly files\n",
        series.len(),
        batches.len()
    );
    let modes = [
        (
            "old: Float64 BSS",
            measure(&batches, |b| vec![encode_raw_old(b)]),
        ),
        (
            "new: encode_raw",
            measure(&batches, |b| vec![parquet::encode_raw(b).unwrap().to_vec()]),
        ),
        (
            "split by value repr",
            measure(&batches, |b| {
                split_by_value_repr(b)
                    .unwrap()
                    .iter()
                    .map(|p| parquet::encode_raw(p).unwrap().to_vec())
                    .collect()
            }),
        ),
    ];
    print!("{:<22}", "bytes/sample");
    for (name, _) in &modes {
        print!("{name:>22}");
    }
    println!();
    let columns = ["metric_name", "labels", "ts", "value", "(footer)"];
    for c in columns {
        print!("{c:<22}");
        for (_, s) in &modes {
            print!(
                "{:>22}",
                per_sample(s.columns.get(c).copied().unwrap_or(0), samples)
            );
        }
        println!();
    }
    print!("{:<22}", "total");
    for (_, s) in &modes {
        print!("{:>22}", per_sample(s.total, samples));
    }
    println!();
    print!("{:<22}", "encode ms per hour");
    for (_, s) in &modes {
        print!("{:>22}", s.encode.as_millis() / batches.len() as u128);
    }
    println!("\n");
    for (name, s) in &modes[1..] {
        println!("{name}: value column of each file");
        for (ty, enc, rows) in &s.files {
            println!("  {rows:>8} rows  {ty:<40} {enc}");
        }
    }
}

fn tiers_report() {
    let series = data::node_exporter(HOSTS, HOURS, false, false, SEED);
    let raw = raw_batches(&series);
    let samples: usize = raw.iter().map(|b| b.num_rows()).sum();
    let raw = measure(&raw, |b| vec![parquet::encode_raw(b).unwrap().to_vec()]);
    let tier = |t: Tier| {
        let batches = agg_batches(&series, t);
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let sizes = measure(&batches, |b| vec![parquet::encode(t, b).unwrap().to_vec()]);
        (rows, sizes)
    };
    let (m_rows, minute) = tier(Tier::Minute);
    let (h_rows, hour) = tier(Tier::Hour);
    println!("\n## tiers from the same samples (node-exporter-like mix)\n");
    println!(
        "{:<12}{:>10}{:>12}{:>14}{:>12}",
        "tier", "rows", "bytes", "bytes/row", "vs raw"
    );
    for (name, rows, s) in [
        ("raw", samples, &raw),
        ("1m", m_rows, &minute),
        ("1h", h_rows, &hour),
    ] {
        println!(
            "{name:<12}{rows:>10}{:>12}{:>14}{:>11.1}%",
            s.total,
            per_sample(s.total, rows),
            100.0 * s.total as f64 / raw.total as f64
        );
    }
    for (name, rows, s) in [("1m", m_rows, &minute), ("1h", h_rows, &hour)] {
        let cols: Vec<String> = s
            .columns
            .iter()
            .map(|(c, b)| format!("{c} {}", per_sample(*b, rows)))
            .collect();
        println!("{name} bytes/row by column: {}", cols.join(", "));
    }
    println!(
        "\nraw : 1m : 1h = 1 : {:.3} : {:.4}",
        minute.total as f64 / raw.total as f64,
        hour.total as f64 / raw.total as f64
    );
}

fn main() {
    // `cargo test --benches` passes no `--bench`: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    raw_report(
        "node-exporter-like mix, timestamps on the 15 s grid",
        false,
        false,
    );
    raw_report("same, each scrape up to 2 ms early or late", false, true);
    raw_report(
        "same (on the grid) + the exporter's float series \
         (scrape durations, node_time_seconds, timex)",
        true,
        false,
    );
    tiers_report();
}
