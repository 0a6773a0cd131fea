//! `strata compact`: compaction, then rollup of the 1h tier, once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::{DateTime, Utc};
use strata_maintain::compact::{self, CompactOptions};
use strata_maintain::rollup::{self, RollupOptions};
use strata_schemas::Tier;
use strata_storage::Snapshot;

use crate::cli::StoreArgs;

pub(crate) async fn run(
    store: StoreArgs,
    closed_before: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    let log = super::open_log(&store.store).await?;
    let before = tier_stats(&*log.snapshot().await?);

    let started = Instant::now();
    eprintln!("compacting {} …", store.store);
    let compacted = compact::compact(&log, &CompactOptions::default()).await?;
    println!("compact: {compacted} ({:.1?})", started.elapsed());

    let started = Instant::now();
    eprintln!("rolling the 1h tier up …");
    let mut opts = RollupOptions::default();
    if let Some(t) = closed_before {
        opts.closed_before_ns = Some(t.timestamp_nanos_opt().unwrap_or(i64::MAX));
    }
    let rolled = rollup::rollup(&log, &opts).await?;
    println!("rollup: {rolled} ({:.1?})", started.elapsed());

    let after = tier_stats(&*log.snapshot().await?);
    for tier in Tier::ALL {
        let (b, a) = (before.get(&tier), after.get(&tier));
        let (bf, af) = (b.map_or(0, |s| s.files), a.map_or(0, |s| s.files));
        let (bb, ab) = (b.map_or(0, |s| s.bytes), a.map_or(0, |s| s.bytes));
        let parts = a.map_or(0, |s| s.partitions.len());
        println!(
            "{:<4} {bf:>7} → {af:>7} files, {bb:>14} → {ab:>14} bytes, {parts} partitions",
            tier.dir()
        );
    }
    Ok(())
}

#[derive(Default)]
struct TierStats {
    files: usize,
    bytes: u64,
    partitions: BTreeSet<i64>,
}

fn tier_stats(snapshot: &Snapshot) -> BTreeMap<Tier, TierStats> {
    let mut out: BTreeMap<Tier, TierStats> = BTreeMap::new();
    for f in snapshot.files.values() {
        if let Some(tier) = Tier::from_dir(&f.tier) {
            let s = out.entry(tier).or_default();
            s.files += 1;
            s.bytes += f.bytes;
            s.partitions.insert(f.partition_start_ns);
        }
    }
    out
}
