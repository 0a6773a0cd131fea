//! The maintenance schedule: compaction, rollup, retention and GC, one
//! after the other, every interval, in the background of a long-running
//! process (`strata ingest`, `strata up`).
//!
//! Each pass runs compact → rollup → retention → GC in that order:
//! compaction repairs the 1m rows rollup reads, rollup writes the 1h hours
//! retention waits for, and GC deletes what the others removed from the
//! log (after its grace period). A failing step is logged at `warn` and
//! the pass goes on; the next pass retries. All steps commit through the
//! log's optimistic concurrency, so a pass racing ingest or another
//! process's pass costs at most a retried commit.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use strata_storage::TableLog;
use tokio::time::MissedTickBehavior;

use crate::Result;
use crate::compact::{self, CompactOptions, CompactReport};
use crate::gc::{Gc, GcOptions, GcReport};
use crate::retention::{self, RetentionPolicy, RetentionReport};
use crate::rollup::{self, RollupOptions, RollupReport};

/// What the schedule runs and how often.
#[derive(Debug, Clone)]
pub struct MaintenanceOptions {
    /// Time between the starts of two passes (a pass longer than this
    /// delays the next); zero disables [`run_periodically`].
    pub interval: Duration,
    /// How compaction merges files.
    pub compact: CompactOptions,
    /// How rollup derives the 1h tier.
    pub rollup: RollupOptions,
    /// How long each tier keeps its data.
    pub retention: RetentionPolicy,
    /// When unreferenced objects may be deleted.
    pub gc: GcOptions,
}

impl Default for MaintenanceOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
            compact: CompactOptions::default(),
            rollup: RollupOptions::default(),
            retention: RetentionPolicy::default(),
            gc: GcOptions::default(),
        }
    }
}

/// What one pass did, step by step.
#[derive(Debug)]
pub struct PassReport {
    /// Compaction.
    pub compact: Result<CompactReport>,
    /// Rollup of the 1h tier.
    pub rollup: Result<RollupReport>,
    /// Retention, applied.
    pub retention: Result<RetentionReport>,
    /// Garbage collection.
    pub gc: Result<GcReport>,
}

impl PassReport {
    /// Whether any step changed the store.
    pub fn changed(&self) -> bool {
        self.compact.as_ref().is_ok_and(|r| r.changed())
            || self.rollup.as_ref().is_ok_and(|r| r.changed())
            || self.retention.as_ref().is_ok_and(|r| r.changed())
            || self.gc.as_ref().is_ok_and(|r| r.changed())
    }

    /// Logs the pass: one `info` line when it changed something (`debug`
    /// otherwise), one `warn` line per failed step.
    pub fn log(&self) {
        fn summary<T: std::fmt::Display>(r: &Result<T>) -> String {
            match r {
                Ok(r) => r.to_string(),
                Err(_) => "failed".into(),
            }
        }
        for (step, err) in [
            ("compact", self.compact.as_ref().err()),
            ("rollup", self.rollup.as_ref().err()),
            ("retention", self.retention.as_ref().err()),
            ("gc", self.gc.as_ref().err()),
        ] {
            if let Some(e) = err {
                tracing::warn!(step, error = %e, "maintenance step failed; retried next pass");
            }
        }
        let (compact, rollup) = (summary(&self.compact), summary(&self.rollup));
        let (retention, gc) = (summary(&self.retention), summary(&self.gc));
        if self.changed() {
            tracing::info!(
                "maintenance: compact: {compact}; rollup: {rollup}; retention: {retention}; gc: {gc}"
            );
        } else {
            tracing::debug!(
                "maintenance: compact: {compact}; rollup: {rollup}; retention: {retention}; gc: {gc}"
            );
        }
    }
}

/// The schedule's state between passes.
#[derive(Debug)]
pub struct Maintenance {
    log: Arc<TableLog>,
    opts: MaintenanceOptions,
    gc: Gc,
    /// Partitions already reported as held back, so each is logged once.
    held_back: BTreeSet<String>,
}

impl Maintenance {
    /// A schedule over `log`.
    pub fn new(log: Arc<TableLog>, opts: MaintenanceOptions) -> Self {
        let gc = Gc::new(opts.gc);
        Self {
            log,
            opts,
            gc,
            held_back: BTreeSet::new(),
        }
    }

    /// Runs one pass: compact → rollup → retention → GC, each step
    /// whatever the previous ones returned.
    pub async fn run_once(&mut self) -> PassReport {
        let compact = compact::compact(&self.log, &self.opts.compact).await;
        let rollup = rollup::rollup(&self.log, &self.opts.rollup).await;
        let retention = self.retention().await;
        let gc = self.gc.run(&self.log).await;
        PassReport {
            compact,
            rollup,
            retention,
            gc,
        }
    }

    async fn retention(&mut self) -> Result<RetentionReport> {
        let plan = retention::plan_for(&self.log, &self.opts.retention, SystemTime::now()).await?;
        // Newly held-back partitions, one line per verdict: a store may
        // hold many (e.g. raw hours from before the 1m tier existed).
        let mut held_now = BTreeSet::new();
        let mut new: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in plan.iter().filter(|e| !e.expires()) {
            let dir = e.partition_dir();
            if !self.held_back.contains(&dir) {
                new.entry(e.verdict.to_string())
                    .or_default()
                    .push(dir.clone());
            }
            held_now.insert(dir);
        }
        for (verdict, dirs) in new {
            let (first, last) = (&dirs[0], &dirs[dirs.len() - 1]);
            match dirs.len() {
                1 => tracing::info!(partition = %first, "retention {verdict}"),
                n => tracing::info!(partitions = n, %first, %last, "retention {verdict}"),
            }
        }
        self.held_back = held_now;
        retention::apply(&self.log, &plan).await
    }
}

/// Runs a maintenance pass every `opts.interval`, the first one interval
/// after the call, until `shutdown` completes (which also abandons a pass under way: every
/// step is safe to stop at any point). A zero interval disables the
/// schedule: this returns at once.
pub async fn run_periodically(
    log: Arc<TableLog>,
    opts: MaintenanceOptions,
    shutdown: impl Future<Output = ()>,
) {
    let interval = opts.interval;
    if interval.is_zero() {
        return;
    }
    let mut maintenance = Maintenance::new(log, opts);
    // The first pass one interval after start: a process starting up
    // (ingest catching up) is left alone, and so is a short-lived one.
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    tracing::info!(
        interval_secs = interval.as_secs_f64(),
        "maintenance scheduled"
    );
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {}
        }
        tokio::select! {
            _ = &mut shutdown => return,
            pass = maintenance.run_once() => pass.log(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_storage::Store;

    #[tokio::test]
    async fn a_pass_on_an_empty_store_changes_nothing_and_shutdown_stops_the_schedule() {
        let log = Arc::new(
            TableLog::open(Store::open("memory://").unwrap())
                .await
                .unwrap(),
        );
        let mut m = Maintenance::new(Arc::clone(&log), MaintenanceOptions::default());
        let pass = m.run_once().await;
        assert!(pass.compact.is_ok() && pass.rollup.is_ok());
        assert!(pass.retention.is_ok() && pass.gc.is_ok());
        assert!(!pass.changed());

        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let schedule = tokio::spawn(run_periodically(
            Arc::clone(&log),
            MaintenanceOptions::default(),
            async move {
                let _ = stopped.await;
            },
        ));
        stop.send(()).unwrap();
        schedule.await.unwrap();

        let disabled = MaintenanceOptions {
            interval: Duration::ZERO,
            ..Default::default()
        };
        run_periodically(log, disabled, std::future::pending()).await;
    }
}
