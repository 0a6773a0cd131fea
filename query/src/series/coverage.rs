//! Which tier holds which part of a time range: how far `1m` and `1h` are
//! complete, and the split of a range into [`Segment`]s read from
//! different tiers.
//!
//! - `1m` is complete before the smallest `closed_before_ns` of the log's
//!   window marks: every ingest process has written every window ending
//!   before it (ingest commits a window's row with the raw rows that fed
//!   it). With no marks at all (no ingest with windows has committed, or
//!   all sources were retired) no window is still open anywhere, and `1m`
//!   counts as complete up to its newest row.
//! - An hour `H` is complete in `1h` when every minute of it is complete
//!   in `1m` and its `1h` file is the rollup of the hour's *current* `1m`
//!   files: one file with `min_ts_ns = H` whose `derived_from` is
//!   [`rollup_digest`] of them. A rollup that lags (it rolled the hour up
//!   while minutes were still open, or before a late correction or a
//!   compaction changed the hour's `1m` files) leaves a *stale* hour, read
//!   from `1m` instead. An hour without `1m` files (retention dropped them
//!   once the rollup matched, or the hour holds no data) is read from `1h`.

use std::collections::{BTreeMap, BTreeSet};

use strata_schemas::Tier;
use strata_schemas::tier::{HOUR_NS, MINUTE_NS};
use strata_storage::{DataFile, Snapshot};
use xxhash_rust::xxh3::xxh3_128;

/// Resolution of a tier's rows in nanoseconds (0: raw samples).
pub fn resolution_ns(tier: Tier) -> i64 {
    tier.resolution_ns().unwrap_or(0)
}

/// A part of a range read from one tier: `[from_ns, to_ns)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The tier read.
    pub tier: Tier,
    /// Start, inclusive.
    pub from_ns: i64,
    /// End, exclusive.
    pub to_ns: i64,
}

/// How far each aggregated tier is complete (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Coverage {
    /// `1m` is complete before this time.
    pub minute_ns: Option<i64>,
    /// `1h` is complete before this hour boundary, but for `stale_hours`.
    pub hour_ns: Option<i64>,
    /// Starts of hours before `hour_ns` whose `1h` file is missing or not
    /// the rollup of their current `1m` files: read from `1m`.
    pub stale_hours: BTreeSet<i64>,
}

/// How far the aggregated tiers are complete in `snapshot`.
pub fn coverage(snapshot: &Snapshot) -> Coverage {
    let minute_ns = snapshot
        .windows
        .values()
        .flat_map(|p| p.values())
        .map(|m| m.closed_before_ns)
        .min()
        .or_else(|| {
            snapshot
                .files_of(Tier::Minute.dir())
                .map(|f| f.max_ts_ns.div_euclid(MINUTE_NS) * MINUTE_NS + MINUTE_NS)
                .max()
        });
    let Some(minute_ns) = minute_ns else {
        return Coverage::default();
    };
    let hour_ns = minute_ns.div_euclid(HOUR_NS) * HOUR_NS;
    let mut minutes: BTreeMap<i64, Vec<DataFile>> = BTreeMap::new();
    for f in snapshot.files_of(Tier::Minute.dir()) {
        if f.partition_start_ns < hour_ns {
            minutes
                .entry(f.partition_start_ns)
                .or_default()
                .push(f.clone());
        }
    }
    let mut hours: BTreeMap<i64, Vec<&DataFile>> = BTreeMap::new();
    for f in snapshot.files_of(Tier::Hour.dir()) {
        hours.entry(f.min_ts_ns).or_default().push(f);
    }
    let stale_hours = minutes
        .into_iter()
        .filter(|(hour, files)| {
            let digest = rollup_digest(files);
            let current = match hours.get(hour).map(Vec::as_slice) {
                Some([only]) => {
                    only.max_ts_ns == *hour && only.derived_from.as_deref() == Some(&digest)
                }
                _ => false,
            };
            !current
        })
        .map(|(hour, _)| hour)
        .collect();
    Coverage {
        minute_ns: Some(minute_ns),
        hour_ns: Some(hour_ns),
        stale_hours,
    }
}

