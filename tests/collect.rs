//! The HTTP push collector on the real broker, through the real binary:
//! `strata up` stores line protocol (every precision, gzip) and JSON in
//! the raw tier; `strata collect` produces the seed's JSON and Prometheus
//! remote write (built and sent by a real client library) to the topic;
//! every limit answers its status and message and stores nothing it
//! refused; and during a broker outage the collector answers 503 and loses
//! nothing it acknowledged.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use reqwest::StatusCode;
use strata_pipeline::decode::{DecodeLimits, json};
use strata_schemas::{Labels, Sample};

/// A running `strata collect` on `topic`, and its base URL.
struct Collect {
    proc: Strata,
    url: String,
}

impl Collect {
    fn spawn(brokers: &str, topic: &str, extra: &[&str]) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec![
            "collect",
            "--brokers",
            brokers,
            "--topic",
            topic,
            "--listen",
            &listen,
        ];
        args.extend_from_slice(extra);
        let proc = Strata::spawn(&args);
        proc.wait_for_line("collector listening", Duration::from_secs(60));
        Self {
            proc,
            url: format!("http://{listen}"),
        }
    }
}

/// Request headers, `(name, value)`.
type Headers<'a> = &'a [(&'a str, &'a str)];

/// An HTTP answer: status, `Retry-After`, body.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    retry_after: Option<String>,
    body: String,
}

async fn post(url: &str, headers: Headers<'_>, body: Vec<u8>) -> Answer {
    let mut req = reqwest::Client::new()
        .post(url)
        .timeout(Duration::from_secs(60))
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("the collector answers");
    Answer {
        status: resp.status(),
        retry_after: resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string()),
        body: resp.text().await.unwrap(),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `name{labels} ts_ns value`, the form every check compares.
fn row(s: &Sample) -> String {
    format!("{}{} {} {}", s.metric_name, s.labels, s.ts_ns, s.value)
}

/// Every message of `topic` as `(key, samples)`, read until the messages
/// hold `want` samples and then for one more second, to catch extras.
fn read_topic(brokers: &str, topic: &str, want: usize) -> Vec<(Vec<u8>, Vec<Sample>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("{topic}-check"))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in metadata.topics()[0].partitions() {
        tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
            .unwrap();
    }
    assert!(tpl.count() > 0, "topic {topic} has no partitions");
    consumer.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut samples = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut quiet_until: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if quiet_until.is_some_and(|q| now >= q) || now >= deadline {
            break;
        }
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            let d = json::decode(
                m.payload().unwrap_or_default(),
                DecodeLimits::default(),
                i64::MAX / 2,
            );
            assert!(
                d.rejected.is_empty(),
                "not the seed's JSON: {:?}",
                d.rejected
            );
            samples += d.samples.len();
            out.push((m.key().unwrap_or_default().to_vec(), d.samples));
        }
        if samples >= want && quiet_until.is_none() {
            quiet_until = Some(Instant::now() + Duration::from_secs(1));
        }
    }
    out
}

/// The samples of [`read_topic`] as sorted rows.
fn topic_rows(brokers: &str, topic: &str, want: usize) -> Vec<String> {
    let mut rows: Vec<String> = read_topic(brokers, topic, want)
        .iter()
        .flat_map(|(_, s)| s.iter().map(row))
        .collect();
    rows.sort();
    rows
}

