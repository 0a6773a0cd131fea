//! Query results as response bodies: JSON, JSON lines, CSV or Arrow IPC.
//!
//! - `json`: one array of row objects, `[]` when there are no rows; every
//!   column is present in every object (`null` when null).
//! - `jsonl`: one row object per line.
//! - `csv`: a header line, always, then one line per row.
//! - `arrow`: an Arrow IPC stream, lossless, for programs.
//! - `parquet`: one Parquet file (zstd), lossless, for DuckDB, pandas,
//!   Spark and other tools that read files.
//!
//! In the text formats timestamps are RFC 3339 strings
//! (`2023-11-14T22:13:20.500Z`) and the `labels` map is a JSON object,
//! `{"host":"web01"}`: nested as such in JSON, as JSON text in a CSV cell
//! (the Arrow CSV writer cannot write nested columns, so they are turned
//! into JSON strings first).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringBuilder};
use datafusion::arrow::csv;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::json::writer::{
    EncoderOptions, JsonArray, JsonFormat, LineDelimited, WriterBuilder, make_encoder,
};

use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};

/// An output format of the SQL endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A JSON array of row objects: the default, easiest to consume.
    #[default]
    Json,
    /// Newline-delimited JSON objects: streamable, one row per line.
    Jsonl,
    /// CSV with a header line: for spreadsheets and shell tools.
    Csv,
    /// An Arrow IPC stream: lossless types, for programs and `strata sql`.
    Arrow,
    /// A Parquet file: lossless types, for tools that read files.
    Parquet,
}

impl Format {
    /// Every format, in the order the error message lists them.
    pub const ALL: [Format; 5] = [
        Format::Json,
        Format::Jsonl,
        Format::Csv,
        Format::Arrow,
        Format::Parquet,
    ];

    /// The name a request uses for this format.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
            Format::Arrow => "arrow",
            Format::Parquet => "parquet",
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Jsonl => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8; header=present",
            Format::Arrow => "application/vnd.apache.arrow.stream",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = Error;

    /// Parses a format name, ignoring case; an unknown name is a user error
    /// listing the valid ones.
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|f| f.name()).collect();
                Error::BadRequest(format!(
                    "unknown format {s:?}; valid formats: {}",
                    names.join(", ")
                ))
            })
    }
}

/// Encodes a result of `schema` as a response body in `format`, returning
/// the body's content type with it.
pub fn encode(
    format: Format,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(&'static str, Bytes)> {
    let body = match format {
        Format::Json => json::<JsonArray>(batches)?,
        Format::Jsonl => json::<LineDelimited>(batches)?,
        Format::Csv => csv(schema, batches)?,
        Format::Arrow => {
            let mut writer = StreamWriter::try_new(Vec::new(), schema)?;
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
            writer.into_inner()?
        }
        Format::Parquet => parquet(schema, batches)?,
    };
    Ok((format.content_type(), Bytes::from(body)))
}

fn parquet(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let parquet_error = |e: ParquetError| ArrowError::ExternalError(Box::new(e));
    let mut writer = ArrowWriter::try_new(Vec::new(), Arc::clone(schema), Some(properties))
        .map_err(parquet_error)?;
    for batch in batches {
        writer.write(batch).map_err(parquet_error)?;
    }
    Ok(writer.into_inner().map_err(parquet_error)?)
}

/// JSON options: every column in every row, nulls explicit.
fn json_options() -> EncoderOptions {
    EncoderOptions::default().with_explicit_nulls(true)
}

fn json<F: JsonFormat>(batches: &[RecordBatch]) -> Result<Vec<u8>, ArrowError> {
    let mut writer = WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, F>(Vec::new());
    for batch in batches {
        writer.write(batch)?;
    }
    writer.finish()?;
    Ok(writer.into_inner())
}

fn csv(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Vec<u8>, ArrowError> {
    let flat_schema = Arc::new(flatten_schema(schema));
    let mut writer = csv::WriterBuilder::new()
        .with_header(true)
        .build(Vec::new());
    // Writing an empty batch first puts the header out even when there are
    // no rows.
    writer.write(&RecordBatch::new_empty(Arc::clone(&flat_schema)))?;
    for batch in batches {
        let columns = batch
            .schema()
            .fields()
            .iter()
            .zip(batch.columns())
            .map(|(field, column)| flatten_column(field, column))
            .collect::<Result<Vec<_>, _>>()?;
        writer.write(&RecordBatch::try_new(Arc::clone(&flat_schema), columns)?)?;
    }
    Ok(writer.into_inner())
}

/// `schema` with every nested column (map, struct, list) turned into a
/// nullable string column of the same name.
fn flatten_schema(schema: &Schema) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if f.data_type().is_nested() {
                Field::new(f.name(), DataType::Utf8, true)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// A nested column as its values' JSON text; other columns unchanged.
fn flatten_column(field: &FieldRef, column: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    if !column.data_type().is_nested() {
        return Ok(Arc::clone(column));
    }
    let options = json_options();
    let mut encoder = make_encoder(field, column.as_ref(), &options)?;
    let mut out = StringBuilder::with_capacity(column.len(), column.len() * 32);
    let mut buf = Vec::with_capacity(64);
    for i in 0..column.len() {
        if encoder.is_null(i) {
            out.append_null();
            continue;
        }
        buf.clear();
        encoder.encode(i, &mut buf);
        let text = std::str::from_utf8(&buf).map_err(|e| {
            ArrowError::JsonError(format!("JSON encoder produced invalid UTF-8: {e}"))
        })?;
        out.append_value(text);
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests;
