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
}

/// A storage tier. Each tier is one SQL table and one folder of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Every accepted sample, as produced.
    Raw,
}

impl Tier {
    /// All tiers, finest first.
    pub const ALL: [Tier; 1] = [Tier::Raw];

    /// The SQL table name of this tier.
    pub fn table_name(self) -> &'static str {
        match self {
            Tier::Raw => "metrics_raw",
        }
    }

    /// The folder of this tier under the store's root.
    pub fn dir(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
        }
    }

    /// The Arrow schema of this tier's files and table.
    pub fn schema(self) -> SchemaRef {
        match self {
            Tier::Raw => Arc::clone(&RAW_SCHEMA),
        }
    }

    /// The name of this tier's time column.
    pub fn time_column(self) -> &'static str {
        match self {
            Tier::Raw => col::TS,
        }
    }
}

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
