//! Storage tiers and their Arrow schemas.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

/// Column names shared by the tiers, so that no crate spells them twice.
pub mod col {
    /// Metric name, e.g. `cpu.load`.
    pub const METRIC_NAME: &str = "metric_name";
    /// Label map, readable in SQL as `labels['host']`.
    pub const LABELS: &str = "labels";
    /// Sample time (raw tier).
    pub const TS: &str = "ts";
    /// Sample value (raw tier).
    pub const VALUE: &str = "value";
    /// Start of an aggregate's window, UTC (aggregated tiers).
    pub const BUCKET: &str = "bucket";
    /// Number of samples in the window.
    pub const COUNT: &str = "count";
    /// Sum of the samples' values.
    pub const SUM: &str = "sum";
    /// Smallest value.
    pub const MIN: &str = "min";
    /// Largest value.
    pub const MAX: &str = "max";
    /// Time of the first sample (ordered by time, then value).
    pub const FIRST_TS: &str = "first_ts";
    /// Value of the first sample.
    pub const FIRST: &str = "first";
    /// Time of the last sample.
    pub const LAST_TS: &str = "last_ts";
    /// Value of the last sample.
    pub const LAST: &str = "last";
    /// Counter increase from the first to the last sample, corrected for
    /// resets (a drop counts as a reset to zero, as Prometheus' `increase`).
    pub const INCREASE: &str = "increase";
    /// Stored only: false while `increase` is an estimate, because the
    /// partial aggregates merged into the row overlapped in time; compaction
    /// recomputes such rows from the raw tier.
    pub const EXACT: &str = "exact";
}

/// A storage tier. Each tier is one SQL table and one folder of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Every accepted sample, as produced.
    Raw,
    /// One row of aggregates per series and UTC minute.
    Minute,
    /// One row of aggregates per series and UTC hour.
    Hour,
}

impl Tier {
    /// All tiers, finest first.
    pub const ALL: [Tier; 3] = [Tier::Raw, Tier::Minute, Tier::Hour];

    /// The aggregated tiers, finest first.
    pub const AGGREGATED: [Tier; 2] = [Tier::Minute, Tier::Hour];

    /// The SQL table name of this tier.
    pub fn table_name(self) -> &'static str {
        match self {
            Tier::Raw => "metrics_raw",
            Tier::Minute => "metrics_1m",
            Tier::Hour => "metrics_1h",
        }
    }

    /// The folder of this tier under the store's root.
    pub fn dir(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Minute => "1m",
            Tier::Hour => "1h",
        }
    }

    /// The tier stored under folder `dir`.
    pub fn from_dir(dir: &str) -> Option<Tier> {
        Self::ALL.into_iter().find(|t| t.dir() == dir)
    }

    /// The window length of an aggregated tier, ns (`None` for raw).
    pub fn resolution_ns(self) -> Option<i64> {
        match self {
            Tier::Raw => None,
            Tier::Minute => Some(MINUTE_NS),
            Tier::Hour => Some(HOUR_NS),
        }
    }

    /// The length of one time partition (folder) of this tier, ns: an hour
    /// for raw and 1m, a day for 1h.
    pub fn partition_ns(self) -> i64 {
        match self {
            Tier::Raw | Tier::Minute => HOUR_NS,
            Tier::Hour => DAY_NS,
        }
    }

    /// The start (ns) of this tier's time partition holding `ts_ns`.
    pub fn partition_start(self, ts_ns: i64) -> i64 {
        let len = self.partition_ns();
        ts_ns.div_euclid(len) * len
    }

    /// The Arrow schema of this tier's files. For the aggregated tiers it
    /// includes the stored-only [`col::EXACT`] column; see
    /// [`Tier::table_schema`].
    pub fn schema(self) -> SchemaRef {
        match self {
            Tier::Raw => Arc::clone(&RAW_SCHEMA),
            Tier::Minute | Tier::Hour => Arc::clone(&AGG_SCHEMA),
        }
    }

    /// The schema SQL users see.
    pub fn table_schema(self) -> SchemaRef {
        match self {
            Tier::Raw => Arc::clone(&RAW_SCHEMA),
            Tier::Minute | Tier::Hour => Arc::clone(&AGG_TABLE_SCHEMA),
        }
    }

    /// The name of this tier's time column.
    pub fn time_column(self) -> &'static str {
        match self {
            Tier::Raw => col::TS,
            Tier::Minute | Tier::Hour => col::BUCKET,
        }
    }
}

/// One minute in nanoseconds.
pub const MINUTE_NS: i64 = 60 * 1_000_000_000;
/// One hour in nanoseconds.
pub const HOUR_NS: i64 = 60 * MINUTE_NS;
/// One day in nanoseconds.
pub const DAY_NS: i64 = 24 * HOUR_NS;

/// The type of the `labels` column: `Map<Utf8, Utf8>`.
pub fn labels_type() -> DataType {
    let entries = Fields::from(vec![
        Field::new("keys", DataType::Utf8, false),
        Field::new("values", DataType::Utf8, true),
    ]);
    DataType::Map(
        Arc::new(Field::new("entries", DataType::Struct(entries), false)),
        false,
    )
}

/// The type of every time column: nanoseconds since the epoch, UTC.
pub fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

static RAW_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new(col::METRIC_NAME, DataType::Utf8, false),
        Field::new(col::LABELS, labels_type(), false),
        Field::new(col::TS, ts_type(), false),
        Field::new(col::VALUE, DataType::Float64, false),
    ]))
});

static AGG_TABLE_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let f = |name: &str| Field::new(name, DataType::Float64, false);
    Arc::new(Schema::new(vec![
        Field::new(col::METRIC_NAME, DataType::Utf8, false),
        Field::new(col::LABELS, labels_type(), false),
        Field::new(col::BUCKET, ts_type(), false),
        Field::new(col::COUNT, DataType::Int64, false),
        f(col::SUM),
        f(col::MIN),
        f(col::MAX),
        Field::new(col::FIRST_TS, ts_type(), false),
        f(col::FIRST),
        Field::new(col::LAST_TS, ts_type(), false),
        f(col::LAST),
        f(col::INCREASE),
    ]))
});

static AGG_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields: Vec<Field> = AGG_TABLE_SCHEMA
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(col::EXACT, DataType::Boolean, false));
    Arc::new(Schema::new(fields))
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_round_trip_and_partition() {
        for t in Tier::ALL {
            assert_eq!(Tier::from_dir(t.dir()), Some(t));
        }
        let ts = 1_613_707_265_000_000_000; // 2021-02-19T04:01:05Z
        assert_eq!(Tier::Minute.partition_start(ts) % HOUR_NS, 0);
        assert_eq!(Tier::Hour.partition_start(ts) % DAY_NS, 0);
        assert_eq!(Tier::Hour.schema().fields().len(), 13);
        assert_eq!(Tier::Hour.table_schema().fields().len(), 12);
    }
}
