//! Notification delivery against real servers on 127.0.0.1: an axum
//! webhook receiver that fails on demand, an axum stand-in for an
//! Alertmanager's API, and an SMTP server (`mailin-embedded`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use strata_alerts::LabelSet;
use strata_alerts::notify::alertmanager::AlertmanagerClient;
use strata_alerts::notify::config::{IntegrationId, IntegrationKind};
use strata_alerts::notify::{
    Alert, Config, DeliverOptions, Deliverer, DeliveryError, Dispatcher, Notification, SendError,
};

/// 2024-05-01T12:00:00Z.
const T0: i64 = 1_714_564_800_000;

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn alert(name: &str, instance: &str) -> Alert {
    Alert {
        labels: labels(&[
            ("alertname", name),
            ("instance", instance),
            ("severity", "page"),
        ]),
        annotations: labels(&[("summary", "disk almost full")]),
        starts_at_ms: T0,
        ends_at_ms: None,
        generator_url: "http://strata.example/graph".into(),
    }
}

/// Retries in milliseconds rather than seconds.
fn fast(max_retry_time: Duration) -> Deliverer {
    Deliverer::with_options(
        reqwest::Client::new(),
        DeliverOptions {
            external_url: String::new(),
            max_retry_time,
            min_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
            attempt_timeout: Duration::from_secs(5),
        },
    )
}

/// What the fake receiver saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    idempotency_key: Option<String>,
    body: serde_json::Value,
}

/// A receiver answering with the queued statuses, then 200.
#[derive(Default)]
struct Receiver {
    statuses: Mutex<VecDeque<u16>>,
    seen: Mutex<Vec<Seen>>,
}

async fn receive(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    r.seen.lock().unwrap().push(Seen {
        idempotency_key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    });
    let status = r.statuses.lock().unwrap().pop_front().unwrap_or(200);
    let text = match status {
        400 => "bad payload: missing field".to_string(),
        503 => "try again later".to_string(),
        _ => "ok".to_string(),
    };
    (StatusCode::from_u16(status).unwrap(), text)
}

/// Serves `path` on 127.0.0.1:0; returns the base URL and the receiver.
async fn serve(path: &str, statuses: &[u16]) -> (String, Arc<Receiver>) {
    let receiver = Arc::new(Receiver {
        statuses: Mutex::new(statuses.iter().copied().collect()),
        seen: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route(path, post(receive))
        .with_state(Arc::clone(&receiver));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), receiver)
}

/// The notification of a dispatcher with the webhook shortcut config.
fn webhook_notification(url: &str) -> (Dispatcher, Notification) {
    let mut d = Dispatcher::new(Config::single_webhook(url).unwrap());
    d.insert(vec![alert("DiskFull", "db1")], T0);
    let mut sent = d.tick(T0);
    assert_eq!(sent.len(), 1);
    (d, sent.remove(0))
}

#[tokio::test]
async fn webhook_503_twice_then_200_is_delivered_once_with_one_key() {
    let (base, hook) = serve("/hook", &[503, 503]).await;
    let (mut d, n) = webhook_notification(&format!("{base}/hook"));
    let receiver = d.config().receiver(&n.receiver).unwrap().clone();

    fast(Duration::from_secs(10))
        .deliver(&receiver, &n, "http://strata.example")
        .await
        .unwrap();

    let seen = hook.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "two failures, then accepted");
    for s in &seen {
        assert_eq!(s.idempotency_key.as_deref(), Some(n.id.as_str()));
        assert_eq!(s.body, seen[0].body, "the same message every time");
    }
    let body = &seen[0].body;
    assert_eq!(body["version"], "4");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["receiver"], "webhook");
    assert_eq!(body["externalURL"], "http://strata.example");
    assert_eq!(body["groupKey"], n.group_key.as_str());
    assert_eq!(body["alerts"][0]["labels"]["instance"], "db1");
    assert_eq!(body["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(
        body["alerts"][0]["fingerprint"],
        n.alerts[0].fingerprint_hex().as_str()
    );

    assert!(d.delivered(&n.id, T0 + 1_000));
    assert!(
        d.tick(T0 + 2_000).is_empty(),
        "acknowledged: nothing to resend"
    );
}

