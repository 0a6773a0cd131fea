//! `strata agent` as a user runs it: this machine's real metrics, to the
//! real broker (decoded as ingest decodes them) and to a collector played
//! by an axum server that answers what each test scripts (503 with
//! `Retry-After`, 500, 400, a port nobody listens on yet).

mod common;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use common::{broker, free_port, unique_topic};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use strata_pipeline::decode::{self, DecodeLimits, Format};
use strata_schemas::Sample;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// Metrics every collection on Linux has (disks: at least the root file
/// system; network: at least `lo`).
const ALWAYS: [&str; 17] = [
    "system.cpu.usage",
    "system.cpu.core.usage",
    "system.memory.total_bytes",
    "system.memory.used_bytes",
    "system.memory.available_bytes",
    "system.swap.total_bytes",
    "system.swap.used_bytes",
    "system.disk.total_bytes",
    "system.disk.available_bytes",
    "system.network.received_bytes",
    "system.network.transmitted_bytes",
    "system.network.received_packets",
    "system.network.transmitted_packets",
    "system.load1",
    "system.load5",
    "system.load15",
    "system.uptime_seconds",
];

/// A running `strata agent`, its stderr collected line by line.
struct Agent {
    child: tokio::process::Child,
    log: Arc<Mutex<Vec<String>>>,
    stderr: tokio::task::JoinHandle<()>,
}

