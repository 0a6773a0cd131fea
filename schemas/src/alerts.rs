//! The `alerts` table: every state transition of every alert, written by
//! `strata alerts`, read by the query service; and where the evaluator
//! keeps its state in the store.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    ArrayRef, Float64Builder, StringBuilder, TimestampNanosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;

use crate::batch::labels_builder;
use crate::tier::{labels_type, ts_type};

/// SQL name of the table.
pub const TABLE: &str = "alerts";
/// Folder of the table's Parquet files, one per evaluator checkpoint.
pub const TRANSITIONS_DIR: &str = "alerts/transitions";
/// The evaluator's checkpoint (alert states, notifications, offsets).
pub const CHECKPOINT_PATH: &str = "alerts/checkpoint.json";
/// Rules and active alerts as `GET /api/v1/rules` and `/api/v1/alerts`
/// show them, rewritten at every checkpoint.
pub const STATUS_PATH: &str = "alerts/status.json";

/// Column names of the `alerts` table.
pub mod col {
    /// Event time of the evaluation that made the transition.
    pub const TS: &str = "ts";
    /// Rule group.
    pub const GROUP: &str = "group_name";
    /// Rule (alert) name.
    pub const RULE: &str = "rule";
    /// Alert labels (with `alertname`).
    pub const LABELS: &str = "labels";
    /// The state entered: `pending`, `firing`, `resolved`, `inactive`.
    pub const STATE: &str = "state";
    /// The state left.
    pub const PREVIOUS: &str = "previous_state";
    /// The expression's value.
    pub const VALUE: &str = "value";
    /// Alertmanager's fingerprint of the labels, 16 hex digits.
    pub const FINGERPRINT: &str = "fingerprint";
}

static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new(col::TS, ts_type(), false),
        Field::new(col::GROUP, DataType::Utf8, false),
        Field::new(col::RULE, DataType::Utf8, false),
        Field::new(col::LABELS, labels_type(), false),
        Field::new(col::STATE, DataType::Utf8, false),
        Field::new(col::PREVIOUS, DataType::Utf8, false),
        Field::new(col::VALUE, DataType::Float64, false),
        Field::new(col::FINGERPRINT, DataType::Utf8, false),
    ]))
});

/// The table's schema.
pub fn schema() -> SchemaRef {
    Arc::clone(&SCHEMA)
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionRow {
    /// Unix milliseconds.
    pub ts_ms: i64,
    /// Rule group.
    pub group: String,
    /// Rule name.
    pub rule: String,
    /// Alert labels, sorted by name.
    pub labels: Vec<(String, String)>,
    /// State entered.
    pub state: String,
    /// State left.
    pub previous: String,
    /// The expression's value.
    pub value: f64,
    /// Fingerprint of the labels.
    pub fingerprint: String,
}

/// `rows` as one batch of [`schema`].
pub fn batch(rows: &[TransitionRow]) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let mut ts = TimestampNanosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut group = StringBuilder::new();
    let mut rule = StringBuilder::new();
    let mut labels = labels_builder();
    let mut state = StringBuilder::new();
    let mut previous = StringBuilder::new();
    let mut value = Float64Builder::with_capacity(n);
    let mut fingerprint = StringBuilder::new();
    for r in rows {
        ts.append_value(r.ts_ms.saturating_mul(1_000_000));
        group.append_value(&r.group);
        rule.append_value(&r.rule);
        for (k, v) in &r.labels {
            labels.keys().append_value(k);
            labels.values().append_value(v);
        }
        labels.append(true)?;
        state.append_value(&r.state);
        previous.append_value(&r.previous);
        value.append_value(r.value);
        fingerprint.append_value(&r.fingerprint);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(ts.finish()),
        Arc::new(group.finish()),
        Arc::new(rule.finish()),
        Arc::new(labels.finish()),
        Arc::new(state.finish()),
        Arc::new(previous.finish()),
        Arc::new(value.finish()),
        Arc::new(fingerprint.finish()),
    ];
    RecordBatch::try_new(schema(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_make_a_batch_of_the_schema() {
        let row = TransitionRow {
            ts_ms: 1_700_000_000_000,
            group: "g".into(),
            rule: "HighLoad".into(),
            labels: vec![
                ("alertname".into(), "HighLoad".into()),
                ("host".into(), "a".into()),
            ],
            state: "firing".into(),
            previous: "pending".into(),
            value: 0.9,
            fingerprint: "0123456789abcdef".into(),
        };
        let b = batch(&[row.clone(), row]).unwrap();
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.schema(), schema());
    }
}