/// The digest of the sorted paths of `files` that a `1h` file records in
/// `derived_from`: the `1m` files it was rolled up from. The rollup
/// (`strata_maintain::rollup`) writes it and the series API compares it,
/// so both use this one definition.
pub fn rollup_digest(files: &[DataFile]) -> String {
    let mut paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    paths.sort_unstable();
    let mut text = String::new();
    for p in paths {
        text.push_str(p);
        text.push('\n');
    }
    format!("xxh3-128:{:032x}", xxh3_128(text.as_bytes()))
}

/// Splits `[from_ns, to_ns)` into segments: `tier` where it is complete
/// (stale hours of `1h` from `1m`), then each finer tier up to where it is
/// complete, raw for the rest. Adjacent segments of one tier are joined.
///
/// `from_ns` must fall on a window of `tier` (callers align it); segment
/// boundaries then fall on the windows of the tiers on both sides.
pub fn segments(tier: Tier, from_ns: i64, to_ns: i64, cov: &Coverage) -> Vec<Segment> {
    debug_assert_eq!(from_ns.rem_euclid(resolution_ns(tier).max(1)), 0);
    let mut out: Vec<Segment> = Vec::new();
    let mut push = |tier: Tier, from_ns: i64, to_ns: i64| {
        if to_ns <= from_ns {
            return;
        }
        match out.last_mut() {
            Some(last) if last.tier == tier && last.to_ns == from_ns => last.to_ns = to_ns,
            _ => out.push(Segment {
                tier,
                from_ns,
                to_ns,
            }),
        }
    };
    let mut at = from_ns;
    if tier == Tier::Hour
        && let Some(hour_ns) = cov.hour_ns
    {
        let end = hour_ns.min(to_ns);
        let mut stale = cov.stale_hours.range(at..end.max(at)).copied().peekable();
        while at < end {
            match stale.peek().copied() {
                Some(h) if h == at => {
                    let mut next = at;
                    while stale.peek() == Some(&next) {
                        stale.next();
                        next += HOUR_NS;
                    }
                    let next = next.min(end);
                    push(Tier::Minute, at, next);
                    at = next;
                }
                Some(h) => {
                    push(Tier::Hour, at, h);
                    at = h;
                }
                None => {
                    push(Tier::Hour, at, end);
                    at = end;
                }
            }
        }
    }
    if tier != Tier::Raw
        && let Some(minute_ns) = cov.minute_ns
    {
        // Whole windows only.
        let end = (minute_ns.div_euclid(MINUTE_NS) * MINUTE_NS).min(to_ns);
        if end > at {
            push(Tier::Minute, at, end);
            at = end;
        }
    }
    push(Tier::Raw, at, to_ns);
    out
}

#[cfg(test)]
mod tests {
    use strata_storage::WindowMark;

    use super::*;

    fn file(tier: Tier, name: &str, min_ts_ns: i64, max_ts_ns: i64) -> DataFile {
        DataFile {
            path: format!("{}/{name}.parquet", tier.dir()),
            tier: tier.dir().into(),
            partition_start_ns: tier.partition_start(min_ts_ns),
            min_ts_ns,
            max_ts_ns,
            min_metric: "m".into(),
            max_metric: "m".into(),
            rows: 1,
            bytes: 1,
            derived_from: None,
        }
    }

    fn rollup(hour: i64, of: &[&DataFile]) -> DataFile {
        let of: Vec<DataFile> = of.iter().map(|f| (*f).clone()).collect();
        DataFile {
            derived_from: Some(rollup_digest(&of)),
            ..file(Tier::Hour, &format!("h{hour}"), hour, hour)
        }
    }

