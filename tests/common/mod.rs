//! Test harness: the real broker, the real binary, the real store.
//!
//! Tests need a Kafka-protocol broker at `$STRATA_TEST_BROKERS` (default
//! `127.0.0.1:9092`); `scripts/test` installs and starts tansu for them.
//! When it is missing they fail with instructions, never skip.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, Float64Array, Int64Array};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use strata_storage::{Store, TableLog};

/// The broker tests run against; panics with instructions when unreachable.
pub fn broker() -> String {
    let addr = std::env::var("STRATA_TEST_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let reachable = addr
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok());
    assert!(
        reachable,
        "no Kafka broker at {addr}: run the tests with `scripts/test` (installs and starts tansu), \
         or start one with `scripts/broker.sh start`, or set STRATA_TEST_BROKERS"
    );
    addr
}

/// What an end-to-end test needs: the broker, a topic and a store of its
/// own.
pub struct Bed {
    pub brokers: String,
    pub topic: String,
    pub dir: tempfile::TempDir,
    /// `file://` URL of `dir`.
    pub store: String,
}

impl Bed {
    pub fn new(test: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            brokers: broker(),
            topic: unique_topic(test),
            store: format!("file://{}", dir.path().display()),
            dir,
        }
    }

    /// Kafka settings for this bed's topic.
    pub fn kafka(&self) -> strata_pipeline::KafkaConfig {
        let mut k = strata_pipeline::KafkaConfig::new(&self.brokers);
        k.topic = self.topic.clone();
        k.dlq_topic = format!("{}.dlq", self.topic);
        k
    }

    /// Starts `strata ingest` on this bed (flushing every 300 ms, plus
    /// `extra` arguments), produces `messages` and waits until the raw tier
    /// holds `rows` rows.
    pub async fn ingest(
        &self,
        extra: &[&str],
        messages: &[(String, Vec<u8>)],
        rows: u64,
    ) -> Strata {
        let mut args = vec![
            "ingest",
            "--brokers",
            &self.brokers,
            "--topic",
            &self.topic,
            "--store",
            &self.store,
            "--flush-interval",
            "300ms",
        ];
        args.extend_from_slice(extra);
        let ingest = Strata::spawn(&args);
        ingest.wait_for_line("ingest started", Duration::from_secs(60));
        produce_raw(&self.brokers, &self.topic, messages).await;
        wait_for_rows(self.dir.path(), rows, Duration::from_secs(60), &ingest).await;
        ingest
    }

    /// Asserts the raw tier holds exactly `samples` distinct samples whose
    /// values sum to `value_sum`: nothing lost, nothing doubled.
    pub async fn assert_exactly(&self, samples: u64, value_sum: f64, context: &str) {
        let got = query_row(
            self.dir.path(),
            "SELECT count(*), count(DISTINCT concat(metric_name, labels['host'], \
             labels['region'], CAST(ts AS VARCHAR))), sum(value) FROM metrics_raw",
        )
        .await;
        assert_eq!(got[0] as u64, samples, "rows; {context}");
        assert_eq!(got[1] as u64, samples, "distinct samples; {context}");
        assert!(
            (got[2] - value_sum).abs() < 1e-6 * value_sum.abs().max(1.0),
            "sum {} != produced {value_sum}; {context}",
            got[2]
        );
    }
}

