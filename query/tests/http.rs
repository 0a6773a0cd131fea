//! The HTTP API through a real server on `127.0.0.1:0`: statuses, error
//! messages and the shape of every output format.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::Fixture;
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::ipc::reader::StreamReader;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server on an ephemeral port, stopped through its shutdown future.
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    client: reqwest::Client,
    _fixture: Fixture,
}

impl Server {
    async fn start(fixture: Fixture) -> Self {
        let engine = Arc::new(fixture.engine());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(strata_query::http::serve(listener, engine, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
            client: reqwest::Client::new(),
            _fixture: fixture,
        }
    }

    /// Posts `body` as is; returns status, content type and body.
    async fn post_raw(&self, body: impl Into<reqwest::Body>) -> (u16, String, bytes::Bytes) {
        let resp = self
            .client
            .post(format!("http://{}/api/v1/sql", self.addr))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, content_type, resp.bytes().await.unwrap())
    }

    async fn post(&self, request: Value) -> (u16, String, bytes::Bytes) {
        self.post_raw(request.to_string()).await
    }

    /// Posts `sql`, expects a 400, returns the error message.
    async fn bad(&self, sql: &str) -> String {
        let (status, content_type, body) = self.post(json!({ "sql": sql })).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, 400, "{sql}: {body}");
        assert_eq!(content_type, "application/json");
        body["error"].as_str().unwrap().to_string()
    }

    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn health_answers_ok_and_shutdown_is_graceful() {
    let server = Server::start(Fixture::empty().await).await;
    let resp = server
        .client
        .get(format!("http://{}/health", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
    let addr = server.addr;
    server.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn refuses_every_kind_of_write_with_400() {
    let server = Server::start(Fixture::with_hours().await).await;
    for (sql, kind) in [
        ("CREATE TABLE t (a INT)", "CREATE TABLE"),
        (
            "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'",
            "CREATE EXTERNAL TABLE",
        ),
        (
            "INSERT INTO metrics_raw SELECT * FROM metrics_raw",
            "INSERT",
        ),
        ("DELETE FROM metrics_raw WHERE value > 0", "DELETE"),
        ("UPDATE metrics_raw SET value = 0", "UPDATE"),
        ("DROP TABLE metrics_raw", "DROP TABLE"),
        ("COPY metrics_raw TO '/tmp/strata-leak.csv'", "COPY"),
        ("COPY (SELECT 1) TO '/tmp/strata-leak.parquet'", "COPY"),
        ("SET datafusion.execution.batch_size = 1", "SET"),
        ("SELECT 1; DROP TABLE metrics_raw", "2 statements"),
        ("SELECT 1; SELECT 2", "2 statements"),
    ] {
        let message = server.bad(sql).await;
        assert!(message.contains(kind), "{sql}: {message}");
        assert!(message.contains("read-only"), "{sql}: {message}");
    }
    assert!(!std::path::Path::new("/tmp/strata-leak.csv").exists());
    // The table survived all of that.
    let (status, _, body) = server
        .post(json!({"sql": "SELECT count(*) AS n FROM metrics_raw"}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        json!([{"n": 65}])
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_sql_and_bad_requests_are_400_with_a_message() {
    let server = Server::start(Fixture::with_hours().await).await;
    let message = server.bad("SELECT nope FROM metrics_raw").await;
    assert!(message.contains("No field named nope"), "{message}");
    let message = server.bad("SELEC 1").await;
    assert!(message.contains("SELEC"), "{message}");
    for sql in [
        "SELECT * FROM 'file:///etc/passwd'",
        "SELECT * FROM read_parquet('/etc/x')",
        "SELECT * FROM read_csv('/etc/passwd')",
    ] {
        let message = server.bad(sql).await;
        assert!(!message.contains("root:"), "{sql}: {message}");
    }

    let (status, _, body) = server
        .post(json!({"sql": "SELECT 1", "format": "xml"}))
        .await;
    assert_eq!(status, 400);
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("json, jsonl, csv, arrow"), "{body}");

    for raw in ["SELECT 1", "{\"query\": \"SELECT 1\"}", "{", ""] {
        let (status, _, body) = server.post_raw(raw).await;
        assert_eq!(status, 400, "{raw}");
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("invalid request body"), "{raw}: {body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn json_is_an_array_of_row_objects() {
    let server = Server::start(Fixture::with_hours().await).await;
    let sql = "SELECT metric_name, labels, ts, value FROM metrics_raw \
               WHERE metric_name = 'mem.used' ORDER BY ts LIMIT 2";
    // Default format, and named explicitly.
    for request in [json!({"sql": sql}), json!({"sql": sql, "format": "json"})] {
        let (status, content_type, body) = server.post(request).await;
        assert_eq!((status, content_type.as_str()), (200, "application/json"));
        let rows: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            rows,
            json!([
                {"metric_name": "mem.used", "labels": {"host": "web01"},
                 "ts": "2023-11-15T00:00:00Z", "value": 1.0},
                {"metric_name": "mem.used", "labels": {"host": "web01"},
                 "ts": "2023-11-15T00:00:01Z", "value": 1.0},
            ])
        );
    }
    let (status, _, body) = server
        .post(json!({"sql": "SELECT * FROM metrics_raw WHERE value < 0"}))
        .await;
    assert_eq!((status, &body[..]), (200, &b"[]"[..]));
    server.stop().await;
}

#[tokio::test]
async fn jsonl_csv_and_arrow_have_their_shapes() {
    let server = Server::start(Fixture::with_hours().await).await;
    let sql = "SELECT labels['host'] AS host, labels, count(*) AS n FROM metrics_raw \
               GROUP BY 1, 2 ORDER BY 1";

    let (status, content_type, body) = server.post(json!({"sql": sql, "format": "jsonl"})).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/x-ndjson")
    );
    let lines: Vec<Value> = std::str::from_utf8(&body)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        vec![
            json!({"host": "web01", "labels": {"host": "web01"}, "n": 35}),
            json!({"host": "web02", "labels": {"host": "web02"}, "n": 30}),
        ]
    );

    let (status, content_type, body) = server.post(json!({"sql": sql, "format": "csv"})).await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        "host,labels,n\nweb01,\"{\"\"host\"\":\"\"web01\"\"}\",35\nweb02,\"{\"\"host\"\":\"\"web02\"\"}\",30\n"
    );
    let (_, _, body) = server
        .post(json!({"sql": "SELECT ts, value FROM metrics_raw WHERE value < 0", "format": "csv"}))
        .await;
    assert_eq!(&body[..], b"ts,value\n");

    let (status, content_type, body) = server.post(json!({"sql": sql, "format": "arrow"})).await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/vnd.apache.arrow.stream")
    );
    let reader = StreamReader::try_new(std::io::Cursor::new(body), None).unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let counts: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(2).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(counts, vec![35, 30]);
    server.stop().await;
}
