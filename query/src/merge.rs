//! Merging the partial aggregates of the `1m` and `1h` tiers.
//!
//! Ingest writes a window's aggregate in parts: the same (series, bucket)
//! may sit in several files, when two processes closed the window or late
//! samples added a correction. Users never see parts: `metrics_1m` and
//! `metrics_1h` are views ([`merged_view`]) over the tier's stored files
//! that group by `metric_name, labels, bucket` and merge the parts with
//! [`agg_merge_udaf`], an aggregate function folding them into one
//! [`Agg`] with [`Agg::merge`], in the order of their first samples.
//!
//! ```text
//! metrics_1m (view) = SELECT metric_name, labels, bucket, m['count'] AS count, …
//!                     FROM (SELECT metric_name, labels, bucket, agg_merge(count, …, exact) AS m
//!                           FROM <1m files> GROUP BY metric_name, labels, bucket)
//! ```
//!
//! Filters on `metric_name`, `labels` and `bucket` are filters on the
//! grouping keys, so DataFusion pushes them below the aggregation into the
//! scan of the files, where they prune files, row groups and pages.
//!
//! Why sort: [`Agg::merge`] is exact for every field when the parts do not
//! overlap in time, whatever the order, but folding `a` then `c` then `b`
//! of three disjoint parts `a < b < c` makes `b` land inside the span of
//! `a + c` and turns an exact increase into an estimate. Folded in the
//! order of their first samples, disjoint parts always meet at a seam. The
//! function's intermediate state is therefore the list of parts itself, not
//! a partial fold, so that multi-phase aggregation (partial aggregates per
//! input partition, merged after a repartition) sorts all parts of a group
//! together.
//!
//! Maintenance uses the same plan with the stored `exact` flag kept
//! ([`merge_plan`]) to fold a partition's parts into one file and to roll
//! minutes up into hours.

use std::mem::size_of;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, ListArray, StructArray,
    TimestampNanosecondArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::filter;
use datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, Fields, Float64Type, Int64Type, TimestampNanosecondType,
};
use datafusion::common::{Result as DFResult, ScalarValue, exec_err, internal_err};
use datafusion::datasource::provider_as_source;
use datafusion::datasource::view::ViewTable;
use datafusion::functions::core::expr_fn::get_field;
use datafusion::functions::expr_fn::date_bin;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, LogicalPlanBuilder,
    Signature, Volatility, col, lit,
};
use strata_schemas::agg::{Agg, sample_cmp};
use strata_schemas::tier::{Tier, col as c};

use crate::table::TierTable;

/// The name of the merging aggregate function.
pub const AGG_MERGE: &str = "agg_merge";

/// The alias of the merged struct in [`merge_plan`]'s aggregation.
const MERGED: &str = "merged";

/// The stored aggregate columns, in [`Tier::schema`] order: the arguments
/// of `agg_merge` and the fields of its result.
const PARTS: [&str; 10] = [
    c::COUNT,
    c::SUM,
    c::MIN,
    c::MAX,
    c::FIRST_TS,
    c::FIRST,
    c::LAST_TS,
    c::LAST,
    c::INCREASE,
    c::EXACT,
];

/// The fields of one aggregate, as stored: `count` … `increase`, `exact`.
static PART_FIELDS: LazyLock<Fields> = LazyLock::new(|| {
    let schema = Tier::Minute.schema();
    PARTS
        .iter()
        .map(|name| Arc::new(schema.field_with_name(name).expect("stored column").clone()))
        .collect()
});

/// The result type of `agg_merge`: a struct of the merged aggregate's
/// stored columns (`count` … `increase`, `exact`), none nullable.
pub fn merged_type() -> DataType {
    DataType::Struct(PART_FIELDS.clone())
}

