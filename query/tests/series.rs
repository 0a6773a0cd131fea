//! The series endpoint and the metadata endpoints over stores holding all
//! three tiers: random counters and gauges over a few days, written as
//! raw, 1m and 1h files the way ingest and the rollup write them, with the
//! tiers complete to different points (open windows, hours whose rollup
//! lags or is missing). Every answer is compared with the same aggregation
//! computed here, sample by sample, from the raw samples ([`oracle`]).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{Fixture, HOUR, Rng, T0};
use strata_query::series::{
    LabelMatch, LabelPairs, MAX_POINTS, SeriesAgg, SeriesPoints, SeriesRequest, coverage, query,
    rollup_digest, segments,
};
use strata_query::{QueryEngine, QueryOptions};
use strata_schemas::agg::{counter_delta, sample_cmp};
use strata_schemas::tier::MINUTE_NS;
use strata_schemas::{Agg, AggBatchBuilder, Labels, Sample, Tier};
use strata_storage::{Commit, CommitOutcome, DataFile, OffsetRange, TableLog, WindowMark, layout};

const MINUTE: i64 = MINUTE_NS;
const SECOND: i64 = 1_000_000_000;
/// 2023-11-14T00:00:00Z.
const D0: i64 = T0 - 22 * HOUR;

/// Metric name and label pairs.
type Series = (String, LabelPairs);

fn floor(t: i64, unit: i64) -> i64 {
    t.div_euclid(unit) * unit
}

