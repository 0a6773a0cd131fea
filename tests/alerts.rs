//! The alert evaluator end to end, on the real broker: samples produced to
//! Kafka → `strata alerts` → a real HTTP webhook receiver.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{Bed, Strata, produce_raw};
use serde_json::Value;

/// `strata alerts` on `bed` with `rules`, then `extra` flags.
fn alerts_args(bed: &Bed, rules: &std::path::Path, extra: &[&str]) -> Vec<String> {
    let base = [
        "alerts",
        "--brokers",
        &bed.brokers,
        "--topic",
        &bed.topic,
        "--store",
        &bed.store,
        "--rules",
        rules.to_str().unwrap(),
    ];
    base.iter().chain(extra).map(|s| s.to_string()).collect()
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Request {
    key: Option<String>,
    body: Value,
    accepted: bool,
}

/// A webhook receiver that answers 503 while `down`.
#[derive(Clone, Default)]
struct Receiver {
    requests: Arc<Mutex<Vec<Request>>>,
    down: Arc<AtomicBool>,
}

impl Receiver {
    async fn start(&self) -> String {
        async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
            let accepted = !r.down.load(Ordering::SeqCst);
            r.requests.lock().unwrap().push(Request {
                key: headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .map(String::from),
                body: serde_json::from_str(&body).unwrap_or(Value::Null),
                accepted,
            });
            if accepted {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
        let app = axum::Router::new()
            .route("/hook", post(hook))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/hook")
    }

    /// Accepted notifications of `status` with an alert for `host`.
    fn delivered(&self, status: &str, host: &str) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.accepted && has_alert(&r.body, status, host))
            .cloned()
            .collect()
    }

    fn attempts(&self, status: &str, host: &str) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| has_alert(&r.body, status, host))
            .cloned()
            .collect()
    }

    async fn wait(&self, status: &str, host: &str, proc: &Strata) -> Request {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(r) = self.delivered(status, host).pop() {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "no {status} notification for {host}; requests: {:#?}\nlog:\n{}",
                self.requests.lock().unwrap(),
                proc.dump()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn has_alert(body: &Value, status: &str, host: &str) -> bool {
    body["alerts"].as_array().is_some_and(|alerts| {
        alerts
            .iter()
            .any(|a| a["status"] == status && a["labels"]["host"] == host)
    })
}

/// Produces one `cpu.load` sample per host every 200 ms, at the wall
/// clock's event time, with the values `load` holds at the time.
fn feed(bed: &Bed, load: Arc<Mutex<BTreeMap<String, f64>>>) -> tokio::task::JoinHandle<()> {
    let (brokers, topic) = (bed.brokers.clone(), bed.topic.clone());
    tokio::spawn(async move {
        loop {
            let now_ms = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_millis() as i64;
            let messages: Vec<(String, Vec<u8>)> = load
                .lock()
                .unwrap()
                .iter()
                .map(|(host, v)| {
                    let body = serde_json::json!({
                        "metric_name": "cpu.load",
                        "labels": {"host": host},
                        "timestamp": now_ms,
                        "value": v,
                    });
                    (host.clone(), body.to_string().into_bytes())
                })
                .collect();
            produce_raw(&brokers, &topic, &messages).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

const RULES: &str = r#"
groups:
  - name: load
    interval: 1s
    rules:
      - alert: HighLoad
        expr: cpu.load > 0.8
        labels:
          severity: page
        annotations:
          summary: "High load on {{ $labels.host }}: {{ $value }}"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fire_resolve_survive_an_outage_and_a_restart() {
    let bed = Bed::new("alerts");
    let rules = bed.dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let args = alerts_args(&bed, &rules, &["--webhook", &url, "--from-beginning"]);
    let proc = Strata::spawn(&args);
    proc.wait_for_line("alert evaluator started", Duration::from_secs(60));

    let load = Arc::new(Mutex::new(BTreeMap::from([
        ("a".to_string(), 0.95),
        ("b".to_string(), 0.5),
    ])));
    let feeder = feed(&bed, Arc::clone(&load));

    // Fires, with Alertmanager's webhook payload.
    let fired = receiver.wait("firing", "a", &proc).await;
    let body = &fired.body;
    assert_eq!(body["version"], "4");
    assert_eq!(body["status"], "firing");
    assert!(
        body["groupKey"].as_str().is_some_and(|k| !k.is_empty()),
        "{body}"
    );
    let alert = &body["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "HighLoad");
    assert_eq!(alert["labels"]["severity"], "page");
    assert_eq!(alert["annotations"]["summary"], "High load on a: 0.95");
    assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(
        alert["fingerprint"].as_str().map(str::len),
        Some(16),
        "{alert}"
    );
    assert!(fired.key.is_some(), "an Idempotency-Key header");
    assert!(
        receiver.attempts("firing", "b").is_empty(),
        "b is below the threshold"
    );

    // Resolves when the value drops.
    load.lock().unwrap().insert("a".into(), 0.3);
    let resolved = receiver.wait("resolved", "a", &proc).await;
    assert_eq!(resolved.body["status"], "resolved");

    // The receiver is down: retried, delivered once it is back, under one
    // idempotency key.
    receiver.down.store(true, Ordering::SeqCst);
    load.lock().unwrap().insert("b".into(), 0.99);
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.attempts("firing", "b").len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no retries; log:\n{}",
            proc.dump()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    receiver.down.store(false, Ordering::SeqCst);
    receiver.wait("firing", "b", &proc).await;
    let tries = receiver.attempts("firing", "b");
    assert!(tries.len() >= 3, "{tries:#?}");
    assert!(tries.iter().all(|t| t.key == tries[0].key), "{tries:#?}");
    assert_eq!(receiver.delivered("firing", "b").len(), 1);

    // Killed and restarted while b fires: no second "firing" for b.
    tokio::time::sleep(Duration::from_secs(2)).await;
    proc.kill();
    let proc = Strata::spawn(&args);
    proc.wait_for_line("alert evaluator started", Duration::from_secs(60));
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        receiver.delivered("firing", "b").len(),
        1,
        "firing announced again after the restart; log:\n{}",
        proc.dump()
    );
    // The restarted evaluator still knows b and resolves it.
    load.lock().unwrap().insert("b".into(), 0.1);
    receiver.wait("resolved", "b", &proc).await;
    feeder.abort();

    // Every transition once in the `alerts` table, and the rules' health.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let count = |sql: String| {
        let dir = bed.dir.path().to_path_buf();
        async move { common::query_row(&dir, &sql).await[0] }
    };
    for (host, state) in [
        ("a", "firing"),
        ("a", "resolved"),
        ("b", "firing"),
        ("b", "resolved"),
    ] {
        let n = count(format!(
            "SELECT count(*) FROM alerts WHERE labels['host'] = '{host}' AND state = '{state}'"
        ))
        .await;
        assert_eq!(n, 1.0, "{host} {state}; log:\n{}", proc.dump());
    }
    let store = strata_storage::Store::open(&bed.store).unwrap();
    let log = Arc::new(strata_storage::TableLog::open(store).await.unwrap());
    let engine = strata_query::QueryEngine::new(log).unwrap();
    let status = engine
        .alert_status()
        .await
        .unwrap()
        .expect("status written");
    let rule = &status["groups"][0]["rules"][0];
    assert_eq!(rule["name"], "HighLoad");
    assert_eq!(rule["health"], "ok", "{rule}");
    assert!(rule["lastEvaluation"].is_string(), "{rule}");
    proc.terminate();
}

/// The evaluator's status document, once it has one.
fn status(bed: &Bed) -> Option<Value> {
    let text = std::fs::read_to_string(bed.dir.path().join("alerts/status.json")).ok()?;
    serde_json::from_str(&text).ok()
}

fn rule_names(status: &Value) -> Vec<String> {
    status["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().into_iter().flatten())
        .filter_map(|r| r["name"].as_str().map(String::from))
        .collect()
}

fn wait_status(bed: &Bed, proc: &Strata, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = status(bed).filter(|s| ok(s)) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "status never showed {what}: {:?}\nlog:\n{}",
            status(bed),
            proc.dump()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn rules_reload_on_sighup_and_an_invalid_file_keeps_the_old_rules() {
    let bed = Bed::new("alerts-reload");
    let rules = bed.dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let proc = Strata::spawn(&alerts_args(
        &bed,
        &rules,
        &["--rules-check-interval", "0s"],
    ));
    proc.wait_for_line("alert evaluator started", Duration::from_secs(60));
    wait_status(&bed, &proc, "HighLoad", |s| rule_names(s) == ["HighLoad"]);
    let hup = || {
        use nix::sys::signal::{Signal, kill};
        let pid = proc.pid();
        kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGHUP).unwrap();
    };

    // An invalid file: the old rules keep running, the error is reported.
    std::fs::write(&rules, RULES.replace("cpu.load > 0.8", "topk(3, cpu.load)")).unwrap();
    hup();
    proc.wait_for_line("rules not reloaded", Duration::from_secs(30));
    let s = wait_status(&bed, &proc, "the reload error", |s| {
        s["evaluator"]["lastReloadError"].is_string()
    });
    assert!(
        s["evaluator"]["lastReloadError"]
            .as_str()
            .unwrap()
            .contains("topk"),
        "{s}"
    );
    assert_eq!(rule_names(&s), ["HighLoad"]);

    // A valid file: the new rules replace the old.
    std::fs::write(&rules, RULES.replace("HighLoad", "VeryHighLoad")).unwrap();
    hup();
    let s = wait_status(&bed, &proc, "VeryHighLoad", |s| {
        rule_names(s) == ["VeryHighLoad"]
    });
    assert!(s["evaluator"]["lastReloadError"].is_null(), "{s}");
    proc.terminate();
}

/// A real Alertmanager (Debian's `prometheus-alertmanager`), routing every
/// alert to `webhook` at once.
struct Alertmanager {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    fn start(webhook: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(
            &config,
            format!(
                "route:\n  receiver: hook\n  group_by: ['...']\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 4h\n\
                 receivers:\n  - name: hook\n    webhook_configs:\n      - url: {webhook}\n"
            ),
        )
        .unwrap();
        let port = common::free_port();
        let child = std::process::Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.path().display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "prometheus-alertmanager is needed ({e}): `apt-get install prometheus-alertmanager` \
                     (scripts/test installs it)"
                )
            });
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "Alertmanager did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            url,
            _dir: dir,
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_a_real_alertmanager() {
    let bed = Bed::new("alerts-am");
    let rules = bed.dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let receiver = Receiver::default();
    let hook = receiver.start().await;
    let am = Alertmanager::start(&hook);
    let proc = Strata::spawn(&alerts_args(
        &bed,
        &rules,
        &["--alertmanager-url", &am.url, "--from-beginning"],
    ));
    proc.wait_for_line("alert evaluator started", Duration::from_secs(60));
    let load = Arc::new(Mutex::new(BTreeMap::from([("a".to_string(), 0.9)])));
    let feeder = feed(&bed, Arc::clone(&load));
    // Alertmanager's own notification, from Strata's POST /api/v2/alerts.
    let fired = receiver.wait("firing", "a", &proc).await;
    assert_eq!(fired.body["receiver"], "hook");
    assert_eq!(fired.body["alerts"][0]["labels"]["alertname"], "HighLoad");
    assert_eq!(
        fired.body["alerts"][0]["annotations"]["summary"],
        "High load on a: 0.9"
    );
    load.lock().unwrap().insert("a".into(), 0.1);
    receiver.wait("resolved", "a", &proc).await;
    feeder.abort();
    proc.terminate();
}

#[test]
fn rules_reload_when_the_file_changes() {
    let bed = Bed::new("alerts-watch");
    let rules = bed.dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let proc = Strata::spawn(&alerts_args(
        &bed,
        &rules,
        &["--rules-check-interval", "200ms"],
    ));
    proc.wait_for_line("alert evaluator started", Duration::from_secs(60));
    wait_status(&bed, &proc, "HighLoad", |s| rule_names(s) == ["HighLoad"]);
    std::fs::write(&rules, RULES.replace("HighLoad", "Renamed")).unwrap();
    wait_status(&bed, &proc, "Renamed", |s| rule_names(s) == ["Renamed"]);
    proc.wait_for_line("file change", Duration::from_secs(5));
    proc.terminate();
}