/// `agg_merge(count, sum, min, max, first_ts, first, last_ts, last,
/// increase, exact)`: the parts of one series' window (the stored columns
/// of an aggregated tier) merged into one aggregate, as a struct of the
/// same columns ([`merged_type`]).
///
/// The parts are sorted by their first sample, `(first_ts, first)`, and
/// folded with [`Agg::merge`]: every field is exact; `increase` is exact
/// and `exact` true when the parts do not overlap in time and were exact
/// themselves. Over no rows at all (without `GROUP BY`, or a group whose
/// rows a `FILTER` clause all dropped) it returns a count of 0 with NaN
/// values, never null.
pub fn agg_merge_udaf() -> Arc<AggregateUDF> {
    static UDAF: LazyLock<Arc<AggregateUDF>> =
        LazyLock::new(|| Arc::new(AggregateUDF::from(AggMerge::new())));
    Arc::clone(&UDAF)
}

/// Groups `input`, rows of an aggregated tier's stored schema, by series
/// and window and merges each group with [`agg_merge_udaf`].
///
/// Windows are the input's buckets when `window_ns` is `None`, else
/// `bucket` truncated to multiples of `window_ns` (UTC): chaining the
/// minutes of an hour into the hour, which stays exact because minutes do
/// not overlap. Output columns are those of [`Tier::table_schema`], plus
/// `exact` last when `keep_exact`, i.e. [`Tier::schema`]. Rows are in no
/// particular order.
pub fn merge_plan(
    input: LogicalPlanBuilder,
    window_ns: Option<i64>,
    keep_exact: bool,
) -> DFResult<LogicalPlanBuilder> {
    let bucket = match window_ns {
        None => col(c::BUCKET),
        Some(ns) => date_bin(
            lit(ScalarValue::new_interval_mdn(0, 0, ns)),
            col(c::BUCKET),
            lit(ScalarValue::TimestampNanosecond(
                Some(0),
                Some("UTC".into()),
            )),
        )
        .alias(c::BUCKET),
    };
    let args = PARTS.iter().map(|name| col(*name)).collect();
    let merged = agg_merge_udaf().call(args).alias(MERGED);
    let mut columns = vec![col(c::METRIC_NAME), col(c::LABELS), col(c::BUCKET)];
    let fields = if keep_exact {
        &PARTS[..]
    } else {
        &PARTS[..PARTS.len() - 1]
    };
    columns.extend(
        fields
            .iter()
            .map(|name| get_field(col(MERGED), *name).alias(*name)),
    );
    input
        .aggregate(
            vec![col(c::METRIC_NAME), col(c::LABELS), bucket],
            vec![merged],
        )?
        .project(columns)
}

/// The SQL view of an aggregated tier: one row per series and bucket,
/// merged from the parts `parts` reads, in [`Tier::table_schema`].
///
/// `parts` is not registered in any catalog: the view's plan scans it
/// under the name `<table>_parts`, which shows in `EXPLAIN`.
pub fn merged_view(parts: Arc<TierTable>) -> DFResult<ViewTable> {
    let name = format!("{}_parts", parts.tier().table_name());
    let scan = LogicalPlanBuilder::scan(name, provider_as_source(parts), None)?;
    let plan = merge_plan(scan, None, false)?.build()?;
    Ok(ViewTable::new(plan, None))
}

/// The parts of `parts` sorted by their first sample and folded into one.
pub fn merge_parts(parts: &mut [Agg]) -> Option<Agg> {
    parts.sort_unstable_by(part_cmp);
    let (first, rest) = parts.split_first()?;
    let mut merged = *first;
    rest.iter().for_each(|p| merged.merge(p));
    Some(merged)
}

/// Orders parts by first sample; ties (parts starting with the same
/// sample) by last sample and size, so that the fold is deterministic.
fn part_cmp(a: &Agg, b: &Agg) -> std::cmp::Ordering {
    sample_cmp((a.first_ts, a.first), (b.first_ts, b.first))
        .then(sample_cmp((a.last_ts, a.last), (b.last_ts, b.last)))
        .then(a.count.cmp(&b.count))
        .then(a.increase.total_cmp(&b.increase))
        .then(a.sum.total_cmp(&b.sum))
}