/// `strata up --collect-addr`: line protocol in each precision and
/// gzipped, and JSON, pushed over HTTP, queried from the raw tier.
#[tokio::test(flavor = "multi_thread")]
async fn up_stores_line_protocol_in_every_precision_and_gzip() {
    let bed = Bed::new("collect-up");
    let collect_addr = format!("127.0.0.1:{}", free_port());
    let up = Strata::spawn(&[
        "up",
        "--brokers",
        &bed.brokers,
        "--topic",
        &bed.topic,
        "--store",
        &bed.store,
        "--http-addr",
        &format!("127.0.0.1:{}", free_port()),
        "--pg-addr",
        &format!("127.0.0.1:{}", free_port()),
        "--collect-addr",
        &collect_addr,
        "--flush-interval",
        "200ms",
    ]);
    up.wait_for_line("collector listening", Duration::from_secs(60));
    let write = format!("http://{collect_addr}/api/v1/write");
    let gz = [("Content-Encoding", "gzip")];
    let cases: [(String, Headers, Vec<u8>); 8] = [
        (
            write.clone(),
            &[],
            b"cpu,host=a,region=eu usage_idle=99.5,usage_user=0.5 1767225600000000000\n".to_vec(),
        ),
        (
            format!("{write}?precision=ns"),
            &[],
            b"cpu,host=b usage_idle=42 1767225600000000001".to_vec(),
        ),
        (
            format!("{write}?precision=us&db=telegraf"),
            &[],
            b"mem,host=a used=1024i 1767225601000001\n".to_vec(),
        ),
        (
            format!("{write}?precision=ms"),
            &[],
            b"disk,host=b,path=/data free=3.25 1767225602003\n".to_vec(),
        ),
        (
            format!("{write}?precision=s"),
            &[],
            b"net,host=c rx=7u 1767225603\n".to_vec(),
        ),
        (
            write.clone(),
            &gz,
            gzip(b"load,host=a avg1=0.75 1767225604000000000\nload,host=b avg1=1.5 1767225604000000000\n"),
        ),
        (
            format!("{write}?precision=s"),
            &gz,
            gzip(b"load,host=a avg1=0.25 1767225605\n"),
        ),
        (
            write.clone(),
            &[("Content-Type", "application/json")],
            br#"[{"metric_name": "json.m", "labels": {"k": "v"}, "timestamp": 1767225606, "value": 2}]"#
                .to_vec(),
        ),
    ];
    for (url, headers, body) in cases {
        let a = post(&url, headers, body).await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "{url}: {a:?}");
    }
    let want = [
        r#"cpu.usage_idle{host="a",region="eu"} 1767225600000000000 99.5"#,
        r#"cpu.usage_idle{host="b"} 1767225600000000001 42"#,
        r#"cpu.usage_user{host="a",region="eu"} 1767225600000000000 0.5"#,
        r#"disk.free{host="b",path="/data"} 1767225602003000000 3.25"#,
        r#"json.m{k="v"} 1767225606000000000 2"#,
        r#"load.avg1{host="a"} 1767225604000000000 0.75"#,
        r#"load.avg1{host="a"} 1767225605000000000 0.25"#,
        r#"load.avg1{host="b"} 1767225604000000000 1.5"#,
        r#"mem.used{host="a"} 1767225601000001000 1024"#,
        r#"net.rx{host="c"} 1767225603000000000 7"#,
    ];
    wait_for_rows(
        bed.dir.path(),
        want.len() as u64,
        Duration::from_secs(60),
        &up,
    )
    .await;
    assert_eq!(raw_rows(bed.dir.path()).await, want);
    up.terminate();
}

