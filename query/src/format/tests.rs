//! Tests of every output format's shape.

use datafusion::arrow::ipc::reader::StreamReader;
use strata_schemas::{Labels, Sample, SampleBatchBuilder, Tier};

use super::*;

/// 2023-11-14T22:13:20.5Z.
const TS: i64 = 1_700_000_000_500_000_000;

fn batch() -> RecordBatch {
    let mut b = SampleBatchBuilder::new();
    b.push(Sample {
        metric_name: "cpu.load".into(),
        labels: Labels::from_pairs([("host", "web01"), ("dc", "eu \"1\"")]),
        ts_ns: TS,
        value: 0.5,
    });
    b.push(Sample {
        metric_name: "mem.used".into(),
        labels: Labels::default(),
        ts_ns: TS + 1_000_000_000,
        value: 2.0,
    });
    b.finish().unwrap()
}

fn text(format: Format, batches: &[RecordBatch]) -> String {
    let (_, body) = encode(format, &Tier::Raw.schema(), batches).unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

#[test]
fn parses_names_and_lists_the_valid_ones() {
    assert_eq!("json".parse::<Format>().unwrap(), Format::Json);
    assert_eq!("CSV".parse::<Format>().unwrap(), Format::Csv);
    assert_eq!("arrow".parse::<Format>().unwrap(), Format::Arrow);
    assert_eq!(Format::default(), Format::Json);
    let err = "xml".parse::<Format>().unwrap_err();
    assert!(err.is_user_error());
    assert!(
        err.to_string().contains("json, jsonl, csv, arrow, parquet"),
        "{err}"
    );
}

#[test]
fn json_is_an_array_of_rows_with_labels_as_objects() {
    let rows: serde_json::Value = serde_json::from_str(&text(Format::Json, &[batch()])).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([
            {
                "metric_name": "cpu.load",
                "labels": {"dc": "eu \"1\"", "host": "web01"},
                "ts": "2023-11-14T22:13:20.500Z",
                "value": 0.5
            },
            {"metric_name": "mem.used", "labels": {}, "ts": "2023-11-14T22:13:21.500Z", "value": 2.0}
        ])
    );
    assert_eq!(text(Format::Json, &[]), "[]");
    let empty = RecordBatch::new_empty(Tier::Raw.schema());
    assert_eq!(text(Format::Json, &[empty]), "[]");
}

#[test]
fn jsonl_is_one_object_per_line() {
    let out = text(Format::Jsonl, &[batch(), batch()]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4);
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["labels"]["host"], "web01");
    assert_eq!(text(Format::Jsonl, &[]), "");
}

#[test]
fn csv_has_a_header_and_labels_as_json_text() {
    let out = text(Format::Csv, &[batch()]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("metric_name,labels,ts,value"));
    assert_eq!(
        lines.next(),
        Some(
            r#"cpu.load,"{""dc"":""eu \""1\"""",""host"":""web01""}",2023-11-14T22:13:20.500Z,0.5"#
        )
    );
    assert_eq!(
        lines.next(),
        Some("mem.used,{},2023-11-14T22:13:21.500Z,2.0")
    );
    assert_eq!(lines.next(), None);
    assert_eq!(text(Format::Csv, &[]), "metric_name,labels,ts,value\n");
}

#[test]
fn nested_nulls_are_empty_csv_cells_and_lists_json_arrays() {
    let schema = Arc::new(Schema::new(vec![Field::new(
        "l",
        DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
        true,
    )]));
    let list = datafusion::arrow::array::ListArray::from_iter_primitive::<
        datafusion::arrow::datatypes::Int64Type,
        _,
        _,
    >(vec![Some(vec![Some(1), None]), None]);
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(list)]).unwrap();
    let (_, body) = encode(Format::Csv, &schema, &[batch]).unwrap();
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        "l\n\"[1,null]\"\n\"\"\n"
    );
}

#[test]
fn arrow_is_a_readable_ipc_stream() {
    let (content_type, body) = encode(Format::Arrow, &Tier::Raw.schema(), &[batch()]).unwrap();
    assert_eq!(content_type, "application/vnd.apache.arrow.stream");
    let reader = StreamReader::try_new(std::io::Cursor::new(body), None).unwrap();
    assert_eq!(reader.schema(), Tier::Raw.schema());
    let back: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    assert_eq!(back, vec![batch()]);
}

#[test]
fn parquet_is_a_readable_file() {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let (content_type, body) = encode(Format::Parquet, &Tier::Raw.schema(), &[batch()]).unwrap();
    assert_eq!(content_type, "application/vnd.apache.parquet");
    assert_eq!(&body[..4], b"PAR1");
    let reader = ParquetRecordBatchReaderBuilder::try_new(body)
        .unwrap()
        .build()
        .unwrap();
    let back: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    assert_eq!(back, vec![batch()]);
}