impl Agent {
    fn spawn(args: &[&str]) -> Self {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_strata"))
            .arg("agent")
            .args(args)
            // The tests say where to push; the environment does not.
            .env_remove("STRATA_BROKERS")
            .env_remove("STRATA_COLLECTOR_URL")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info,strata=debug".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn strata agent");
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let echo = std::env::var_os("TEST_LOG").is_some();
        let l = Arc::clone(&log);
        let stderr = tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if echo {
                    eprintln!("[agent] {line}");
                }
                l.lock().unwrap().push(line);
            }
        });
        Self { child, log, stderr }
    }

    fn dump(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    async fn wait_for_line(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.log.lock().unwrap().iter().any(|l| l.contains(needle)) {
            assert!(
                Instant::now() < deadline,
                "no line with {needle:?} after {timeout:?}; log:\n{}",
                self.dump()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (at most `timeout`) for the agent to exit: its status, stdout
    /// and log.
    async fn finish(mut self, timeout: Duration) -> (ExitStatus, String, String) {
        let status = match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!(
                "the agent did not exit in {timeout:?}; log:\n{}",
                self.dump()
            ),
        };
        let mut stdout = String::new();
        let mut out = self.child.stdout.take().unwrap();
        out.read_to_string(&mut stdout).await.unwrap();
        (&mut self.stderr).await.unwrap();
        (status, stdout, self.dump())
    }
}

/// The sample count of `--once`'s summary line.
fn pushed(stdout: &str) -> usize {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("pushed "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `pushed N samples` line in {stdout:?}"))
}

/// This machine's hostname, as `gethostname` (and so the agent) reads it.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap()
}

/// Asserts `samples` are one collection of this machine: every expected
/// metric, the agent's labels on every sample, the per-metric labels, and
/// values in sane ranges.
fn check_collection(samples: &[Sample], host: &str, labels: &[(&str, &str)]) {
    let names: BTreeSet<&str> = samples.iter().map(|s| s.metric_name.as_str()).collect();
    let expected: BTreeSet<&str> = ALWAYS.into_iter().collect();
    let missing: Vec<_> = expected.difference(&names).collect();
    assert!(missing.is_empty(), "missing {missing:?} in {names:?}");
    let unexpected: Vec<_> = names.difference(&expected).collect();
    assert!(unexpected.is_empty(), "unexpected {unexpected:?}");

    let ts = samples[0].ts_ns;
    assert!(
        (now_ns() - ts).abs() < 120 * 1_000_000_000,
        "timestamp {ts} is not about now"
    );
    let mut series = BTreeSet::new();
    let mut by_name: HashMap<&str, Vec<&Sample>> = HashMap::new();
    for s in samples {
        assert_eq!(s.ts_ns, ts, "one collection, one timestamp: {s:?}");
        assert_eq!(s.labels.get("host"), Some(host), "{s:?}");
        for (k, v) in labels {
            assert_eq!(s.labels.get(k), Some(*v), "{s:?}");
        }
        assert!(s.value.is_finite() && s.value >= 0.0, "{s:?}");
        assert!(
            series.insert((s.metric_name.clone(), s.labels.clone())),
            "series twice: {s:?}"
        );
        by_name.entry(&s.metric_name).or_default().push(s);
    }
    let one = |name: &str| {
        let v = &by_name[name];
        assert_eq!(v.len(), 1, "{name} is one series: {v:?}");
        assert_eq!(v[0].labels.len(), 1 + labels.len(), "{:?}", v[0]);
        v[0].value
    };

    assert!(one("system.cpu.usage") <= 100.0);
    let cores = &by_name["system.cpu.core.usage"];
    let mut cpus: Vec<usize> = cores
        .iter()
        .map(|s| s.labels.get("cpu").unwrap().parse().unwrap())
        .collect();
    cpus.sort();
    assert_eq!(cpus, (0..cores.len()).collect::<Vec<_>>());
    assert!(cores.iter().all(|s| s.value <= 100.0), "{cores:?}");

    let total = one("system.memory.total_bytes");
    assert!(total >= 64.0 * 1024.0 * 1024.0, "total memory {total}");
    assert!(total < 1e15, "total memory {total}");
    assert!((1.0..=total).contains(&one("system.memory.used_bytes")));
    assert!((1.0..=total).contains(&one("system.memory.available_bytes")));
    assert!(one("system.swap.used_bytes") <= one("system.swap.total_bytes"));

    for load in ["system.load1", "system.load5", "system.load15"] {
        assert!(one(load) < 10_000.0, "{load}");
    }
    let uptime = one("system.uptime_seconds");
    let twenty_years = 20.0 * 365.0 * 86_400.0;
    assert!((1.0..twenty_years).contains(&uptime), "uptime {uptime}");

    let disk = |s: &Sample| {
        let l = |k| s.labels.get(k).unwrap_or_else(|| panic!("no {k}: {s:?}"));
        assert!(l("mount").starts_with('/'), "{s:?}");
        assert!(!l("device").is_empty() && !l("fstype").is_empty(), "{s:?}");
        assert_eq!(s.labels.len(), 4 + labels.len(), "{s:?}");
        (l("mount").to_string(), s.value)
    };
    let totals: HashMap<String, f64> = by_name["system.disk.total_bytes"]
        .iter()
        .map(|s| disk(s))
        .collect();
    let available: HashMap<String, f64> = by_name["system.disk.available_bytes"]
        .iter()
        .map(|s| disk(s))
        .collect();
    assert_eq!(
        totals.keys().collect::<BTreeSet<_>>(),
        available.keys().collect::<BTreeSet<_>>()
    );
    for (mount, total) in &totals {
        assert!(*total > 0.0 && available[mount] <= *total, "{mount}");
    }

    let mut interfaces: Option<BTreeSet<String>> = None;
    for name in [
        "system.network.received_bytes",
        "system.network.transmitted_bytes",
        "system.network.received_packets",
        "system.network.transmitted_packets",
    ] {
        let these: BTreeSet<String> = by_name[name]
            .iter()
            .map(|s| {
                assert_eq!(s.labels.len(), 2 + labels.len(), "{s:?}");
                s.labels.get("interface").unwrap().to_string()
            })
            .collect();
        assert!(these.contains("lo"), "{name}: {these:?}");
        let first = interfaces.get_or_insert_with(|| these.clone());
        assert_eq!(*first, these, "{name}");
    }
}

/// Decodes a JSON body as ingest does; nothing may be rejected.
fn decode_all(payload: &[u8]) -> Vec<Sample> {
    let decoded = decode::decode(Format::Json, payload, DecodeLimits::default(), now_ns());
    assert!(
        decoded.rejected.is_empty(),
        "rejected: {:?}",
        decoded.rejected
    );
    decoded.samples
}

#[tokio::test(flavor = "multi_thread")]
async fn once_to_kafka_produces_one_keyed_message_per_series() {
    let brokers = broker();
    let topic = unique_topic("agent");
    let agent = Agent::spawn(&[
        "--once",
        "--brokers",
        &brokers,
        "--topic",
        &topic,
        "--host",
        "agent-test-host",
        "--label",
        "env=ci",
        "--label",
        "team=metrics",
    ]);
    let (status, stdout, log) = agent.finish(Duration::from_secs(120)).await;
    assert!(status.success(), "{status}; log:\n{log}");
    let n = pushed(&stdout);
    assert!(
        stdout.contains(&format!("Kafka topic {topic} at {brokers}")),
        "{stdout}"
    );

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("{topic}-check"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let mut samples = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Read until every pushed sample arrived, then a little longer: none
    // may come twice.
    let mut quiet_until: Option<Instant> = None;
    while quiet_until.is_none_or(|t| Instant::now() < t) {
        assert!(
            Instant::now() < deadline,
            "{} of {n} messages",
            samples.len()
        );
        let Some(m) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.unwrap();
        let got = decode_all(m.payload().unwrap());
        assert_eq!(got.len(), 1, "one sample per message");
        let key = got[0].series_key().0.to_be_bytes();
        assert_eq!(m.key(), Some(&key[..]), "keyed by series: {:?}", got[0]);
        samples.extend(got);
        if samples.len() >= n && quiet_until.is_none() {
            quiet_until = Some(Instant::now() + Duration::from_secs(2));
        }
    }
    assert_eq!(samples.len(), n, "messages = samples pushed");
    check_collection(
        &samples,
        "agent-test-host",
        &[("env", "ci"), ("team", "metrics")],
    );
}

/// What the scripted collector answers and what it received.
#[derive(Default)]
struct Collector {
    /// Answers to the next requests (status, `Retry-After`); then 204.
    script: Mutex<VecDeque<(StatusCode, Option<&'static str>)>>,
    /// Every request: when, its `Content-Type`, its body.
    requests: Mutex<Vec<(Instant, Option<String>, Bytes)>>,
}

impl Collector {
    fn answering(script: &[(StatusCode, Option<&'static str>)]) -> Arc<Self> {
        Arc::new(Self {
            script: Mutex::new(script.iter().copied().collect()),
            requests: Mutex::default(),
        })
    }

    fn requests(&self) -> Vec<(Instant, Option<String>, Bytes)> {
        self.requests.lock().unwrap().clone()
    }
}

async fn write(State(c): State<Arc<Collector>>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string());
    c.requests
        .lock()
        .unwrap()
        .push((Instant::now(), content_type, body));
    match c.script.lock().unwrap().pop_front() {
        None => StatusCode::NO_CONTENT.into_response(),
        Some((status, None)) => (status, "scripted failure").into_response(),
        Some((status, Some(after))) => {
            (status, [(header::RETRY_AFTER, after)], "scripted failure").into_response()
        }
    }
}

/// Serves `collector` on `addr` (port 0: any) until the test ends.
async fn serve(collector: Arc<Collector>, addr: SocketAddr) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/api/v1/write", post(write))
        .with_state(collector);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn a_503_is_retried_after_its_retry_after_with_the_same_batch() {
    let collector = Collector::answering(&[(StatusCode::SERVICE_UNAVAILABLE, Some("2"))]);
    let addr = serve(Arc::clone(&collector), "127.0.0.1:0".parse().unwrap()).await;
    let url = format!("http://{addr}");
    let agent = Agent::spawn(&["--once", "--collector-url", &url, "--label", "env=ci"]);
    let (status, stdout, log) = agent.finish(Duration::from_secs(60)).await;
    assert!(status.success(), "{status}; log:\n{log}");

    let requests = collector.requests();
    assert_eq!(requests.len(), 2, "log:\n{log}");
    let gap = requests[1].0 - requests[0].0;
    // The backoff alone would wait under a second.
    assert!(gap >= Duration::from_millis(1_950), "retried after {gap:?}");
    assert!(gap < Duration::from_secs(10), "retried after {gap:?}");
    assert_eq!(requests[0].2, requests[1].2, "the same batch again");
    for (_, content_type, _) in &requests {
        assert_eq!(content_type.as_deref(), Some("application/json"));
    }
    let body: serde_json::Value = serde_json::from_slice(&requests[1].2).unwrap();
    let array = body.as_array().expect("the seed's JSON array");
    assert!(
        array
            .iter()
            .all(|o| o["timestamp"].is_i64() && o["labels"].is_object()),
        "{body}"
    );
    let samples = decode_all(&requests[1].2);
    assert_eq!(samples.len(), pushed(&stdout));
    check_collection(&samples, &hostname(), &[("env", "ci")]);
    assert!(log.contains("push failed; retrying"), "{log}");
    assert!(log.contains("503"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_400_is_not_retried() {
    let collector = Collector::answering(&[(StatusCode::BAD_REQUEST, None); 5]);
    let addr = serve(Arc::clone(&collector), "127.0.0.1:0".parse().unwrap()).await;
    let url = format!("http://{addr}/");
    let agent = Agent::spawn(&["--once", "--collector-url", &url]);
    let (status, _, log) = agent.finish(Duration::from_secs(60)).await;
    assert!(
        !status.success(),
        "a refused --once push must fail; log:\n{log}"
    );
    assert_eq!(collector.requests().len(), 1, "log:\n{log}");
    assert!(log.contains("push refused"), "{log}");
    assert!(log.contains("400 Bad Request: scripted failure"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_errors_and_5xx_are_retried_until_delivered() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let agent = Agent::spawn(&["--once", "--collector-url", &url, "--host", "h"]);
    // Nobody listens yet: the agent must keep trying.
    agent
        .wait_for_line("push failed; retrying", Duration::from_secs(30))
        .await;
    let collector = Collector::answering(&[(StatusCode::INTERNAL_SERVER_ERROR, None)]);
    serve(Arc::clone(&collector), ([127, 0, 0, 1], port).into()).await;
    let (status, stdout, log) = agent.finish(Duration::from_secs(60)).await;
    assert!(status.success(), "{status}; log:\n{log}");
    let requests = collector.requests();
    assert_eq!(requests.len(), 2, "500, then delivered; log:\n{log}");
    assert_eq!(requests[0].2, requests[1].2);
    let samples = decode_all(&requests[1].2);
    assert_eq!(samples.len(), pushed(&stdout));
    check_collection(&samples, "h", &[]);
    assert!(log.contains("Connection refused"), "{log}");
    assert!(log.contains("500 Internal Server Error"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn collects_every_interval_and_stops_cleanly_on_sigterm() {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    let collector = Collector::answering(&[]);
    let addr = serve(Arc::clone(&collector), "127.0.0.1:0".parse().unwrap()).await;
    let url = format!("http://{addr}");
    let agent = Agent::spawn(&["--interval", "1s", "--collector-url", &url, "--host", "h"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while collector.requests().len() < 3 {
        assert!(Instant::now() < deadline, "log:\n{}", agent.dump());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = Pid::from_raw(agent.child.id().unwrap() as i32);
    kill(pid, Signal::SIGTERM).unwrap();
    let (status, _, log) = agent.finish(Duration::from_secs(15)).await;
    assert!(status.success(), "{status}; log:\n{log}");
    assert!(log.contains("stopped"), "{log}");

    let collections: Vec<Vec<Sample>> = collector
        .requests()
        .iter()
        .map(|(_, _, body)| decode_all(body))
        .collect();
    for c in &collections {
        check_collection(c, "h", &[]);
    }
    // One collection a second, and counters only grow.
    for pair in collections.windows(2) {
        let step = pair[1][0].ts_ns - pair[0][0].ts_ns;
        // A late tick is skipped, not made up for: whole seconds apart.
        assert!(
            (500_000_000..=5_000_000_000).contains(&step),
            "collections {step} ns apart"
        );
        let before: HashMap<_, f64> = pair[0]
            .iter()
            .map(|s| ((s.metric_name.clone(), s.labels.clone()), s.value))
            .collect();
        for s in &pair[1] {
            let counter = s.metric_name.starts_with("system.network.")
                || s.metric_name == "system.uptime_seconds";
            if let (true, Some(prev)) = (
                counter,
                before.get(&(s.metric_name.clone(), s.labels.clone())),
            ) {
                assert!(s.value >= *prev, "{s:?} went down from {prev}");
            }
        }
    }
}