/// What `agg_merge` returns over no rows.
const EMPTY: Agg = Agg {
    count: 0,
    sum: 0.0,
    min: f64::NAN,
    max: f64::NAN,
    first_ts: 0,
    first: f64::NAN,
    last_ts: 0,
    last: f64::NAN,
    increase: 0.0,
    exact: true,
};

/// Typed views of the ten aggregate columns of a batch.
struct PartColumns<'a> {
    count: &'a Int64Array,
    f64s: [&'a Float64Array; 7],
    first_ts: &'a TimestampNanosecondArray,
    last_ts: &'a TimestampNanosecondArray,
    exact: &'a BooleanArray,
}

impl<'a> PartColumns<'a> {
    /// `arrays` are the columns in [`PARTS`] order.
    fn new(arrays: &'a [ArrayRef]) -> DFResult<Self> {
        if arrays.len() != PARTS.len() {
            return exec_err!("{AGG_MERGE} takes {} columns", PARTS.len());
        }
        let f = |i: usize| -> DFResult<&'a Float64Array> {
            arrays[i]
                .as_primitive_opt::<Float64Type>()
                .ok_or_else(|| type_error(i))
        };
        let ts = |i: usize| -> DFResult<&'a TimestampNanosecondArray> {
            arrays[i]
                .as_primitive_opt::<TimestampNanosecondType>()
                .ok_or_else(|| type_error(i))
        };
        Ok(Self {
            count: arrays[0]
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| type_error(0))?,
            // sum, min, max, first, last, increase; index 6 unused.
            f64s: [f(1)?, f(2)?, f(3)?, f(5)?, f(7)?, f(8)?, f(8)?],
            first_ts: ts(4)?,
            last_ts: ts(6)?,
            exact: arrays[9].as_boolean_opt().ok_or_else(|| type_error(9))?,
        })
    }

    fn of_struct(array: &'a StructArray) -> DFResult<Self> {
        Self::new(array.columns())
    }

    fn len(&self) -> usize {
        self.count.len()
    }

    /// Row `i`, unless a column is null there (never, in stored files).
    fn get(&self, i: usize) -> Option<Agg> {
        let [sum, min, max, first, last, increase, _] = self.f64s;
        let valid = self.count.is_valid(i)
            && self.f64s.iter().all(|a| a.is_valid(i))
            && self.first_ts.is_valid(i)
            && self.last_ts.is_valid(i)
            && self.exact.is_valid(i);
        valid.then(|| Agg {
            count: self.count.value(i).max(0) as u64,
            sum: sum.value(i),
            min: min.value(i),
            max: max.value(i),
            first_ts: self.first_ts.value(i),
            first: first.value(i),
            last_ts: self.last_ts.value(i),
            last: last.value(i),
            increase: increase.value(i),
            exact: self.exact.value(i),
        })
    }
}

fn type_error(i: usize) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Execution(format!(
        "{AGG_MERGE}: argument {} ({}) has the wrong type",
        i + 1,
        PARTS[i]
    ))
}

/// Aggregates as a struct array of [`merged_type`].
fn to_struct<'a>(aggs: impl ExactSizeIterator<Item = &'a Agg> + Clone) -> StructArray {
    let f = |get: fn(&Agg) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(aggs.clone().map(get)))
    };
    let ts = |get: fn(&Agg) -> i64| -> ArrayRef {
        Arc::new(
            TimestampNanosecondArray::from_iter_values(aggs.clone().map(get)).with_timezone("UTC"),
        )
    };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            aggs.clone().map(|a| a.count as i64),
        )),
        f(|a| a.sum),
        f(|a| a.min),
        f(|a| a.max),
        ts(|a| a.first_ts),
        f(|a| a.first),
        ts(|a| a.last_ts),
        f(|a| a.last),
        f(|a| a.increase),
        Arc::new(BooleanArray::from_iter(aggs.map(|a| Some(a.exact)))),
    ];
    StructArray::new(PART_FIELDS.clone(), columns, None)
}