fn pairs(p: &[(&str, &str)]) -> LabelPairs {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A number in `[0, 1)`.
fn unit(rng: &mut Rng) -> f64 {
    (rng.next() >> 11) as f64 / (1u64 << 53) as f64
}

/// Six counters `http.requests{code, host}` with resets, flat stretches
/// and duplicate timestamps, and three gauges `cpu.load{host}` (one with a
/// `dc` label too), sampled every 10–50 s with gaps of minutes now and
/// then, from [`D0`] for `hours` hours and 37.5 minutes. Sorted by
/// [`sample_cmp`].
fn generate(seed: u64, hours: i64) -> BTreeMap<Series, Vec<(i64, f64)>> {
    let mut rng = Rng(seed);
    let end = D0 + hours * HOUR + 37 * MINUTE + 30 * SECOND;
    let mut series = Vec::new();
    for host in ["web01", "web02", "web03"] {
        for code in ["200", "500"] {
            series.push(("http.requests", pairs(&[("code", code), ("host", host)])));
        }
    }
    series.push(("cpu.load", pairs(&[("host", "web01")])));
    series.push(("cpu.load", pairs(&[("host", "web02")])));
    series.push(("cpu.load", pairs(&[("dc", "eu"), ("host", "web03")])));
    let mut data = BTreeMap::new();
    for (metric, labels) in series {
        let counter = metric == "http.requests";
        let mut ts = D0 + rng.below(30_000) as i64 * 1_000_000;
        let mut value = rng.below(1000) as f64;
        let mut points = Vec::new();
        while ts < end {
            value = match (counter, rng.below(300)) {
                (false, _) => 1.0 + 99.0 * unit(&mut rng),
                (true, 0..2) => 5.0 * unit(&mut rng), // a reset
                (true, 2..17) => value,
                (true, _) => value + 1.0 + 20.0 * unit(&mut rng),
            };
            points.push((ts, value));
            ts += match rng.below(100) {
                0 => 0, // the same time again
                1 | 2 => (120 + rng.below(18 * 60) as i64) * SECOND,
                _ => (10 + rng.below(40) as i64) * SECOND + rng.below(1000) as i64 * 1_000_000,
            };
        }
        points.sort_by(|a, b| sample_cmp(*a, *b));
        data.insert((metric.to_string(), labels), points);
    }
    data
}

/// The samples of closed windows by series and bucket.
type Windows = BTreeMap<(Series, i64), Vec<(i64, f64)>>;

/// A store holding [`generate`]'s samples in all tiers.
struct TierStore {
    f: Fixture,
    data: BTreeMap<Series, Vec<(i64, f64)>>,
    /// The newest sample's time.
    last_ts: i64,
    /// The window mark: `1m` holds every window ending by then.
    closed_before: i64,
    /// Hours whose `1h` file is not the rollup of their current `1m`
    /// files.
    stale: Vec<i64>,
}

impl TierStore {
    /// Raw files per hour; `1m` files of every window ending by the mark
    /// (two minutes before the newest sample), every third hour with each
    /// window in two parts in two files; `1h` files of every hour holding
    /// closed windows, except that:
    /// - the hour 30 h after [`D0`] got a late correction (a second `1m`
    ///   file) after its rollup: its `1h` file misses 20 minutes;
    /// - the hour 50 h after [`D0`] was never rolled up;
    /// - the last complete hour was rolled up while 20 of its minutes
    ///   were still open (the rollup lags);
    /// - the hour still open was rolled up from its closed minutes so far:
    ///   its `1h` file is current, but the hour is not complete.
    async fn build(seed: u64, hours: i64) -> Self {
        Self::build_with(seed, hours, |_| Vec::new()).await
    }

    /// As [`TierStore::build`], with the samples `extra` returns given the
    /// newest generated sample's time.
    async fn build_with(
        seed: u64,
        hours: i64,
        extra: impl FnOnce(i64) -> Vec<(Series, i64, f64)>,
    ) -> Self {
        let f = Fixture::empty().await;
        let mut data = generate(seed, hours);
        let last_ts = data.values().flatten().map(|p| p.0).max().unwrap();
        for (series, ts, v) in extra(last_ts) {
            data.entry(series).or_default().push((ts, v));
        }
        let closed_before = floor(last_ts, MINUTE) - MINUTE;
        let open_hour = floor(closed_before, HOUR);
        let mut stale = vec![open_hour - HOUR];
        stale.extend(
            [30, 50]
                .map(|h| D0 + h * HOUR)
                .into_iter()
                .filter(|&h| h < open_hour),
        );
        stale.sort();
        let late = D0 + 30 * HOUR;
        let lagging = open_hour - HOUR;

        let mut raw: BTreeMap<i64, Vec<Sample>> = BTreeMap::new();
        // Windows by hour, then series and bucket.
        let mut windows: BTreeMap<i64, Windows> = BTreeMap::new();
        for ((metric, labels), points) in &data {
            for &(ts, value) in points {
                raw.entry(floor(ts, HOUR)).or_default().push(Sample {
                    metric_name: metric.clone(),
                    labels: Labels::from_pairs(labels.clone()),
                    ts_ns: ts,
                    value,
                });
                let bucket = floor(ts, MINUTE);
                if bucket + MINUTE <= closed_before {
                    windows
                        .entry(floor(ts, HOUR))
                        .or_default()
                        .entry(((metric.clone(), labels.clone()), bucket))
                        .or_default()
                        .push((ts, value));
                }
            }
        }
        for samples in raw.into_values() {
            f.add_file(samples).await;
        }
        for (hour, windows) in windows {
            let split = hour == late || hour == lagging;
            let rows = |keep: &dyn Fn(i64) -> bool| -> Vec<(Series, i64, Agg)> {
                windows
                    .iter()
                    .filter(|((_, b), _)| keep(*b))
                    .map(|((s, b), p)| (s.clone(), *b, Agg::of_sorted(p).unwrap()))
                    .collect()
            };
            let first_part = |b: i64| !split || b < hour + 40 * MINUTE;
            // Every third hour, each window in two parts, in two files, as
            // two flushes (or a window and its correction) write it.
            let parted = !split && (hour - D0) / HOUR % 3 == 1;
            let mut minute_files = Vec::new();
            if !parted {
                minute_files.push(write(&f.log, Tier::Minute, &rows(&first_part), None).await);
            }
            if split {
                let rest = rows(&|b| !first_part(b));
                minute_files.push(write(&f.log, Tier::Minute, &rest, None).await);
            }
            if parted {
                let half = |p: &Vec<(i64, f64)>| p.len().div_ceil(2);
                let (first, second): (Vec<_>, Vec<_>) = windows
                    .iter()
                    .map(|((s, b), p)| {
                        let (a, z) = p.split_at(half(p));
                        (
                            (s.clone(), *b, Agg::of_sorted(a).unwrap()),
                            Agg::of_sorted(z).map(|z| (s.clone(), *b, z)),
                        )
                    })
                    .unzip();
                let second: Vec<_> = second.into_iter().flatten().collect();
                assert!(!second.is_empty());
                minute_files = vec![
                    write(&f.log, Tier::Minute, &second, None).await,
                    write(&f.log, Tier::Minute, &first, None).await,
                ];
            }
            if hour == D0 + 50 * HOUR {
                continue;
            }
            // The rollup as of its last run: from the first file only where
            // the second came later.
            let rolled = if split {
                &minute_files[..1]
            } else {
                &minute_files[..]
            };
            let mut hourly: BTreeMap<Series, Vec<(i64, f64)>> = BTreeMap::new();
            for ((s, b), p) in &windows {
                if first_part(*b) {
                    hourly.entry(s.clone()).or_default().extend(p);
                }
            }
            let rows: Vec<(Series, i64, Agg)> = hourly
                .into_iter()
                .map(|(s, mut p)| {
                    p.sort_by(|a, b| sample_cmp(*a, *b));
                    (s, hour, Agg::of_sorted(&p).unwrap())
                })
                .collect();
            write(&f.log, Tier::Hour, &rows, Some(rollup_digest(rolled))).await;
        }
        let outcome = f
            .log
            .commit(Commit {
                offsets: vec![OffsetRange {
                    source: "test/metrics".into(),
                    partition: 0,
                    from: None,
                    to: 1,
                    window: Some(WindowMark {
                        replay_from: 0,
                        closed_before_ns: closed_before,
                    }),
                }],
                writer: "series tests".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(matches!(outcome, CommitOutcome::Committed { .. }));
        Self {
            f,
            data,
            last_ts,
            closed_before,
            stale,
        }
    }
}

/// Writes `rows` as one file of the aggregated `tier` and commits it.
async fn write(
    log: &TableLog,
    tier: Tier,
    rows: &[(Series, i64, Agg)],
    derived_from: Option<String>,
) -> DataFile {
    let mut rows: Vec<&(Series, i64, Agg)> = rows.iter().collect();
    rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    let mut builder = AggBatchBuilder::default();
    for ((metric, labels), bucket, agg) in &rows {
        let labels = labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        builder.push(metric, labels, *bucket, agg);
    }
    let bytes = strata_storage::parquet::encode(tier, &builder.finish().unwrap()).unwrap();
    let buckets = rows.iter().map(|r| r.1);
    let (min_ts, max_ts) = (buckets.clone().min().unwrap(), buckets.max().unwrap());
    let start = tier.partition_start(min_ts);
    let path = layout::new_data_file(&layout::partition_dir(tier, start));
    let file = DataFile {
        path: path.to_string(),
        tier: tier.dir().to_string(),
        partition_start_ns: start,
        min_ts_ns: min_ts,
        max_ts_ns: max_ts,
        min_metric: rows.iter().map(|r| r.0.0.clone()).min().unwrap(),
        max_metric: rows.iter().map(|r| r.0.0.clone()).max().unwrap(),
        rows: rows.len() as u64,
        bytes: bytes.len() as u64,
        derived_from,
    };
    log.store().put_durable(&path, bytes, true).await.unwrap();
    let outcome = log
        .commit(Commit {
            add: vec![file.clone()],
            writer: "series tests".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(matches!(outcome, CommitOutcome::Committed { .. }));
    file
}

/// A point the oracle expects: time, value, and how far a correct answer
/// may be from it.
type Expected = (i64, f64, f64);

/// What `req` must answer, computed sample by sample from the raw samples
/// by the definitions in `strata_query::series`'s docs. Matchers: `=` and
/// `!=` only.
///
/// Tolerance: the engine adds the same terms as the oracle, but grouped
/// differently (per window, per bucket, per group, in the order DataFusion
/// merges partial sums). Two orders of summing N terms differ by at most
/// 2(N − 1)·2⁻⁵³·Σ|x| (the bound for recursive summation); with N < 10⁵
/// terms per point that is < 2.3·10⁻¹¹·Σ|x|. The tolerance is 10⁻⁹·Σ|x|
/// (for `avg` divided by the count, for `rate` by the step): 40 times the
/// bound, and far below any real error, since every value and every
/// counter step here is at least 1 (or an exact 0), while Σ|x| < 10⁸.
/// `min`, `max`, `count` and `last` must be equal.
fn oracle(
    data: &BTreeMap<Series, Vec<(i64, f64)>>,
    req: &SeriesRequest,
) -> Vec<(LabelPairs, Vec<Expected>)> {
    #[derive(Default)]
    struct Acc {
        count: i64,
        sum: f64,
        abs: f64,
        min: f64,
        max: f64,
        last: Option<(i64, f64)>,
        increase: f64,
    }
    let step = req.step_ns;
    let first = floor(req.start_ns, step);
    let n = (req.end_ns - first + step - 1) / step;
    let end = first + n * step;
    let mut groups: BTreeMap<LabelPairs, BTreeMap<i64, Acc>> = BTreeMap::new();
    for ((metric, labels), points) in data {
        let value = |name: &str| {
            labels
                .iter()
                .find(|(k, _)| k == name)
                .map_or("", |(_, v)| v.as_str())
        };
        let selected = metric == &req.metric
            && req.matchers.iter().all(|m| match m.op.as_str() {
                "=" => value(&m.name) == m.value,
                "!=" => value(&m.name) != m.value,
                op => panic!("the oracle does not do {op}"),
            });
        if !selected {
            continue;
        }
        let group = match &req.by {
            None => labels.clone(),
            Some(by) => by
                .iter()
                .filter_map(|name| labels.iter().find(|(k, _)| k == name).cloned())
                .collect(),
        };
        let buckets = groups.entry(group).or_default();
        for (i, &(ts, v)) in points.iter().enumerate() {
            if !(first..end).contains(&ts) {
                continue;
            }
            let t = first + floor(ts - first, step);
            let acc = buckets.entry(t).or_insert_with(|| Acc {
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                ..Default::default()
            });
            acc.count += 1;
            acc.sum += v;
            acc.min = acc.min.min(v);
            acc.max = acc.max.max(v);
            if acc.last.is_none_or(|l| sample_cmp((ts, v), l).is_gt()) {
                acc.last = Some((ts, v));
            }
            match i.checked_sub(1).map(|j| points[j]) {
                Some((prev_ts, prev)) if prev_ts >= t - step => {
                    let d = counter_delta(prev, v);
                    acc.increase += d;
                    acc.abs += d.abs();
                }
                _ => {}
            }
            if !matches!(req.agg, SeriesAgg::Rate | SeriesAgg::Increase) {
                acc.abs += v.abs();
            }
        }
    }
    let step_s = step as f64 / 1e9;
    groups
        .into_iter()
        .filter(|(_, b)| !b.is_empty())
        .map(|(labels, buckets)| {
            let points = buckets
                .into_iter()
                .map(|(t, a)| {
                    let (v, tol) = match req.agg {
                        SeriesAgg::Avg => (a.sum / a.count as f64, a.abs / a.count as f64),
                        SeriesAgg::Sum => (a.sum, a.abs),
                        SeriesAgg::Min => (a.min, 0.0),
                        SeriesAgg::Max => (a.max, 0.0),
                        SeriesAgg::Count => (a.count as f64, 0.0),
                        SeriesAgg::Last => (a.last.unwrap().1, 0.0),
                        SeriesAgg::Increase => (a.increase, a.abs),
                        SeriesAgg::Rate => (a.increase / step_s, a.abs / step_s),
                    };
                    (t, v, 1e-9 * tol)
                })
                .collect();
            (labels, points)
        })
        .collect()
}

/// Asserts that `got` answers what the oracle expects.
fn assert_matches(got: &[SeriesPoints], want: &[(LabelPairs, Vec<Expected>)], what: &str) {
    let got_labels: Vec<&LabelPairs> = got.iter().map(|s| &s.0).collect();
    let want_labels: Vec<&LabelPairs> = want.iter().map(|s| &s.0).collect();
    assert_eq!(got_labels, want_labels, "{what}: series");
    for ((l, got), (_, want)) in got.iter().zip(want) {
        let times = |p: &[(i64, f64)]| p.iter().map(|x| x.0).collect::<Vec<_>>();
        let want_times: Vec<i64> = want.iter().map(|x| x.0).collect();
        assert_eq!(times(got), want_times, "{what} {l:?}: points");
        for (&(t, v), &(_, w, tol)) in got.iter().zip(want) {
            assert!(
                (v - w).abs() <= tol,
                "{what} {l:?} at {t}: got {v}, want {w} (±{tol})"
            );
        }
    }
}

fn request(
    metric: &str,
    start_ns: i64,
    end_ns: i64,
    step_ns: i64,
    agg: SeriesAgg,
) -> SeriesRequest {
    SeriesRequest {
        metric: metric.into(),
        matchers: vec![],
        start_ns,
        end_ns,
        step_ns,
        agg,
        by: None,
    }
}

#[tokio::test]
async fn tiers_answer_what_raw_samples_give_for_every_agg_step_and_seam() {
    let store = TierStore::build(11, 77).await;
    let engine = store.f.engine();
    // The same questions answered with SQL only, not through the 1m files'
    // series indexes: both must match the oracle.
    let sql_only = QueryOptions {
        series_index: false,
        ..QueryOptions::default()
    };
    let engine_sql = QueryEngine::with_options(Arc::clone(&store.f.log), sql_only).unwrap();
    let mut indexed_reads = 0;
    let snapshot = store.f.log.snapshot().await.unwrap();
    let cov = coverage(&snapshot);
    assert_eq!(cov.minute_ns, Some(store.closed_before));
    assert_eq!(
        cov.stale_hours.iter().copied().collect::<Vec<_>>(),
        store.stale,
        "the late correction, the missing rollup and the lagging hour"
    );
    let end = store.last_ts + 1;
    let late = D0 + 30 * HOUR;
    let lagging = floor(store.closed_before, HOUR) - HOUR;
    // (step, start, end, tier): steps that select each tier, over ranges
    // straddling the seams between 1h, stale hours read from 1m, the open
    // hour and the open minutes read from raw.
    let cases = [
        (24 * HOUR, D0, end, Tier::Hour),
        (HOUR, D0, end, Tier::Hour),
        (2 * HOUR, D0 + 29 * HOUR, D0 + 52 * HOUR, Tier::Hour),
        (3 * HOUR, D0 + 5 * HOUR + 17 * MINUTE, end, Tier::Hour),
        (
            MINUTE,
            lagging - 30 * MINUTE,
            end + 5 * MINUTE,
            Tier::Minute,
        ),
        (MINUTE, late - 10 * MINUTE, late + 70 * MINUTE, Tier::Minute),
        (5 * MINUTE, D0, end, Tier::Minute),
        (7 * MINUTE, D0 + 20 * HOUR, D0 + 40 * HOUR, Tier::Minute),
        (30 * SECOND, end - 3 * HOUR, end, Tier::Raw),
        (90 * SECOND, late - HOUR, late + HOUR, Tier::Raw),
    ];
    let bys: [Option<&[&str]>; 4] = [None, Some(&["host"]), Some(&[]), Some(&["dc", "host"])];
    let mut checked = 0;
    for (i, &(step, start, end, tier)) in cases.iter().enumerate() {
        // The seams this case crosses.
        let segs = segments(tier, floor(start, step) - step, end, &cov);
        if tier != Tier::Raw && end > store.closed_before {
            assert_eq!(segs.last().unwrap().tier, Tier::Raw, "{segs:?}");
        }
        for (j, agg) in SeriesAgg::ALL.into_iter().enumerate() {
            for metric in ["http.requests", "cpu.load"] {
                let mut req = request(metric, start, end, step, agg);
                req.by =
                    bys[(i + j) % bys.len()].map(|b| b.iter().map(|s| s.to_string()).collect());
                if (i + j) % 3 == 0 {
                    req.matchers = vec![LabelMatch {
                        name: "host".into(),
                        op: "!=".into(),
                        value: "web02".into(),
                    }];
                }
                let what = format!("case {i} {} {metric} by {:?}", agg.name(), req.by);
                let scanned = engine.table(Tier::Minute).files_scanned();
                let (got_tier, got) = query(&engine, &snapshot, &req).await.unwrap();
                assert_eq!(got_tier, tier, "{what}");
                let want = oracle(&store.data, &req);
                assert!(!want.is_empty(), "{what}");
                assert_matches(&got, &want, &what);
                let (_, got_sql) = query(&engine_sql, &snapshot, &req).await.unwrap();
                assert_matches(&got_sql, &want, &format!("{what}, SQL only"));
                // Requests over 1m read its files through their indexes,
                // not with SQL.
                if tier == Tier::Minute {
                    assert_eq!(
                        engine.table(Tier::Minute).files_scanned(),
                        scanned,
                        "{what}: 1m read with SQL"
                    );
                    indexed_reads += 1;
                }
                checked += want.iter().map(|s| s.1.len()).sum::<usize>();
            }
        }
    }
    assert!(checked > 50_000, "{checked} points");
    assert!(
        indexed_reads >= 20,
        "{indexed_reads} requests read through indexes"
    );

    // A range the 1h tier covers reads 1h files, not raw ones.
    let raw = engine.table(Tier::Raw).files_scanned();
    let hours = engine.table(Tier::Hour).files_scanned();
    let req = request("cpu.load", D0, D0 + 24 * HOUR, HOUR, SeriesAgg::Avg);
    let (_, got) = query(&engine, &snapshot, &req).await.unwrap();
    assert_matches(&got, &oracle(&store.data, &req), "first day");
    assert_eq!(engine.table(Tier::Raw).files_scanned(), raw);
    assert_eq!(engine.table(Tier::Hour).files_scanned() - hours, 24);
}

#[tokio::test]
async fn the_newest_minute_is_present_while_its_window_is_open() {
    let store = TierStore::build(12, 4).await;
    let engine = store.f.engine();
    let snapshot = store.f.log.snapshot().await.unwrap();
    let newest_minute = floor(store.last_ts, MINUTE);
    // The newest minute is open: not in 1m, and its hour is not in 1h.
    assert!(newest_minute >= store.closed_before);
    let open_hour = floor(store.closed_before, HOUR);
    for agg in SeriesAgg::ALL {
        for (step, tier) in [(MINUTE, Tier::Minute), (HOUR, Tier::Hour)] {
            let req = request(
                "http.requests",
                open_hour - 2 * HOUR,
                store.last_ts + 1,
                step,
                agg,
            );
            let (got_tier, got) = query(&engine, &snapshot, &req).await.unwrap();
            assert_eq!(got_tier, tier);
            let what = format!("{} step {step}", agg.name());
            let want = oracle(&store.data, &req);
            assert_matches(&got, &want, &what);
            let newest = got.iter().filter_map(|s| s.1.last()).map(|p| p.0).max();
            assert_eq!(newest, Some(floor(newest_minute, step)), "{what}");
        }
    }
    // The 1h file of the open hour, rolled up from its closed minutes,
    // counts fewer samples than the hour's point.
    let req = request(
        "http.requests",
        open_hour,
        store.last_ts + 1,
        HOUR,
        SeriesAgg::Count,
    );
    let (_, got) = query(&engine, &snapshot, &req).await.unwrap();
    let count: f64 = got.iter().map(|s| s.1[0].1).sum();
    let (_, rolled) = engine
        .sql(&format!(
            "SELECT sum(count) FROM metrics_1h WHERE metric_name = 'http.requests' \
             AND bucket = to_timestamp_nanos({open_hour})"
        ))
        .await
        .unwrap();
    let rolled = rolled[0]
        .column(0)
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()
        .unwrap()
        .value(0);
    assert!((rolled as f64) < count, "{rolled} vs {count}");
}

#[tokio::test]
async fn steps_of_raw_data_aggregate_per_group() {
    let f = Fixture::with_hours().await;
    let engine = f.engine();
    let snapshot = f.log.snapshot().await.unwrap();
    let req = SeriesRequest {
        metric: "cpu.load".into(),
        matchers: vec![LabelMatch {
            name: "host".into(),
            op: "=~".into(),
            value: "web0[12]".into(),
        }],
        start_ns: T0,
        end_ns: T0 + 3 * HOUR,
        step_ns: 10 * 60_000_000_000,
        agg: SeriesAgg::Avg,
        by: Some(vec!["host".into()]),
    };
    let (tier, series) = query(&engine, &snapshot, &req).await.unwrap();
    // A 10-minute step fits the 1m tier, but nothing is aggregated in this
    // store: every point comes from raw.
    assert_eq!(tier, Tier::Minute);
    assert_eq!(series.len(), 2);
    for (labels, points) in &series {
        assert_eq!(labels.len(), 1, "{labels:?}");
        // Hour h: ten samples 10h+0..10h+9 in the first ten minutes.
        let want: Vec<(i64, f64)> = (0..3)
            .map(|h| (T0 + h * HOUR, 10.0 * h as f64 + 4.5))
            .collect();
        assert_eq!(points, &want, "{labels:?}");
    }
    let mut only_web01 = req.clone();
    only_web01.matchers[0] = LabelMatch {
        name: "host".into(),
        op: "!=".into(),
        value: "web02".into(),
    };
    only_web01.agg = SeriesAgg::Max;
    let (_, series) = query(&engine, &snapshot, &only_web01).await.unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].1[2].1, 29.0);
}

/// Serves `engine` on a free port.
async fn serve(engine: Arc<QueryEngine>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(strata_query::http::serve(
        listener,
        engine,
        std::future::pending(),
    ));
    addr
}

async fn get(url: &str) -> (u16, serde_json::Value) {
    let resp = reqwest::get(url).await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn the_http_endpoint_answers_with_tier_step_and_points() {
    let f = Fixture::with_hours().await;
    let addr = serve(Arc::new(f.engine())).await;
    let start = T0 / 1_000_000_000;
    let url = format!(
        "http://{addr}/api/v1/series?metric=cpu.load&match=host%3D%22web01%22&start={start}&end={}&step=1h&agg=max&by=host",
        start + 3 * 3600
    );
    let (status, body) = get(&url).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tier"], "1h", "{body}");
    assert_eq!(body["step"], 3600);
    assert_eq!(body["series"][0]["labels"]["host"], "web01", "{body}");
    let points = body["series"][0]["points"].as_array().unwrap();
    assert_eq!(points.len(), 3, "{body}");
    assert_eq!(points[2], serde_json::json!([start + 2 * 3600, 29.0]));

    // Counters: mem.used is flat at 1, so its increase is 0.
    let url = format!(
        "http://{addr}/api/v1/series?metric=mem.used&start={}&end={}&step=30s&agg=rate",
        start + 2 * 3600,
        start + 3 * 3600
    );
    let (status, body) = get(&url).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tier"], "raw");
    assert_eq!(
        body["series"][0]["points"],
        serde_json::json!([[start + 2 * 3600, 0.0]])
    );
}

#[tokio::test]
async fn bad_requests_are_refused_with_a_clear_message() {
    let f = Fixture::with_hours().await;
    let addr = serve(Arc::new(f.engine())).await;
    let base = format!("http://{addr}/api/v1/series?metric=cpu.load");
    let day = 86_400;
    let cases = [
        (
            "&start=0&end=3600&step=1m&agg=median",
            "unknown agg \"median\"",
        ),
        ("&start=0&end=3600&step=0", "step must be positive"),
        ("&start=0&end=3600&step=-60", "step must be positive"),
        ("&start=0&end=3600&step=soon", "step \"soon\""),
        (
            "&start=3600&end=0&step=1m",
            "end (0) is before start (3600)",
        ),
        ("&start=x&end=0&step=1m", "time \"x\""),
        ("&end=3600&step=1m", "missing parameter start"),
        ("&start=0&end=3600", "missing parameter step"),
        ("&start=0&end=3600&step=1m&match=host%3D", "match"),
        (
            &format!("&start=0&end={day}&step=1s"),
            "86400 points per series exceed the maximum of 11,000",
        ),
    ];
    for (query, needle) in cases {
        let (status, body) = get(&format!("{base}{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(needle), "{query}: {message}");
    }
    let (status, body) = get(&format!("http://{addr}/api/v1/series?start=0&end=1&step=1")).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("missing parameter metric")
    );
    // The limit itself is allowed.
    let (status, body) = get(&format!("{base}&start=0&end={}&step=1s", MAX_POINTS)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = get(&format!("{base}&start=0&end={}&step=1s", MAX_POINTS + 1)).await;
    assert_eq!(status, 400);
}

/// The `data` strings of a metadata answer.
async fn listed(url: &str) -> Vec<String> {
    let (status, body) = get(url).await;
    assert_eq!(status, 200, "{url}: {body}");
    assert_eq!(body["status"], "success", "{body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn metadata_endpoints_list_names_labels_and_values_over_the_tiers() {
    // A metric seen only in the first hour, and one only at the newest
    // sample, whose window is still open: only raw holds it.
    let store = TierStore::build_with(13, 5, |last_ts| {
        vec![
            (
                ("old.metric".into(), pairs(&[("host", "db01")])),
                D0 + 10 * MINUTE,
                1.0,
            ),
            (
                (
                    "new.metric".into(),
                    pairs(&[("host", "db02"), ("zone", "b")]),
                ),
                last_ts,
                1.0,
            ),
        ]
    })
    .await;
    let engine = Arc::new(store.f.engine());
    let addr = serve(Arc::clone(&engine)).await;
    let s = |ns: i64| ns / SECOND;
    let range = format!("start={}&end={}", s(D0), s(store.last_ts) + 1);
    let url = |path: &str, q: &str| format!("http://{addr}/api/v1/{path}?{range}{q}");

    assert_eq!(
        listed(&url("metrics", "")).await,
        ["cpu.load", "http.requests", "new.metric", "old.metric"]
    );
    let later = format!(
        "http://{addr}/api/v1/metrics?start={}&end={}",
        s(D0 + 2 * HOUR),
        s(store.last_ts) + 1
    );
    assert_eq!(
        listed(&later).await,
        ["cpu.load", "http.requests", "new.metric"]
    );
    assert_eq!(listed(&url("label/__name__/values", "")).await.len(), 4);
    assert_eq!(
        listed(&url("labels", "&metric=cpu.load")).await,
        ["dc", "host"]
    );
    assert_eq!(
        listed(&url("labels", "&metric=new.metric")).await,
        ["host", "zone"]
    );
    assert_eq!(
        listed(&url("labels", "")).await,
        ["code", "dc", "host", "zone"]
    );
    assert_eq!(
        listed(&url("label/host/values", "&metric=http.requests")).await,
        ["web01", "web02", "web03"]
    );
    assert_eq!(
        listed(&url("label/dc/values", "&metric=cpu.load")).await,
        ["eu"]
    );
    assert_eq!(
        listed(&url(
            "label/host/values",
            "&metric=cpu.load&match=dc%3D%22eu%22"
        ))
        .await,
        ["web03"]
    );
    assert!(listed(&url("label/nope/values", "")).await.is_empty());

    // Two hours the 1h tier covers: two 1h files read, no raw or 1m file.
    let before: Vec<u64> = Tier::ALL.map(|t| engine.table(t).files_scanned()).to_vec();
    let two_hours = format!(
        "http://{addr}/api/v1/labels?metric=http.requests&start={}&end={}",
        s(D0 + HOUR),
        s(D0 + 3 * HOUR) - 1
    );
    assert_eq!(listed(&two_hours).await, ["code", "host"]);
    let read: Vec<u64> = Tier::ALL
        .iter()
        .zip(before)
        .map(|(t, b)| engine.table(*t).files_scanned() - b)
        .collect();
    assert_eq!(read, [0, 0, 2], "raw, 1m, 1h files read");

    let (status, body) = get(&format!("http://{addr}/api/v1/labels?start=10&end=5")).await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("before start"),
        "{body}"
    );
}

#[tokio::test]
async fn metadata_defaults_to_the_last_day() {
    let f = Fixture::empty().await;
    let now = chrono::Utc::now().timestamp_nanos_opt().unwrap();
    f.add_file(vec![common::sample("recent.metric", "a", now - HOUR, 1.0)])
        .await;
    f.add_file(vec![common::sample(
        "stale.metric",
        "a",
        now - 3 * 24 * HOUR,
        1.0,
    )])
    .await;
    let addr = serve(Arc::new(f.engine())).await;
    assert_eq!(
        listed(&format!("http://{addr}/api/v1/metrics")).await,
        ["recent.metric"]
    );
    assert_eq!(
        listed(&format!(
            "http://{addr}/api/v1/label/host/values?metric=stale.metric"
        ))
        .await,
        Vec::<String>::new()
    );
}