    #[test]
    fn hours_count_when_their_rollup_is_current_and_complete() {
        let h = HOUR_NS;
        let m =
            |hour: i64, name: &str| file(Tier::Minute, name, hour * h, hour * h + 59 * MINUTE_NS);
        let (m0, m1, m1b, m2, m3, m4, m5) = (
            m(0, "a"),
            m(1, "b"),
            m(1, "c"),
            m(2, "d"),
            m(3, "e"),
            m(4, "f"),
            m(5, "g"),
        );
        let files = [
            m0.clone(),
            rollup(0, &[&m0]),
            // A correction after the rollup.
            m1.clone(),
            m1b.clone(),
            rollup(h, &[&m1]),
            // Never rolled up.
            m2.clone(),
            // Rolled up, then the minutes dropped by retention: no m3.
            rollup(3 * h, &[&m3]),
            // Minutes, and a 1h file of several hours that is no rollup.
            m4.clone(),
            file(Tier::Hour, "other", 4 * h, 8 * h),
            // The open hour, rolled up from its closed minutes.
            m5.clone(),
            rollup(5 * h, &[&m5]),
        ];
        let mut snapshot = Snapshot {
            files: files.into_iter().map(|f| (f.path.clone(), f)).collect(),
            ..Default::default()
        };
        let mark = |closed_before_ns| WindowMark {
            replay_from: 0,
            closed_before_ns,
        };
        snapshot.windows.insert(
            "a/metrics".into(),
            [(0, mark(5 * h + 30 * MINUTE_NS)), (1, mark(6 * h))].into(),
        );
        let cov = coverage(&snapshot);
        assert_eq!(cov.minute_ns, Some(5 * h + 30 * MINUTE_NS));
        assert_eq!(cov.hour_ns, Some(5 * h));
        assert_eq!(cov.stale_hours, [h, 2 * h, 4 * h].into());

        // Without marks, 1m is complete up to its newest window.
        snapshot.windows.clear();
        let cov = coverage(&snapshot);
        assert_eq!(cov.minute_ns, Some(5 * h + 60 * MINUTE_NS));
        assert_eq!(cov.hour_ns, Some(6 * h));
        assert_eq!(cov.stale_hours, [h, 2 * h, 4 * h].into());
        assert_eq!(coverage(&Snapshot::default()), Coverage::default());
    }

    fn seg(tier: Tier, from_ns: i64, to_ns: i64) -> Segment {
        Segment {
            tier,
            from_ns,
            to_ns,
        }
    }

    #[test]
    fn the_newest_part_comes_from_finer_tiers() {
        let day = 24 * HOUR_NS;
        let cov = Coverage {
            minute_ns: Some(day - 90_000_000_000),
            hour_ns: Some(day - 2 * HOUR_NS),
            stale_hours: BTreeSet::new(),
        };
        assert_eq!(
            segments(Tier::Hour, 0, day, &cov),
            [
                seg(Tier::Hour, 0, day - 2 * HOUR_NS),
                seg(Tier::Minute, day - 2 * HOUR_NS, day - 2 * MINUTE_NS),
                seg(Tier::Raw, day - 2 * MINUTE_NS, day),
            ]
        );
        assert_eq!(
            segments(Tier::Minute, HOUR_NS, day, &cov),
            [
                seg(Tier::Minute, HOUR_NS, day - 2 * MINUTE_NS),
                seg(Tier::Raw, day - 2 * MINUTE_NS, day),
            ]
        );
        // Nothing aggregated yet: all raw.
        assert_eq!(
            segments(Tier::Minute, 0, day, &Coverage::default()),
            [seg(Tier::Raw, 0, day)]
        );
        // A range inside the complete part reads one tier.
        assert_eq!(
            segments(Tier::Hour, HOUR_NS, 3 * HOUR_NS, &cov),
            [seg(Tier::Hour, HOUR_NS, 3 * HOUR_NS)]
        );
    }

    #[test]
    fn stale_hours_come_from_the_minute_tier() {
        let h = HOUR_NS;
        let cov = Coverage {
            minute_ns: Some(10 * h + 5 * MINUTE_NS),
            hour_ns: Some(10 * h),
            stale_hours: [2 * h, 3 * h, 5 * h, 9 * h].into(),
        };
        assert_eq!(
            segments(Tier::Hour, h, 11 * h, &cov),
            [
                seg(Tier::Hour, h, 2 * h),
                seg(Tier::Minute, 2 * h, 4 * h),
                seg(Tier::Hour, 4 * h, 5 * h),
                seg(Tier::Minute, 5 * h, 6 * h),
                seg(Tier::Hour, 6 * h, 9 * h),
                // The stale hour and the hour still open join.
                seg(Tier::Minute, 9 * h, 10 * h + 5 * MINUTE_NS),
                seg(Tier::Raw, 10 * h + 5 * MINUTE_NS, 11 * h),
            ]
        );
        // A range ending inside a stale run.
        assert_eq!(
            segments(Tier::Hour, 3 * h, 4 * h, &cov),
            [seg(Tier::Minute, 3 * h, 4 * h)]
        );
    }
}