/// The state's single field: the list of parts.
fn state_field(name: &str) -> FieldRef {
    Arc::new(Field::new(
        format_state_name(name, "parts"),
        DataType::List(item_field()),
        false,
    ))
}

fn item_field() -> FieldRef {
    Arc::new(Field::new_list_field(merged_type(), false))
}

/// A list array whose row `i` holds the parts of `groups[i]`.
fn parts_list(lengths: impl IntoIterator<Item = usize>, parts: &[Agg]) -> ListArray {
    ListArray::new(
        item_field(),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(to_struct(parts.iter())),
        None,
    )
}

/// Calls `f(row, part)` for every part in every row of a state list.
fn for_each_listed(state: &ArrayRef, mut f: impl FnMut(usize, Agg)) -> DFResult<()> {
    let Some(list) = state.as_list_opt::<i32>() else {
        return internal_err!("{AGG_MERGE}: state is not a list");
    };
    let Some(values) = list.values().as_struct_opt() else {
        return internal_err!("{AGG_MERGE}: state list holds no structs");
    };
    let parts = PartColumns::of_struct(values)?;
    for (row, w) in list.value_offsets().windows(2).enumerate() {
        if list.is_null(row) {
            continue;
        }
        for j in w[0] as usize..w[1] as usize {
            if let Some(agg) = parts.get(j) {
                f(row, agg);
            }
        }
    }
    Ok(())
}

/// The `agg_merge` aggregate function; see [`agg_merge_udaf`].
#[derive(Debug, PartialEq, Eq, Hash)]
struct AggMerge {
    signature: Signature,
}

