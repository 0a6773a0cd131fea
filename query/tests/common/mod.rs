//! A store in a temporary directory with hourly raw files, for the query
//! tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use strata_query::QueryEngine;
use strata_schemas::{Labels, Sample, SampleBatchBuilder, Tier};
use strata_storage::{Commit, CommitOutcome, DataFile, Store, TableLog, layout};

/// One hour in nanoseconds.
pub const HOUR: i64 = 3_600_000_000_000;
/// 2023-11-14T22:00:00Z, the start of the first hourly file.
pub const T0: i64 = 1_699_999_200_000_000_000;

/// A store on disk and its log.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub log: Arc<TableLog>,
}

impl Fixture {
    /// An empty store.
    pub async fn empty() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("file://{}", dir.path().display())).unwrap();
        let log = Arc::new(TableLog::open(store).await.unwrap());
        Self { dir, log }
    }

    /// A store with three hourly files starting at [`T0`]: see
    /// [`hour_samples`].
    pub async fn with_hours() -> Self {
        let f = Self::empty().await;
        for h in 0..3 {
            f.add_file(hour_samples(h)).await;
        }
        f
    }

    /// A query engine over the store.
    pub fn engine(&self) -> QueryEngine {
        QueryEngine::new(Arc::clone(&self.log)).unwrap()
    }

    /// Writes `samples` as one raw file, without committing it.
    pub async fn write_file(&self, samples: Vec<Sample>) -> DataFile {
        let min_ts = samples.iter().map(|s| s.ts_ns).min().unwrap();
        let max_ts = samples.iter().map(|s| s.ts_ns).max().unwrap();
        let min_metric = samples.iter().map(|s| s.metric_name.clone()).min().unwrap();
        let max_metric = samples.iter().map(|s| s.metric_name.clone()).max().unwrap();
        let rows = samples.len() as u64;
        let mut builder = SampleBatchBuilder::new();
        samples.into_iter().for_each(|s| builder.push(s));
        let bytes = strata_storage::parquet::encode_raw(&builder.finish().unwrap()).unwrap();
        let start = layout::partition_start(min_ts);
        let path = layout::new_data_file(&layout::partition_dir(Tier::Raw, start));
        let size = bytes.len() as u64;
        self.log
            .store()
            .put_durable(&path, bytes, true)
            .await
            .unwrap();
        DataFile {
            path: path.to_string(),
            tier: Tier::Raw.dir().to_string(),
            partition_start_ns: start,
            min_ts_ns: min_ts,
            max_ts_ns: max_ts,
            min_metric,
            max_metric,
            rows,
            bytes: size,
            derived_from: None,
        }
    }

    /// Writes `samples` as one raw file and commits it.
    pub async fn add_file(&self, samples: Vec<Sample>) -> DataFile {
        let file = self.write_file(samples).await;
        let outcome = self
            .log
            .commit(Commit {
                add: vec![file.clone()],
                writer: "query tests".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(
            matches!(outcome, CommitOutcome::Committed { .. }),
            "{outcome:?}"
        );
        file
    }
}

/// One sample.
pub fn sample(metric: &str, host: &str, ts_ns: i64, value: f64) -> Sample {
    Sample {
        metric_name: metric.into(),
        labels: Labels::from_pairs([("host", host)]),
        ts_ns,
        value,
    }
}

/// Hour `h` after [`T0`]: `cpu.load` of hosts `web01` and `web02`, ten
/// samples each a minute apart, valued `10 h + i`; hour 2 also has five
/// `mem.used` samples of `web01` valued 1.
pub fn hour_samples(h: i64) -> Vec<Sample> {
    let mut out = Vec::new();
    for host in ["web01", "web02"] {
        for i in 0..10 {
            let ts = T0 + h * HOUR + i * 60_000_000_000;
            out.push(sample("cpu.load", host, ts, (10 * h + i) as f64));
        }
    }
    if h == 2 {
        for i in 0..5 {
            out.push(sample(
                "mem.used",
                "web01",
                T0 + h * HOUR + i * 1_000_000_000,
                1.0,
            ));
        }
    }
    out
}

/// A seeded generator (SplitMix64), so that failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
