//! Tests of [`FilePredicate`]: which filters bound which files.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::{Expr, cast, col, lit};
use datafusion::prelude::{in_list, now};
use strata_schemas::Tier;

use super::*;

const HOUR: i64 = 3_600_000_000_000;
/// 2023-11-14T22:00:00Z.
const T0: i64 = 1_699_999_200_000_000_000;

fn schema() -> DFSchemaRef {
    Arc::new(DFSchema::try_from(Tier::Raw.schema()).unwrap())
}

fn predicate(filters: &[Expr]) -> FilePredicate {
    FilePredicate::from_filters(
        filters,
        Tier::Raw.time_column(),
        &schema(),
        &ExecutionProps::new(),
    )
}

/// The predicate over an aggregated tier, whose time column is `bucket`.
fn agg_predicate(filters: &[Expr]) -> FilePredicate {
    let schema = Arc::new(DFSchema::try_from(Tier::Minute.schema()).unwrap());
    FilePredicate::from_filters(
        filters,
        Tier::Minute.time_column(),
        &schema,
        &ExecutionProps::new(),
    )
}

fn file(min_ts: i64, max_ts: i64, min_metric: &str, max_metric: &str) -> DataFile {
    DataFile {
        path: "raw/x.parquet".into(),
        tier: "raw".into(),
        partition_start_ns: min_ts,
        min_ts_ns: min_ts,
        max_ts_ns: max_ts,
        min_metric: min_metric.into(),
        max_metric: max_metric.into(),
        rows: 1,
        bytes: 1,
        derived_from: None,
    }
}

fn ts_ns(v: i64) -> Expr {
    lit(ScalarValue::TimestampNanosecond(
        Some(v),
        Some("UTC".into()),
    ))
}

#[test]
fn nothing_understood_means_no_pruning() {
    let p = predicate(&[col("value").gt(lit(1.0)), col("ts").not_eq(ts_ns(5))]);
    assert_eq!(p, FilePredicate::default());
    assert!(p.may_match(&file(0, 10, "a", "z")));
}

#[test]
fn comparisons_in_either_order_bound_time() {
    let p = predicate(&[col("ts").gt_eq(ts_ns(100)), ts_ns(200).gt(col("ts"))]);
    assert_eq!(p.time, Some((100, 199)));
    assert!(p.may_match(&file(150, 150, "a", "a")));
    assert!(p.may_match(&file(0, 100, "a", "a")));
    assert!(p.may_match(&file(199, 300, "a", "a")));
    assert!(!p.may_match(&file(0, 99, "a", "a")));
    assert!(!p.may_match(&file(200, 300, "a", "a")));

    let p = predicate(&[col("ts").gt(ts_ns(100)).and(col("ts").lt_eq(ts_ns(200)))]);
    assert_eq!(p.time, Some((101, 200)));
}

#[test]
fn literals_of_any_unit_and_zone_convert_to_ns() {
    let secs = lit(ScalarValue::TimestampSecond(
        Some(1_700_000_000),
        Some("+05:30".into()),
    ));
    let millis = lit(ScalarValue::TimestampMillisecond(
        Some(1_700_003_600_000),
        None,
    ));
    let p = predicate(&[col("ts").between(secs, millis)]);
    assert_eq!(
        p.time,
        Some((1_700_000_000_000_000_000, 1_700_003_600_000_000_000))
    );
}

#[test]
fn casts_and_strings_are_folded_by_the_simplifier() {
    let start = cast(lit("2023-11-14T22:00:00Z"), ts_type());
    let p = predicate(&[
        col("ts").gt_eq(start),
        col("ts").lt(lit("2023-11-14T23:00:00+00:00")),
    ]);
    let t0 = Utc.with_ymd_and_hms(2023, 11, 14, 22, 0, 0).unwrap();
    let t0 = i128::from(t0.timestamp_nanos_opt().unwrap());
    assert_eq!(p.time, Some((t0, t0 + i128::from(HOUR) - 1)));
}

#[test]
fn now_folds_to_the_query_start_time() {
    let start = Utc.with_ymd_and_hms(2023, 11, 14, 22, 0, 0).unwrap();
    let props = ExecutionProps::new().with_query_execution_start_time(start);
    let interval = lit(ScalarValue::new_interval_mdn(0, 0, HOUR));
    let filter = col("ts").gt_eq(now() - interval);
    let p = FilePredicate::from_filters(&[filter], Tier::Raw.time_column(), &schema(), &props);
    let t0 = i128::from(start.timestamp_nanos_opt().unwrap());
    assert_eq!(p.time, Some((t0 - i128::from(HOUR), i128::MAX)));
}