#[tokio::test]
async fn webhook_400_is_not_retried() {
    let (base, hook) = serve("/hook", &[400]).await;
    let (d, n) = webhook_notification(&format!("{base}/hook"));
    let receiver = d.config().receiver(&n.receiver).unwrap().clone();

    let err = fast(Duration::from_secs(10))
        .deliver(&receiver, &n, "")
        .await
        .unwrap_err();

    assert_eq!(hook.seen.lock().unwrap().len(), 1, "no retry on 400");
    assert!(err.is_permanent());
    let webhook = IntegrationId {
        kind: IntegrationKind::Webhook,
        index: 0,
    };
    match &err {
        DeliveryError::Integrations {
            acknowledged,
            failed,
            ..
        } => {
            assert!(acknowledged.is_empty());
            assert_eq!(
                failed,
                &[(
                    webhook,
                    SendError::Status {
                        status: 400,
                        body: "bad payload: missing field".into()
                    }
                )]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string().contains("HTTP status 400: bad payload"),
        "{err}"
    );
}

#[tokio::test]
async fn retries_stop_within_the_retry_time() {
    // A port nothing listens on: connection refused, retried until the
    // bound.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (d, n) = webhook_notification(&format!("http://127.0.0.1:{port}/hook"));
    let receiver = d.config().receiver(&n.receiver).unwrap().clone();
    let started = Instant::now();
    let err = fast(Duration::from_millis(300))
        .deliver(&receiver, &n, "")
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(150),
        "retried for a while: {took:?}"
    );
    assert!(took < Duration::from_secs(2), "bounded: {took:?}");
    assert!(!err.is_permanent(), "{err}");
    assert!(
        matches!(&err, DeliveryError::Integrations { failed, .. } if matches!(failed[0].1, SendError::Connect(_))),
        "{err}"
    );
}

#[tokio::test]
async fn undelivered_notification_survives_a_restart_under_the_same_key() {
    let (base, hook) = serve("/hook", &[503; 50]).await;
    let config_yaml = format!(
        "route: {{receiver: hook, group_by: [alertname], group_wait: 0s, group_interval: 1m}}\n\
         receivers: [{{name: hook, webhook_configs: [{{url: '{base}/hook'}}]}}]\n"
    );
    let mut d = Dispatcher::new(Config::from_yaml(&config_yaml).unwrap());
    d.insert(vec![alert("DiskFull", "db1"), alert("DiskFull", "db2")], T0);
    let n = d.tick(T0).remove(0);
    let receiver = d.config().receiver("hook").unwrap().clone();
    assert!(
        fast(Duration::from_millis(100))
            .deliver(&receiver, &n, "")
            .await
            .is_err()
    );

    // Checkpoint, restart, set the configuration again.
    let saved = serde_json::to_string(&d).unwrap();
    let mut d: Dispatcher = serde_json::from_str(&saved).unwrap();
    d.set_config(Config::from_yaml(&config_yaml).unwrap());
    assert_eq!(d.pending(), vec![&n], "not forgotten");

    hook.statuses.lock().unwrap().clear();
    let again = d.tick(T0 + 60_000).remove(0);
    assert_eq!(again.id, n.id, "same idempotency key after the restart");
    fast(Duration::from_secs(5))
        .deliver(&receiver, &again, "")
        .await
        .unwrap();
    assert!(d.delivered(&again.id, T0 + 61_000));
    assert!(d.tick(T0 + 120_000).is_empty());
    let keys: Vec<Option<String>> = hook
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.idempotency_key.clone())
        .collect();
    assert!(keys.iter().all(|k| k.as_deref() == Some(n.id.as_str())));
}

#[tokio::test]
async fn alertmanager_receives_prometheus_style_posts() {
    let (base, am) = serve("/api/v2/alerts", &[503]).await;
    let client = AlertmanagerClient::new(&base);
    let firing = alert("DiskFull", "db1");
    let resolved = Alert {
        ends_at_ms: Some(T0 + 90_000),
        ..alert("DiskFull", "db2")
    };
    fast(Duration::from_secs(5))
        .post_alertmanager(&client, &[firing, resolved], Duration::from_secs(240))
        .await
        .unwrap();
    let seen = am.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "retried after a 503");
    let body = seen[1].body.as_array().unwrap().clone();
    assert_eq!(body.len(), 2);
    assert_eq!(body[0]["labels"]["instance"], "db1");
    assert_eq!(body[0]["startsAt"], "2024-05-01T12:00:00Z");
    assert_eq!(body[0]["generatorURL"], "http://strata.example/graph");
    // Firing: valid for 4 minutes from now (real time).
    let ends = chrono::DateTime::parse_from_rfc3339(body[0]["endsAt"].as_str().unwrap()).unwrap();
    let horizon = ends.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    assert!((230_000..=240_000).contains(&horizon), "{horizon}");
    assert_eq!(body[1]["endsAt"], "2024-05-01T12:01:30Z");
    let keys: Vec<&str> = body[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "annotations",
            "endsAt",
            "generatorURL",
            "labels",
            "startsAt"
        ]
    );
}