/// The seed's JSON: one message per series per request, keyed like
/// `strata produce`; a bad element is refused by index, the rest stored.
#[tokio::test(flavor = "multi_thread")]
async fn seed_json_is_produced_one_message_per_series() {
    let bed = Bed::new("collect-json");
    let c = Collect::spawn(&bed.brokers, &bed.topic, &[]);
    let write = format!("{}/api/v1/write", c.url);
    let array = br#"[
        {"metric_name": "app.requests", "labels": {"host": "a"}, "timestamp": 1767225600, "value": 1},
        {"metric_name": "app.requests", "labels": {"host": "a"}, "timestamp": 1767225601, "value": 2},
        {"metric_name": "app.errors", "labels": {"host": "b"}, "timestamp": "2026-01-01T00:00:02Z", "value": 0.5}
    ]"#;
    let a = post(
        &write,
        &[("Content-Type", "application/json")],
        array.to_vec(),
    )
    .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{a:?}");
    // No Content-Type: detected by the leading `{`; InfluxDB 1.x's path.
    let one = br#" {"metric_name": "app.up", "timestamp": 1767225603000, "value": 1}"#;
    let a = post(&format!("{}/write?db=x", c.url), &[], one.to_vec()).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{a:?}");
    let partial = br#"[
        {"metric_name": "app.requests", "labels": {"host": "c"}, "timestamp": 1767225604, "value": 4},
        {"metric_name": "app.requests", "labels": {"host": "c"}, "timestamp": 1767225605, "value": "high"},
        {"metric_name": "app.requests", "labels": {"host": "c"}, "timestamp": 1767225606, "value": 6}
    ]"#;
    let a = post(&write, &[], partial.to_vec()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{a:?}");
    let body: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(body["stored"], 2, "{body}");
    assert_eq!(body["refused"][0]["at"], "element 1", "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "partial write: 2 samples stored; refused: element 1: \"value\" must be a number"
        ),
        "{error}"
    );

    let messages = read_topic(&bed.brokers, &bed.topic, 6);
    let mut rows: Vec<String> = Vec::new();
    for (key, samples) in &messages {
        // One series per message, keyed by its series key.
        let series: BTreeSet<_> = samples.iter().map(|s| s.series_key()).collect();
        assert_eq!(series.len(), 1, "{samples:?}");
        assert_eq!(key, &samples[0].series_key().0.to_be_bytes());
        rows.extend(samples.iter().map(row));
    }
    // Request 1 is two series, two messages; request 2 one; request 3 one.
    assert_eq!(messages.len(), 4, "{messages:?}");
    rows.sort();
    assert_eq!(
        rows,
        [
            r#"app.errors{host="b"} 1767225602000000000 0.5"#,
            r#"app.requests{host="a"} 1767225600000000000 1"#,
            r#"app.requests{host="a"} 1767225601000000000 2"#,
            r#"app.requests{host="c"} 1767225604000000000 4"#,
            r#"app.requests{host="c"} 1767225606000000000 6"#,
            r#"app.up{} 1767225603000000000 1"#,
        ]
    );
    c.proc.terminate();
}

/// Remote write from a real client library: `prometheus-reqwest-remote-write`
/// turns a `prometheus` registry's metric families into a `WriteRequest`
/// and sends it with its own request (snappy, protobuf, its headers).
#[tokio::test(flavor = "multi_thread")]
async fn remote_write_from_a_real_client_library() {
    use prometheus::{Gauge, Histogram, HistogramOpts, IntCounterVec, Opts, Registry};
    use prometheus_reqwest_remote_write::WriteRequest;

    let bed = Bed::new("collect-prom");
    let c = Collect::spawn(&bed.brokers, &bed.topic, &[]);
    let registry = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new("http_requests_total", "Requests served"),
        &["method", "code"],
    )
    .unwrap();
    let temperature = Gauge::new("temperature_celsius", "Room temperature").unwrap();
    let latency = Histogram::with_opts(
        HistogramOpts::new("latency_seconds", "Latency").buckets(vec![0.1, 1.0]),
    )
    .unwrap();
    registry.register(Box::new(requests.clone())).unwrap();
    registry.register(Box::new(temperature.clone())).unwrap();
    registry.register(Box::new(latency.clone())).unwrap();
    requests.with_label_values(&["GET", "200"]).inc_by(3);
    requests.with_label_values(&["POST", "500"]).inc();
    temperature.set(21.5);
    latency.observe(0.05);
    latency.observe(0.5);

    let request = WriteRequest::from_metric_families(
        registry.gather(),
        Some(vec![("instance".to_string(), "test:9100".to_string())]),
    )
    .unwrap()
    .sorted();
    // What the request holds, read through the library's own types.
    let mut want: Vec<String> = Vec::new();
    for series in &request.timeseries {
        let name = &series
            .labels
            .iter()
            .find(|l| l.name == "__name__")
            .unwrap()
            .value;
        let labels = Labels::from_pairs(
            series
                .labels
                .iter()
                .filter(|l| l.name != "__name__")
                .map(|l| (l.name.as_str(), l.value.as_str())),
        );
        for s in &series.samples {
            want.push(format!(
                "{name}{labels} {} {}",
                s.timestamp * 1_000_000,
                s.value
            ));
        }
    }
    want.sort();
    assert!(want.len() >= 8, "{want:?}");
    assert!(
        want.iter().any(|r| r
            .starts_with(r#"http_requests_total{code="200",instance="test:9100",method="GET"} "#)
            && r.ends_with(" 3")),
        "{want:?}"
    );
    assert!(
        want.iter()
            .any(|r| r.starts_with("temperature_celsius{") && r.ends_with(" 21.5")),
        "{want:?}"
    );

    let http = request
        .build_http_request(
            reqwest_013::Client::new(),
            &format!("{}/api/v1/prom/write", c.url),
            "strata-test",
        )
        .unwrap();
    let resp = reqwest_013::Client::new().execute(http).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap();
    assert_eq!(status, 204, "{body}");
    assert_eq!(topic_rows(&bed.brokers, &bed.topic, want.len()), want);
    c.proc.terminate();
}