#[test]
fn a_cast_column_widens_by_one_unit() {
    let secs = DataType::Timestamp(TimeUnit::Second, None);
    let filter = cast(col("ts"), secs).gt_eq(lit(ScalarValue::TimestampSecond(Some(10), None)));
    let p = predicate(&[filter]);
    assert_eq!(p.time, Some((9_000_000_000, i128::MAX)));
    // The simplifier unwraps a cast to the integer the timestamp is.
    let filter = cast(col("ts"), DataType::Int64).gt_eq(lit(10i64));
    assert_eq!(predicate(&[filter]).time, Some((10, i128::MAX)));
    // A cast to text is not understood.
    let filter = cast(col("ts"), DataType::Utf8).gt_eq(lit("2023"));
    assert_eq!(predicate(&[filter]).time, None);
}

#[test]
fn or_widens_and_and_narrows() {
    let hour = |h: i64| {
        col("ts")
            .gt_eq(ts_ns(T0 + h * HOUR))
            .and(col("ts").lt(ts_ns(T0 + (h + 1) * HOUR)))
    };
    let p = predicate(&[hour(0).or(hour(2))]);
    assert_eq!(
        p.time,
        Some((i128::from(T0), i128::from(T0 + 3 * HOUR - 1)))
    );
    // One side not understood: the OR constrains nothing.
    let p = predicate(&[hour(0).or(col("value").gt(lit(1.0)))]);
    assert_eq!(p.time, None);
    // Disjoint conjuncts: nothing can match.
    let p = predicate(&[hour(0), hour(2)]);
    assert!(!p.may_match(&file(T0, T0 + 3 * HOUR, "a", "z")));
}

#[test]
fn metric_equality_and_in_lists_prune_by_name_range() {
    let p = predicate(&[col("metric_name").eq(lit("cpu.load"))]);
    assert!(p.may_match(&file(0, 1, "cpu.load", "cpu.load")));
    assert!(p.may_match(&file(0, 1, "a", "z")));
    assert!(!p.may_match(&file(0, 1, "disk.free", "mem.used")));

    let list = in_list(col("metric_name"), vec![lit("a.x"), lit("z.y")], false);
    let p = predicate(&[list]);
    assert_eq!(p.metrics.as_ref().unwrap().len(), 2);
    assert!(p.may_match(&file(0, 1, "z", "zz")));
    assert!(!p.may_match(&file(0, 1, "b", "c")));

    let negated = in_list(col("metric_name"), vec![lit("a.x")], true);
    assert_eq!(predicate(&[negated]).metrics, None);

    let both = col("metric_name")
        .eq(lit("a"))
        .and(col("metric_name").eq(lit("b")));
    assert!(!predicate(&[both]).may_match(&file(0, 1, "a", "z")));

    // Inconsistent statistics keep the file.
    assert!(p.may_match(&file(0, 1, "z", "a")));
}

#[test]
fn qualified_columns_are_understood() {
    let qualified = Expr::Column(datafusion::common::Column::new(Some("metrics_raw"), "ts"));
    let p = predicate(&[qualified.lt(ts_ns(10))]);
    assert_eq!(p.time, Some((i128::MIN, 9)));
}

#[test]
fn aggregated_tiers_prune_on_bucket() {
    // Files of buckets [T0, T0 + 59 min] and the next hour's.
    let hour0 = file(T0, T0 + HOUR - 60_000_000_000, "a", "z");
    let hour1 = file(T0 + HOUR, T0 + 2 * HOUR - 60_000_000_000, "a", "z");
    // From the middle of hour 0 on: both files.
    let p = agg_predicate(&[col("bucket").gt_eq(ts_ns(T0 + HOUR / 2))]);
    assert!(p.may_match(&hour0) && p.may_match(&hour1));
    // The second half of hour 0: its file only.
    let p = agg_predicate(&[
        col("bucket").gt_eq(ts_ns(T0 + HOUR / 2)),
        col("bucket").lt(ts_ns(T0 + HOUR)),
    ]);
    assert!(p.may_match(&hour0) && !p.may_match(&hour1));
    // `bucket >= X` keeps a file whose largest bucket is X.
    let p = agg_predicate(&[col("bucket").gt_eq(ts_ns(T0 + HOUR - 60_000_000_000))]);
    assert!(p.may_match(&hour0));
    // `ts` means nothing to an aggregated tier, `bucket` nothing to raw.
    assert_eq!(agg_predicate(&[col("ts").lt(ts_ns(0))]).time, None);
    assert_eq!(predicate(&[col("bucket").lt(ts_ns(0))]).time, None);
}