/// One message the SMTP server received.
#[derive(Debug, Clone, Default)]
struct Mail {
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

/// An SMTP handler keeping every message.
#[derive(Clone, Default)]
struct MailSink {
    received: Arc<Mutex<Vec<Mail>>>,
    current: Mail,
}

impl mailin_embedded::Handler for MailSink {
    fn data_start(
        &mut self,
        _domain: &str,
        from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        self.current = Mail {
            from: from.to_string(),
            to: to.to_vec(),
            data: Vec::new(),
        };
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        self.received
            .lock()
            .unwrap()
            .push(std::mem::take(&mut self.current));
        mailin_embedded::response::OK
    }
}

/// Starts a plain SMTP server (no STARTTLS) on 127.0.0.1:0; returns its
/// port and the messages it receives.
fn smtp_server() -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let sink = MailSink::default();
    let received = Arc::clone(&sink.received);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut server = mailin_embedded::Server::new(sink);
    server
        .with_name("localhost")
        .with_ssl(mailin_embedded::SslConfig::None)
        .unwrap()
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        // Runs until the test process exits.
        let _ = server.serve();
    });
    (port, received)
}

fn email_config(port: u16, require_tls: bool) -> Config {
    Config::from_yaml(&format!(
        r#"
route: {{receiver: oncall, group_by: [alertname], group_wait: 0s, group_interval: 1m}}
receivers:
  - name: oncall
    email_configs:
      - to: 'oncall@example.com, backup@example.com'
        from: 'Strata <strata@example.com>'
        smarthost: '127.0.0.1:{port}'
        require_tls: {require_tls}
"#
    ))
    .unwrap()
}

#[tokio::test]
async fn email_reaches_a_real_smtp_server() {
    let (port, received) = smtp_server();
    let mut d = Dispatcher::new(email_config(port, false));
    d.insert(vec![alert("DiskFull", "db1"), alert("DiskFull", "db2")], T0);
    let n = d.tick(T0).remove(0);
    let receiver = d.config().receiver("oncall").unwrap().clone();

    fast(Duration::from_secs(10))
        .deliver(&receiver, &n, "http://strata.example")
        .await
        .unwrap();
    assert!(d.delivered(&n.id, T0 + 1_000));

    let mails = received.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.from, "strata@example.com");
    let mut to = mail.to.clone();
    to.sort();
    assert_eq!(to, ["backup@example.com", "oncall@example.com"]);
    let text = String::from_utf8_lossy(&mail.data).replace("=\r\n", "");
    assert!(
        text.contains("Subject: [FIRING:2] DiskFull (page)\r\n"),
        "{text}"
    );
    assert!(
        text.contains("To: oncall@example.com, backup@example.com\r\n"),
        "{text}"
    );
    assert!(
        text.contains("From: Strata <strata@example.com>\r\n"),
        "{text}"
    );
    assert!(
        text.contains("2 firing, 0 resolved alert(s) for receiver oncall."),
        "{text}"
    );
    assert!(text.contains(" - instance = db2"), "{text}");
    assert!(
        text.contains(&format!("Message-ID: <{}@strata>\r\n", n.id)),
        "{text}"
    );
}

#[tokio::test]
async fn require_tls_refuses_a_server_without_starttls() {
    let (port, received) = smtp_server();
    let mut d = Dispatcher::new(email_config(port, true));
    d.insert(vec![alert("DiskFull", "db1")], T0);
    let n = d.tick(T0).remove(0);
    let receiver = d.config().receiver("oncall").unwrap().clone();
    let err = fast(Duration::from_millis(300))
        .deliver(&receiver, &n, "")
        .await
        .unwrap_err();
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing sent in clear text"
    );
    assert!(
        err.to_string().to_lowercase().contains("starttls") || err.to_string().contains("TLS"),
        "{err}"
    );
}