/// Every limit answers its status and message, and nothing it refused
/// reaches the topic.
#[tokio::test(flavor = "multi_thread")]
async fn limits_answer_their_status_and_store_only_what_passed() {
    let bed = Bed::new("collect-limits");
    let c = Collect::spawn(
        &bed.brokers,
        &bed.topic,
        &[
            "--max-body-size",
            "2KiB",
            "--max-samples-per-request",
            "5",
            "--max-labels-per-series",
            "3",
            "--max-label-name-length",
            "10",
            "--max-label-value-length",
            "20",
            "--max-series-per-metric",
            "2",
        ],
    );
    let write = format!("{}/api/v1/write", c.url);
    let prom = format!("{}/api/v1/prom/write", c.url);
    let t = 1_767_225_600_000_000_000i64;
    let line = |s: &str| s.as_bytes().to_vec();
    let mut stored: Vec<String> = Vec::new();

    let check = |a: &Answer, status: StatusCode, needles: &[&str]| {
        assert_eq!(a.status, status, "{a:?}");
        let body: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        let error = body["error"].as_str().unwrap();
        for n in needles {
            assert!(error.contains(n), "{n:?} not in {error:?}");
        }
    };

    // Body size, as sent and once decompressed: 413.
    let big = format!("m,host=a v=1 {t}\n").repeat(100);
    assert!(big.len() > 2048);
    let a = post(&write, &[], line(&big)).await;
    check(
        &a,
        StatusCode::PAYLOAD_TOO_LARGE,
        &["larger than 2048 bytes", "--max-body-size"],
    );
    let bomb = gzip(&vec![b'#'; 100_000]);
    assert!(bomb.len() < 2048);
    let a = post(&write, &[("Content-Encoding", "gzip")], bomb).await;
    check(&a, StatusCode::PAYLOAD_TOO_LARGE, &["once decompressed"]);

    // Samples per request: 413, nothing stored.
    let six: String = (0..6)
        .map(|i| format!("m,host=a v={i} {}\n", t + i))
        .collect();
    let a = post(&write, &[], line(&six)).await;
    check(
        &a,
        StatusCode::PAYLOAD_TOO_LARGE,
        &["6 samples", "--max-samples-per-request"],
    );

    // Labels: count, name length, value length; 400 naming the series,
    // the good line of the request stored.
    let body = format!(
        "m,a=1,b=2,c=3,d=4 v=1 {t}\nm,host=ok v=2 {t}\nm,averyverylongname=x v=3 {t}\nm,host={} v=4 {t}\n",
        "a".repeat(25)
    );
    let a = post(&write, &[], line(&body)).await;
    check(
        &a,
        StatusCode::BAD_REQUEST,
        &[
            "partial write: 1 sample stored",
            r#"series m.v{a="1",b="2",c="3",d="4"} (1 sample): 4 labels, more than the 3 allowed (--max-labels-per-series)"#,
            "label name of 17 bytes, longer than the 10 allowed (--max-label-name-length)",
            r#"label "host" has a value of 25 bytes"#,
        ],
    );
    stored.push(format!(r#"m.v{{host="ok"}} {t} 2"#));

    // Cardinality: two series of `card.v` pass, a third is refused, the
    // known ones still pass.
    for host in ["a", "b"] {
        let a = post(&write, &[], line(&format!("card,host={host} v=1 {t}"))).await;
        assert_eq!(a.status, StatusCode::NO_CONTENT, "{a:?}");
        stored.push(format!(r#"card.v{{host="{host}"}} {t} 1"#));
    }
    let a = post(&write, &[], line(&format!("card,host=c v=1 {t}"))).await;
    check(
        &a,
        StatusCode::BAD_REQUEST,
        &[
            "nothing stored",
            r#"series card.v{host="c"}"#,
            "already has 2 series in this collector (--max-series-per-metric)",
        ],
    );
    let a = post(&write, &[], line(&format!("card,host=a v=2 {}", t + 1))).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{a:?}");
    stored.push(format!(r#"card.v{{host="a"}} {} 2"#, t + 1));

    // A line that does not parse and one from the far future: named by
    // number, the other stored.
    let a = post(
        &write,
        &[],
        line(&format!(
            "ok v=1 {t}\nnot line protocol\nok v=3 {}",
            chrono::Utc::now().timestamp_nanos_opt().unwrap() + 2 * 86_400_000_000_000
        )),
    )
    .await;
    check(
        &a,
        StatusCode::BAD_REQUEST,
        &[
            "partial write: 1 sample stored",
            "line 2: ",
            "line 3: timestamp",
            "ahead of this server's clock",
        ],
    );
    let body: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(body["refused"][0]["at"], "line 2", "{body}");
    assert_eq!(body["refused"][1]["at"], "line 3", "{body}");
    assert_eq!(body["refused"].as_array().unwrap().len(), 2, "{body}");
    stored.push(format!("ok.v{{}} {t} 1"));

    // String fields are not stored, and said so.
    let a = post(&write, &[], line(&format!("s,host=a v=5,note=\"hi\" {t}"))).await;
    check(
        &a,
        StatusCode::BAD_REQUEST,
        &["partial write: 1 sample stored", "1 field holds no number"],
    );
    stored.push(format!(r#"s.v{{host="a"}} {t} 5"#));

    // Requests that cannot be read at all.
    let a = post(&format!("{write}?precision=h"), &[], line("m v=1 1")).await;
    check(
        &a,
        StatusCode::BAD_REQUEST,
        &["precision \"h\" is not supported"],
    );
    let a = post(&write, &[("Content-Encoding", "br")], line("m v=1 1")).await;
    check(
        &a,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &["\"br\" is not supported"],
    );
    let a = post(&prom, &[("Content-Encoding", "snappy")], line("not snappy")).await;
    check(&a, StatusCode::BAD_REQUEST, &["not snappy-compressed"]);
    let a = post(
        &prom,
        &[(
            "Content-Type",
            "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        )],
        Vec::new(),
    )
    .await;
    check(
        &a,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &["remote write 2.0"],
    );

    // Remote write: the same label limits, by series.
    let request = prometheus_reqwest_remote_write::WriteRequest {
        timeseries: vec![
            rw_series(
                &[
                    ("__name__", "rw"),
                    ("a", "1"),
                    ("b", "2"),
                    ("c", "3"),
                    ("d", "4"),
                ],
                t,
            ),
            rw_series(&[("__name__", "rw"), ("a", "1")], t),
        ],
    };
    let a = post(
        &prom,
        &[("Content-Encoding", "snappy")],
        request.encode_compressed().unwrap(),
    )
    .await;
    check(
        &a,
        StatusCode::BAD_REQUEST,
        &[
            "partial write: 1 sample stored",
            r#"series rw{a="1",b="2",c="3",d="4"}"#,
        ],
    );
    stored.push(format!(r#"rw{{a="1"}} {t} 1"#));

    stored.sort();
    assert_eq!(topic_rows(&bed.brokers, &bed.topic, stored.len()), stored);
    c.proc.terminate();
}

/// A remote-write series of one sample (value 1 at `t_ns`).
fn rw_series(labels: &[(&str, &str)], t_ns: i64) -> prometheus_reqwest_remote_write::TimeSeries {
    prometheus_reqwest_remote_write::TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| prometheus_reqwest_remote_write::Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: vec![prometheus_reqwest_remote_write::Sample {
            value: 1.0,
            timestamp: t_ns / 1_000_000,
        }],
    }
}

/// A private tansu, killed (SIGKILL) when dropped.
struct Broker(Child);

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private tansu on `port` keeping its data in `dir` (SQLite), so that
/// what it acknowledged survives its restart.
fn private_broker(dir: &std::path::Path, port: u16) -> Broker {
    let url = format!("tcp://127.0.0.1:{port}");
    let broker = Broker(
        Command::new("tansu")
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "sqlite://broker.db",
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu is installed (scripts/install-tansu.sh)"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tansu did not start on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    broker
}

/// Kill the broker while four clients write without pause: the collector
/// answers 503 with Retry-After within the produce timeout while it is
/// down, recovers when it is back, and every sample it answered 204 is in
/// the topic, including those of requests in flight at the kill.
#[tokio::test(flavor = "multi_thread")]
async fn broker_outage_answers_503_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let brokers = format!("127.0.0.1:{port}");
    let broker = private_broker(dir.path(), port);
    let topic = unique_topic("collect-outage");
    let c = Collect::spawn(&brokers, &topic, &["--produce-timeout", "2s"]);
    let stop = Arc::new(AtomicBool::new(false));
    let stored = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..4)
        .map(|id| {
            let mut w = Writer {
                id,
                url: format!("{}/api/v1/write", c.url),
                seq: 0,
                acked: Vec::new(),
                answers: HashMap::new(),
            };
            let (stop, stored) = (Arc::clone(&stop), Arc::clone(&stored));
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if w.send().await == StatusCode::NO_CONTENT {
                        stored.fetch_add(1, Ordering::Relaxed);
                    }
                }
                w
            })
        })
        .collect();
    let wait_for = async |want: usize, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(90);
        while stored.load(Ordering::Relaxed) < want {
            assert!(Instant::now() < deadline, "{what}; log:\n{}", c.proc.dump());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };

    // Up: writes are acknowledged. Then down, with requests in flight.
    wait_for(40, "no writes acknowledged").await;
    drop(broker);
    tokio::time::sleep(Duration::from_secs(8)).await;
    let during = stored.load(Ordering::Relaxed);
    // Back: the collector recovers by itself.
    let broker = private_broker(dir.path(), port);
    wait_for(during + 40, "the collector did not recover").await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    let mut answers: HashMap<u16, usize> = HashMap::new();
    for w in writers {
        let w = w.await.unwrap();
        acked.extend(w.acked);
        for (status, n) in w.answers {
            *answers.entry(status).or_default() += n;
        }
    }
    eprintln!(
        "outage: answers {answers:?}, {} samples acknowledged",
        acked.len()
    );
    assert!(
        answers.get(&503).is_some_and(|&n| n > 0),
        "no 503 while the broker was down: {answers:?}"
    );

    let found: BTreeSet<String> = topic_rows(&brokers, &topic, acked.len())
        .into_iter()
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|r| !found.contains(*r)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged samples are not in the topic, e.g. {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
    c.proc.terminate();
    drop(broker);
}

/// A client of the outage test: numbered requests, and what was
/// acknowledged.
struct Writer {
    id: usize,
    url: String,
    seq: i64,
    /// Rows of every sample answered 204.
    acked: Vec<String>,
    /// How many requests got each status.
    answers: HashMap<u16, usize>,
}

impl Writer {
    /// Sends three samples of two series, each value unique; checks that
    /// the answer came within the produce timeout (2 s) and the
    /// collector's grace (2 s), with some slack.
    async fn send(&mut self) -> StatusCode {
        let t = 1_767_225_600_000_000_000i64;
        let samples: Vec<(String, i64)> = (0..3)
            .map(|i| (format!("w{}-{}", self.id, i % 2), self.seq * 3 + i))
            .collect();
        self.seq += 1;
        let body: Vec<serde_json::Value> = samples
            .iter()
            .map(|(w, v)| {
                serde_json::json!({"metric_name": "outage.seq", "labels": {"writer": w},
                    "timestamp": t + v, "value": v})
            })
            .collect();
        let began = Instant::now();
        let a = post(&self.url, &[], serde_json::to_vec(&body).unwrap()).await;
        assert!(
            began.elapsed() < Duration::from_secs(6),
            "{:?}",
            began.elapsed()
        );
        *self.answers.entry(a.status.as_u16()).or_default() += 1;
        match a.status {
            StatusCode::NO_CONTENT => {
                self.acked.extend(
                    samples
                        .iter()
                        .map(|(w, v)| format!(r#"outage.seq{{writer="{w}"}} {} {v}"#, t + v)),
                );
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(a.retry_after.as_deref(), Some("5"), "{a:?}");
                assert!(a.body.contains("retry later"), "{a:?}");
            }
            other => panic!("unexpected answer {other}: {a:?}"),
        }
        a.status
    }
}