/// A topic name no other test uses.
pub fn unique_topic(test: &str) -> String {
    format!(
        "t-{test}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Produces `(key, payload)` messages and waits for every acknowledgement.
pub async fn produce_raw(brokers: &str, topic: &str, messages: &[(String, Vec<u8>)]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    let mut deliveries = Vec::new();
    for (key, payload) in messages {
        let rec = FutureRecord::to(topic)
            .key(key.as_bytes())
            .payload(&payload[..]);
        deliveries.push(producer.send_result(rec).map_err(|(e, _)| e).unwrap());
    }
    producer.flush(Duration::from_secs(30)).unwrap();
    for d in deliveries {
        d.await.unwrap().map_err(|(e, _)| e).unwrap();
    }
}

/// A running `strata` process, killed when dropped. Its stderr is kept (and
/// echoed when `TEST_LOG` is set).
pub struct Strata {
    child: Child,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Strata {
    pub fn spawn<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            // Background maintenance runs only where a test asks for it
            // (retention would expire the fixed, old event times tests use).
            .env(
                "STRATA_MAINTENANCE_INTERVAL",
                std::env::var("STRATA_MAINTENANCE_INTERVAL").unwrap_or_else(|_| "0".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn strata");
        let log = Arc::new(Mutex::new(Vec::new()));
        let echo = std::env::var_os("TEST_LOG").is_some();
        for stream in [
            Box::new(child.stderr.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stdout.take().unwrap()),
        ] {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if echo {
                        eprintln!("[strata] {line}");
                    }
                    log.lock().unwrap().push(line);
                }
            });
        }
        Self { child, log }
    }

    /// Waits for a log line containing `needle` and returns it.
    pub fn wait_for_line(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.log.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no line with {needle:?}; log:\n{}",
                self.dump()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn dump(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGKILL: no flush, no goodbye.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(mut self) {
        use nix::sys::signal::{Signal, kill};
        use nix::unistd::Pid;
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                assert!(
                    status.success(),
                    "strata exited with {status}; log:\n{}",
                    self.dump()
                );
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("strata did not stop on SIGTERM; log:\n{}", self.dump());
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Strata {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `sql` directly on the store at `dir` and returns the first row's
/// columns as f64 (integers converted).
pub async fn query_row(dir: &std::path::Path, sql: &str) -> Vec<f64> {
    let store = Store::open(&format!("file://{}", dir.display())).unwrap();
    let log = Arc::new(TableLog::open(store).await.unwrap());
    let engine = strata_query::QueryEngine::new(log).unwrap();
    let (_, batches) = engine.sql(sql).await.unwrap();
    let batch = batches.iter().find(|b| b.num_rows() > 0).expect("one row");
    batch
        .columns()
        .iter()
        .map(|c| {
            if let Some(a) = c.as_any().downcast_ref::<Int64Array>() {
                a.value(0) as f64
            } else if let Some(a) = c.as_any().downcast_ref::<Float64Array>() {
                if a.is_null(0) { 0.0 } else { a.value(0) }
            } else {
                panic!("unexpected column type {:?}", c.data_type())
            }
        })
        .collect()
}

/// Polls `count(*)` of `metrics_raw` until it equals `want`.
pub async fn wait_for_rows(dir: &std::path::Path, want: u64, timeout: Duration, proc: &Strata) {
    let deadline = Instant::now() + timeout;
    let mut got = 0.0;
    while Instant::now() < deadline {
        got = query_row(dir, "SELECT count(*) FROM metrics_raw").await[0];
        if got as u64 == want {
            return;
        }
        assert!(
            got as u64 <= want,
            "more rows ({got}) than produced ({want}); log:\n{}",
            proc.dump()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "{got} rows after {timeout:?}, want {want}; log:\n{}",
        proc.dump()
    );
}

/// Every row of the raw tier as `name{labels} ts_ns value`, sorted.
pub async fn raw_rows(dir: &std::path::Path) -> Vec<String> {
    let store = Store::open(&format!("file://{}", dir.display())).unwrap();
    let log = Arc::new(TableLog::open(store).await.unwrap());
    let engine = strata_query::QueryEngine::new(log).unwrap();
    let (_, batches) = engine
        .sql("SELECT metric_name, labels, CAST(ts AS BIGINT) AS ts, value FROM metrics_raw")
        .await
        .unwrap();
    use datafusion::arrow::array::AsArray;
    let mut rows = Vec::new();
    for b in &batches {
        let names = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let names = names.as_string::<i32>();
        let maps: &datafusion::arrow::array::MapArray = b.column(1).as_map();
        let keys = datafusion::arrow::compute::cast(
            maps.keys(),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let values = datafusion::arrow::compute::cast(
            maps.values(),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let (keys, values) = (keys.as_string::<i32>(), values.as_string::<i32>());
        let ts = b
            .column(2)
            .as_primitive::<datafusion::arrow::datatypes::Int64Type>();
        let value = b
            .column(3)
            .as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        let offsets = maps.value_offsets();
        for r in 0..b.num_rows() {
            let labels = strata_schemas::Labels::from_pairs(
                (offsets[r] as usize..offsets[r + 1] as usize)
                    .filter(|&i| values.is_valid(i))
                    .map(|i| (keys.value(i), values.value(i))),
            );
            rows.push(format!(
                "{}{labels} {} {}",
                names.value(r),
                ts.value(r),
                value.value(r)
            ));
        }
    }
    rows.sort();
    rows
}

/// A dead letter: its headers and payload.
#[derive(Debug)]
pub struct Letter {
    pub headers: HashMap<String, String>,
    pub payload: Vec<u8>,
}

impl Letter {
    /// The headers, with the payload (as text) under `"payload"`.
    pub fn as_map(&self) -> HashMap<String, String> {
        let mut map = self.headers.clone();
        map.insert(
            "payload".into(),
            String::from_utf8_lossy(&self.payload).into_owned(),
        );
        map
    }
}

/// Reads `want` dead letters of `topic` (from `<topic>.dlq`), or what came
/// in 30 s.
pub fn dead_letters(brokers: &str, topic: &str, want: usize) -> Vec<Letter> {
    let dlq: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("{topic}-check"))
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "10")
        .create()
        .unwrap();
    dlq.subscribe(&[&format!("{topic}.dlq")]).unwrap();
    let mut letters = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while letters.len() < want && Instant::now() < deadline {
        if let Some(Ok(m)) = dlq.poll(Duration::from_millis(200)) {
            let headers = m
                .headers()
                .map(|hs| {
                    hs.iter()
                        .map(|h| {
                            (
                                h.key.to_string(),
                                String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            letters.push(Letter {
                headers,
                payload: m.payload().unwrap_or_default().to_vec(),
            });
        }
    }
    letters
}