impl AggMerge {
    fn new() -> Self {
        let types = PART_FIELDS.iter().map(|f| f.data_type().clone()).collect();
        Self {
            signature: Signature::exact(types, Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for AggMerge {
    fn name(&self) -> &str {
        AGG_MERGE
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DFResult<DataType> {
        Ok(merged_type())
    }

    fn return_field(&self, _arg_fields: &[FieldRef]) -> DFResult<FieldRef> {
        Ok(Arc::new(Field::new(AGG_MERGE, merged_type(), false)))
    }

    fn is_nullable(&self) -> bool {
        false
    }

    fn default_value(&self, _data_type: &DataType) -> DFResult<ScalarValue> {
        Ok(ScalarValue::Struct(Arc::new(to_struct([EMPTY].iter()))))
    }

    fn accumulator(&self, _acc_args: AccumulatorArgs) -> DFResult<Box<dyn Accumulator>> {
        Ok(Box::new(MergeAccumulator::default()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DFResult<Vec<FieldRef>> {
        Ok(vec![state_field(args.name)])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        _args: AccumulatorArgs,
    ) -> DFResult<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(MergeGroupsAccumulator::default()))
    }
}

/// `agg_merge` of one group: collects the parts, folds them at the end.
#[derive(Debug, Default)]
struct MergeAccumulator {
    parts: Vec<Agg>,
}

impl Accumulator for MergeAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        let columns = PartColumns::new(values)?;
        self.parts
            .extend((0..columns.len()).filter_map(|i| columns.get(i)));
        Ok(())
    }

    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        let merged = merge_parts(&mut self.parts).unwrap_or(EMPTY);
        Ok(ScalarValue::Struct(Arc::new(to_struct([merged].iter()))))
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.parts.capacity() * size_of::<Agg>()
    }

    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        let list = parts_list([self.parts.len()], &self.parts);
        Ok(vec![ScalarValue::List(Arc::new(list))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        let Some(state) = states.first() else {
            return internal_err!("{AGG_MERGE}: no state");
        };
        for_each_listed(state, |_, agg| self.parts.push(agg))
    }
}

/// `agg_merge` of many groups: all parts in one vector, tagged with their
/// group, sorted and folded when the groups are emitted.
#[derive(Debug, Default)]
struct MergeGroupsAccumulator {
    parts: Vec<(usize, Agg)>,
    groups: usize,
}

impl MergeGroupsAccumulator {
    /// Removes the parts of the groups `emit_to` asks for, sorted by group
    /// then by [`part_cmp`], and how many groups they are.
    fn take(&mut self, emit_to: EmitTo) -> (Vec<(usize, Agg)>, usize) {
        let (mut taken, n) = match emit_to {
            EmitTo::All => (
                std::mem::take(&mut self.parts),
                std::mem::take(&mut self.groups),
            ),
            EmitTo::First(n) => {
                let (taken, kept): (Vec<_>, Vec<_>) =
                    self.parts.drain(..).partition(|(g, _)| *g < n);
                self.parts = kept.into_iter().map(|(g, a)| (g - n, a)).collect();
                self.groups = self.groups.saturating_sub(n);
                (taken, n)
            }
        };
        taken.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| part_cmp(&a.1, &b.1)));
        (taken, n)
    }
}

/// Number of parts of each of groups `0..n` in `parts`, sorted by group.
fn group_lengths(parts: &[(usize, Agg)], n: usize) -> Vec<usize> {
    let mut lengths = vec![0; n];
    parts.iter().for_each(|(g, _)| lengths[*g] += 1);
    lengths
}

impl GroupsAccumulator for MergeGroupsAccumulator {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> DFResult<()> {
        let columns = PartColumns::new(values)?;
        self.groups = self.groups.max(total_num_groups);
        for (i, g) in group_indices.iter().enumerate() {
            if opt_filter.is_some_and(|f| !f.is_valid(i) || !f.value(i)) {
                continue;
            }
            if let Some(agg) = columns.get(i) {
                self.parts.push((*g, agg));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> DFResult<ArrayRef> {
        let (parts, n) = self.take(emit_to);
        let lengths = group_lengths(&parts, n);
        let mut merged = Vec::with_capacity(n);
        let mut rest = parts.as_slice();
        let mut run = Vec::new();
        for len in lengths {
            let (group, tail) = rest.split_at(len);
            rest = tail;
            run.clear();
            run.extend(group.iter().map(|(_, a)| *a));
            // Already in `part_cmp` order: `merge_parts` re-sorts a sorted
            // run cheaply. A group without parts (all its rows filtered
            // out by a `FILTER` clause) is the empty aggregate.
            merged.push(merge_parts(&mut run).unwrap_or(EMPTY));
        }
        Ok(Arc::new(to_struct(merged.iter())))
    }

    fn state(&mut self, emit_to: EmitTo) -> DFResult<Vec<ArrayRef>> {
        let (parts, n) = self.take(emit_to);
        let lengths = group_lengths(&parts, n);
        let aggs: Vec<Agg> = parts.into_iter().map(|(_, a)| a).collect();
        Ok(vec![Arc::new(parts_list(lengths, &aggs))])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> DFResult<()> {
        let Some(state) = values.first() else {
            return internal_err!("{AGG_MERGE}: no state");
        };
        self.groups = self.groups.max(total_num_groups);
        let parts = &mut self.parts;
        for_each_listed(state, |row, agg| parts.push((group_indices[row], agg)))
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> DFResult<Vec<ArrayRef>> {
        PartColumns::new(values)?;
        let parts = StructArray::try_new(PART_FIELDS.clone(), values.to_vec(), None)?;
        let n = parts.len();
        let (values, lengths): (ArrayRef, Vec<usize>) = match opt_filter {
            None => (Arc::new(parts), vec![1; n]),
            Some(keep) => {
                let lengths = (0..n)
                    .map(|i| usize::from(keep.is_valid(i) && keep.value(i)))
                    .collect();
                (filter(&parts, keep)?, lengths)
            }
        };
        let list = ListArray::new(
            item_field(),
            OffsetBuffer::from_lengths(lengths),
            values,
            None,
        );
        Ok(vec![Arc::new(list)])
    }

    fn size(&self) -> usize {
        size_of::<Self>() + self.parts.capacity() * size_of::<(usize, Agg)>()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use datafusion::arrow::array::RecordBatch;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};
    use strata_schemas::AggBatchBuilder;

    use super::*;

    /// A deterministic stream of numbers (splitmix64).
    fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
        let mut state = seed;
        move |below| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % below
        }
    }

    /// Samples of a counter, sorted, with a reset.
    fn points(n: i64) -> Vec<(i64, f64)> {
        (0..n)
            .map(|i| (i * 10, if i == n / 2 { 1.0 } else { (i * 3) as f64 }))
            .collect()
    }

    #[test]
    fn disjoint_parts_fold_exactly_in_any_order() {
        let p = points(12);
        let whole = Agg::of_sorted(&p).unwrap();
        for (a, b) in [(3, 7), (1, 11), (0, 5), (6, 6)] {
            let mut parts: Vec<Agg> = [&p[..a], &p[a..b], &p[b..]]
                .into_iter()
                .filter_map(Agg::of_sorted)
                .collect();
            for _ in 0..parts.len() {
                parts.rotate_left(1);
                let mut shuffled = parts.clone();
                assert_eq!(merge_parts(&mut shuffled), Some(whole), "{a} {b}");
            }
        }
        assert_eq!(merge_parts(&mut []), None);
    }

    /// Parts of 40 groups, some interleaved, dealt into batches in a
    /// scrambled order; and what each group should merge to.
    fn workload() -> (Vec<RecordBatch>, BTreeMap<(String, i64), Agg>) {
        let mut next = rng(7);
        let mut rows = Vec::new();
        let mut want = BTreeMap::new();
        for g in 0..40i64 {
            let metric = format!("m{}", g % 3);
            let p = points(2 + next(20) as i64);
            let mut parts = Vec::new();
            if g % 2 == 0 {
                let cut = next(p.len() as u64) as usize;
                parts.extend(
                    [&p[..cut], &p[cut..]]
                        .into_iter()
                        .filter_map(Agg::of_sorted),
                );
            } else {
                let mut split = vec![Vec::new(); 3];
                p.iter().for_each(|x| split[next(3) as usize].push(*x));
                parts.extend(split.iter().filter_map(|s| Agg::of_sorted(s)));
            }
            want.insert(
                (metric.clone(), g),
                merge_parts(&mut parts.clone()).unwrap(),
            );
            rows.extend(parts.into_iter().map(|a| (metric.clone(), g, a)));
        }
        // Scramble, then cut into batches of 7 rows.
        for i in (1..rows.len()).rev() {
            rows.swap(i, next(i as u64 + 1) as usize);
        }
        let batches = rows
            .chunks(7)
            .map(|chunk| {
                let mut b = AggBatchBuilder::default();
                for (metric, g, agg) in chunk {
                    b.push(metric, [], *g * 60_000_000_000, agg);
                }
                b.finish().unwrap()
            })
            .collect();
        (batches, want)
    }

    async fn merged_with(config: SessionConfig) -> BTreeMap<(String, i64), Agg> {
        let (batches, _) = workload();
        let ctx = SessionContext::new_with_config(config);
        let table = MemTable::try_new(Tier::Minute.schema(), vec![batches])
            .unwrap()
            .with_sort_order(vec![]);
        let scan = LogicalPlanBuilder::scan("t", provider_as_source(Arc::new(table)), None);
        let plan = merge_plan(scan.unwrap(), None, true)
            .unwrap()
            .build()
            .unwrap();
        let out = ctx.execute_logical_plan(plan).await.unwrap();
        let mut got = BTreeMap::new();
        for b in out.collect().await.unwrap() {
            let names = b.column(0).as_string::<i32>();
            let buckets = b.column(2).as_primitive::<TimestampNanosecondType>();
            let parts = PartColumns::new(&b.columns()[3..]).unwrap();
            for r in 0..b.num_rows() {
                let key = (
                    names.value(r).to_string(),
                    buckets.value(r) / 60_000_000_000,
                );
                assert!(got.insert(key, parts.get(r).unwrap()).is_none());
            }
        }
        got
    }

    #[tokio::test]
    async fn every_aggregation_mode_merges_like_merge_parts() {
        let (_, want) = workload();
        assert!(want.values().any(|a| !a.exact) && want.values().any(|a| a.exact));
        let base = || SessionConfig::new().with_batch_size(5);
        // One partition: a single aggregation; several: partial aggregates
        // merged through their state after a repartition; and partial
        // aggregation skipped, the input converted to state directly.
        let skip = base()
            .with_target_partitions(3)
            .set_usize(
                "datafusion.execution.skip_partial_aggregation_probe_rows_threshold",
                1,
            )
            .set_str(
                "datafusion.execution.skip_partial_aggregation_probe_ratio_threshold",
                "0.0",
            );
        for config in [
            base().with_target_partitions(1),
            base().with_target_partitions(4),
            skip,
        ] {
            assert_eq!(merged_with(config).await, want);
        }
    }

    #[test]
    fn groups_are_emitted_in_order_and_the_rest_kept() {
        let (a, b, c) = (Agg::of(1, 1.0), Agg::of(2, 5.0), Agg::of(3, 7.0));
        let columns = |aggs: &[Agg]| to_struct(aggs.iter()).columns().to_vec();
        let mut acc = MergeGroupsAccumulator::default();
        acc.update_batch(&columns(&[c, a, b, a]), &[0, 1, 0, 2], None, 3)
            .unwrap();
        let first = acc.evaluate(EmitTo::First(2)).unwrap();
        let first = PartColumns::of_struct(first.as_struct()).unwrap();
        let mut bc = [b, c];
        assert_eq!(first.get(0), merge_parts(&mut bc));
        assert_eq!(first.get(1), Some(a));
        // Group 2 is now group 0; its state carries its one part.
        let state = acc.state(EmitTo::All).unwrap();
        let mut other = MergeGroupsAccumulator::default();
        other.merge_batch(&state, &[4], 5).unwrap();
        let all = other.evaluate(EmitTo::All).unwrap();
        let all = PartColumns::of_struct(all.as_struct()).unwrap();
        assert_eq!(all.len(), 5);
        assert_eq!(all.get(4), Some(a));
        // Groups without parts are empty.
        assert_eq!(all.get(0).map(|a| a.count), Some(0));
    }

    #[test]
    fn the_single_group_accumulator_round_trips_its_state() {
        let mut acc = MergeAccumulator::default();
        let ScalarValue::Struct(empty) = acc.evaluate().unwrap() else {
            panic!("not a struct")
        };
        assert_eq!(
            PartColumns::of_struct(&empty)
                .unwrap()
                .get(0)
                .unwrap()
                .count,
            0
        );
        let p = points(6);
        let parts: Vec<Agg> = [&p[4..], &p[..2], &p[2..4]]
            .into_iter()
            .filter_map(Agg::of_sorted)
            .collect();
        acc.update_batch(to_struct(parts[..2].iter()).columns())
            .unwrap();
        let state = acc.state().unwrap()[0].to_array().unwrap();
        let mut other = MergeAccumulator::default();
        other
            .update_batch(to_struct(parts[2..].iter()).columns())
            .unwrap();
        other.merge_batch(&[state]).unwrap();
        let ScalarValue::Struct(merged) = other.evaluate().unwrap() else {
            panic!("not a struct")
        };
        let merged = PartColumns::of_struct(&merged).unwrap().get(0);
        assert_eq!(merged, Agg::of_sorted(&p));
    }
}
