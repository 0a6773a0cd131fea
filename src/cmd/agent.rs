//! `strata agent`: collects this machine's metrics
//! ([`strata_pipeline::agent`]) every `--interval` and pushes them to Kafka
//! or to a Strata collector (`--collector-url`, `POST /api/v1/write` with
//! the seed's JSON array).
//!
//! Two tasks share a [`Buffer`] of collections: the collector appends one
//! per tick, the pusher delivers them oldest first. A failed push is
//! retried with exponential backoff and jitter (500 ms doubling to 30 s, or
//! the collector's `Retry-After`) until it is delivered, refused (HTTP 4xx
//! other than 429, a Kafka error that no retry cures), older than
//! `--max-retry`, or the agent stops. Kafka retries send only the samples
//! the broker did not acknowledge; an HTTP retry sends the whole batch
//! again. While pushes fail, collections queue up to `--max-retry` worth
//! (at most [`MAX_BUFFERED`]); past that the oldest is dropped.
//!
//! On SIGINT or SIGTERM collection stops, buffered collections are pushed
//! for at most [`STOP_GRACE`] without further retries, and what is left is
//! reported. `--once` collects once, pushes, and exits non-zero when the
//! collection was not delivered.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use strata_alerts::notify::deliver::error_chain;
use strata_pipeline::agent::{self, Collector, KafkaPush, RESERVED_LABELS};
use strata_schemas::Sample;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::cli::{AgentArgs, KafkaArgs};

/// Most collections kept while pushes fail.
const MAX_BUFFERED: usize = 1_000;
/// How long buffered collections may still be pushed after a stop signal.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Longest `Retry-After` obeyed; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// How often progress is logged at `info`.
const PROGRESS_EVERY: Duration = Duration::from_secs(60);

pub(crate) async fn run(kafka: KafkaArgs, args: AgentArgs) -> anyhow::Result<()> {
    anyhow::ensure!(!args.interval.is_zero(), "--interval must be above 0");
    let labels = labels(&args)?;
    let collector = Collector::new(labels).context("reading this machine's metrics")?;
    let target = match &args.collector_url {
        Some(url) => {
            if let Some(brokers) = &kafka.brokers {
                tracing::info!(%brokers, "--collector-url given: not using Kafka");
            }
            Target::Http(HttpPush::new(url)?)
        }
        None => {
            let config = kafka.config(kafka.brokers_or_default());
            Target::Kafka {
                name: format!("Kafka topic {} at {}", config.topic, config.brokers),
                push: KafkaPush::new(&config)?,
            }
        }
    };
    let shutdown = super::shutdown_on_signal();
    let stats = Arc::new(Stats::default());
    let buffer = Arc::new(Buffer::new(capacity(args.interval, args.max_retry)));
    tracing::info!(
        interval = %humantime::format_duration(args.interval),
        target = %target,
        "collecting this machine's metrics"
    );
    let target_name = target.to_string();
    let collecting = tokio::spawn(collect(
        collector,
        Arc::clone(&buffer),
        Arc::clone(&stats),
        args.interval,
        args.once,
        shutdown.clone(),
    ));
    let pushing = push(
        target,
        Arc::clone(&buffer),
        Arc::clone(&stats),
        args.max_retry,
        shutdown.clone(),
    );
    tokio::pin!(pushing);
    tokio::select! {
        _ = &mut pushing => {}
        _ = async {
            shutdown.cancelled().await;
            tokio::time::sleep(STOP_GRACE).await;
        } => {}
    }
    collecting.await.context("the collector task failed")?;
    let sent = stats.sent.load(Ordering::Relaxed);
    let lost = stats.dropped.load(Ordering::Relaxed)
        + stats.in_hand.load(Ordering::Relaxed)
        + buffer.samples();
    if lost > 0 {
        tracing::warn!(sent, unsent = lost, "stopped with samples not delivered");
    } else {
        tracing::info!(sent, "stopped");
    }
    if args.once {
        anyhow::ensure!(
            lost == 0,
            "{lost} samples were not delivered to {target_name}"
        );
        println!("pushed {sent} samples to {target_name}");
    }
    Ok(())
}

/// The agent's labels: `host` and the `--label`s.
fn labels(args: &AgentArgs) -> anyhow::Result<Vec<(String, String)>> {
    let host = match &args.host {
        Some(h) => h.clone(),
        None => Collector::host_name().context("reading the hostname; set --host")?,
    };
    anyhow::ensure!(!host.is_empty(), "the host label is empty; set --host");
    let mut labels = vec![("host".to_string(), host)];
    for (k, v) in &args.labels {
        anyhow::ensure!(
            !RESERVED_LABELS.contains(&k.as_str()),
            "--label {k}=…: the agent sets `{k}` itself{}",
            if k == "host" { " (use --host)" } else { "" }
        );
        labels.push((k.clone(), v.clone()));
    }
    Ok(labels)
}

/// Collections kept for `max_retry` at one per `interval`, within
/// `1..=MAX_BUFFERED`.
fn capacity(interval: Duration, max_retry: Duration) -> usize {
    let n = (max_retry.as_secs_f64() / interval.as_secs_f64()).ceil();
    (n as usize).clamp(1, MAX_BUFFERED)
}

/// Counters shared by the tasks, read when the agent stops.
#[derive(Debug, Default)]
struct Stats {
    /// Samples delivered.
    sent: AtomicU64,
    /// Samples given up (refused, too old, pushed out of a full buffer).
    dropped: AtomicU64,
    /// Samples the pusher holds and has not delivered yet.
    in_hand: AtomicU64,
}

/// One collection.
#[derive(Debug)]
struct Batch {
    samples: Vec<Sample>,
    collected: Instant,
}

/// Collections waiting to be pushed, oldest first; the oldest is dropped
/// when a new one would exceed the capacity.
#[derive(Debug)]
struct Buffer {
    state: Mutex<(VecDeque<Batch>, bool)>,
    notify: Notify,
    capacity: usize,
}

impl Buffer {
    fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new((VecDeque::new(), false)),
            notify: Notify::new(),
            capacity,
        }
    }

    /// Appends `batch`; returns the batch dropped to make room.
    fn push(&self, batch: Batch) -> Option<Batch> {
        let mut state = self.state.lock().expect("buffer lock");
        state.0.push_back(batch);
        let dropped = (state.0.len() > self.capacity)
            .then(|| state.0.pop_front())
            .flatten();
        drop(state);
        self.notify.notify_one();
        dropped
    }

    /// No more batches will come: [`Buffer::pop`] ends once it is empty.
    fn close(&self) {
        self.state.lock().expect("buffer lock").1 = true;
        self.notify.notify_one();
    }

    /// The oldest batch; `None` once closed and empty.
    async fn pop(&self) -> Option<Batch> {
        loop {
            {
                let mut state = self.state.lock().expect("buffer lock");
                if let Some(batch) = state.0.pop_front() {
                    return Some(batch);
                }
                if state.1 {
                    return None;
                }
            }
            self.notify.notified().await;
        }
    }

    /// Samples waiting.
    fn samples(&self) -> u64 {
        let state = self.state.lock().expect("buffer lock");
        state.0.iter().map(|b| b.samples.len() as u64).sum()
    }
}

/// Collects every `interval` (once with `once`) into `buffer` until
/// `shutdown`, then closes it.
async fn collect(
    mut collector: Collector,
    buffer: Arc<Buffer>,
    stats: Arc<Stats>,
    interval: Duration,
    once: bool,
    shutdown: CancellationToken,
) {
    // CPU usage is the difference between two readings: give the first
    // collection one to compare with.
    let mut ticks = tokio::time::interval_at(Instant::now() + agent::CPU_WARMUP, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        let ts_ns = agent::to_millis(chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default());
        let (back, samples) = tokio::task::spawn_blocking(move || {
            let samples = collector.collect(ts_ns);
            (collector, samples)
        })
        .await
        .expect("collection does not panic");
        collector = back;
        tracing::debug!(samples = samples.len(), "collected");
        let batch = Batch {
            samples,
            collected: Instant::now(),
        };
        if let Some(old) = buffer.push(batch) {
            let n = old.samples.len() as u64;
            stats.dropped.fetch_add(n, Ordering::Relaxed);
            tracing::warn!(
                samples = n,
                "pushes are failing and the buffer is full: dropped the oldest collection"
            );
        }
        if once {
            break;
        }
    }
    buffer.close();
}

/// Delivers the buffer's batches until it is closed and empty, or a stop
/// signal leaves a batch undelivered.
async fn push(
    mut target: Target,
    buffer: Arc<Buffer>,
    stats: Arc<Stats>,
    max_retry: Duration,
    shutdown: CancellationToken,
) {
    let mut last_progress = Instant::now();
    while let Some(batch) = buffer.pop().await {
        let n = batch.samples.len() as u64;
        stats.in_hand.store(n, Ordering::Relaxed);
        let outcome = deliver(&mut target, batch, max_retry, &shutdown, &stats).await;
        stats.in_hand.store(0, Ordering::Relaxed);
        match outcome {
            Outcome::Delivered => {}
            Outcome::GaveUp(left) => {
                stats.dropped.fetch_add(left, Ordering::Relaxed);
            }
            Outcome::Stopped(left) => {
                stats.in_hand.store(left, Ordering::Relaxed);
                return;
            }
        }
        if last_progress.elapsed() >= PROGRESS_EVERY {
            last_progress = Instant::now();
            tracing::info!(
                sent = stats.sent.load(Ordering::Relaxed),
                dropped = stats.dropped.load(Ordering::Relaxed),
                target = %target,
                "samples pushed so far"
            );
        }
    }
}

/// How one batch ended.
#[derive(Debug, PartialEq)]
enum Outcome {
    Delivered,
    /// Given up with this many samples undelivered (logged).
    GaveUp(u64),
    /// A stop signal came while this many samples were undelivered.
    Stopped(u64),
}

/// Pushes `batch`, retrying as the module docs say.
async fn deliver(
    target: &mut Target,
    batch: Batch,
    max_retry: Duration,
    shutdown: &CancellationToken,
    stats: &Stats,
) -> Outcome {
    let mut samples = batch.samples;
    let mut backoff = ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(500))
        .with_max_delay(Duration::from_secs(30))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times()
        .build();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let count = samples.len() as u64;
        let failure = match target.attempt(&mut samples).await {
            Ok(()) => {
                stats.sent.fetch_add(count, Ordering::Relaxed);
                tracing::debug!(samples = count, target = %target, attempt, "pushed");
                return Outcome::Delivered;
            }
            Err(f) => f,
        };
        let left = samples.len() as u64;
        stats
            .sent
            .fetch_add(count.saturating_sub(left), Ordering::Relaxed);
        stats.in_hand.store(left, Ordering::Relaxed);
        let wait = match failure {
            Failure::Permanent(error) => {
                tracing::error!(samples = left, target = %target, %error, "push refused; not retrying it");
                return Outcome::GaveUp(left);
            }
            Failure::Transient { error, after } => {
                let wait = after.map_or_else(
                    || backoff.next().unwrap_or(Duration::from_secs(30)),
                    |a| a.min(MAX_RETRY_AFTER),
                );
                if shutdown.is_cancelled() {
                    tracing::warn!(samples = left, target = %target, %error, "push failed while stopping");
                    return Outcome::Stopped(left);
                }
                if batch.collected.elapsed() + wait > max_retry {
                    tracing::error!(
                        samples = left,
                        target = %target,
                        %error,
                        attempt,
                        "push failed for longer than --max-retry; dropping the collection"
                    );
                    return Outcome::GaveUp(left);
                }
                tracing::warn!(
                    samples = left,
                    target = %target,
                    %error,
                    attempt,
                    retry_in = %humantime::format_duration(round_ms(wait)),
                    "push failed; retrying"
                );
                wait
            }
        };
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return Outcome::Stopped(left),
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

/// Why one push attempt failed.
#[derive(Debug)]
enum Failure {
    /// Another attempt may succeed, after `after` when the target said so.
    Transient {
        error: String,
        after: Option<Duration>,
    },
    /// The target refused the samples: another attempt will not help.
    Permanent(String),
}

/// Where collections go.
enum Target {
    Kafka { name: String, push: KafkaPush },
    Http(HttpPush),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Kafka { name, .. } => f.write_str(name),
            Target::Http(h) => f.write_str(h.url.as_str()),
        }
    }
}

impl Target {
    /// Pushes `samples`; on failure leaves in `samples` those that still
    /// need pushing.
    async fn attempt(&mut self, samples: &mut Vec<Sample>) -> Result<(), Failure> {
        match self {
            Target::Kafka { push, .. } => {
                let batch = std::mem::take(samples);
                push.send(batch).await.map_err(|u| {
                    *samples = u.samples;
                    let error = u.error.to_string();
                    if u.permanent {
                        Failure::Permanent(error)
                    } else {
                        Failure::Transient { error, after: None }
                    }
                })
            }
            Target::Http(h) => h.send(samples).await,
        }
    }
}

/// Posts the seed's JSON array to a Strata collector.
struct HttpPush {
    client: reqwest::Client,
    url: reqwest::Url,
}

/// Bytes of a refused response's body kept for the log.
const BODY_EXCERPT_BYTES: usize = 512;

impl HttpPush {
    /// A client for the collector at `base` (`http://host:port`, or any
    /// URL ending in `/api/v1/write`).
    fn new(base: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(30))
                .build()?,
            url: write_url(base)?,
        })
    }

    async fn send(&self, samples: &[Sample]) -> Result<(), Failure> {
        let response = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(agent::to_json(samples))
            .send()
            .await
            .map_err(|e| Failure::Transient {
                error: error_chain(&e.without_url()),
                after: None,
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let after = retry_after(response.headers(), chrono::Utc::now());
        let body = excerpt(response).await;
        let error = format!("HTTP {status}: {body}");
        if status.as_u16() == 429 || status.is_server_error() {
            Err(Failure::Transient { error, after })
        } else {
            Err(Failure::Permanent(error))
        }
    }
}

/// `POST /api/v1/write` under `base`, unless `base` already names it.
fn write_url(base: &str) -> anyhow::Result<reqwest::Url> {
    let mut url = reqwest::Url::parse(base).with_context(|| format!("--collector-url {base:?}"))?;
    anyhow::ensure!(
        matches!(url.scheme(), "http" | "https"),
        "--collector-url {base:?}: expected http:// or https://"
    );
    let path = url.path().trim_end_matches('/').to_string();
    if !path.ends_with("/api/v1/write") {
        url.set_path(&format!("{path}/api/v1/write"));
    }
    Ok(url)
}

/// A `Retry-After` header's wait: delay-seconds or an HTTP date.
fn retry_after(headers: &HeaderMap, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.to_utc() - now).to_std().unwrap_or(Duration::ZERO))
}

/// The start of a response's body, for the log.
async fn excerpt(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while body.len() < BODY_EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(BODY_EXCERPT_BYTES);
    String::from_utf8_lossy(&body).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_write_path_is_added_once() {
        let url = |s| write_url(s).unwrap().to_string();
        assert_eq!(url("http://h:8080"), "http://h:8080/api/v1/write");
        assert_eq!(url("http://h:8080/"), "http://h:8080/api/v1/write");
        assert_eq!(url("http://h/strata/"), "http://h/strata/api/v1/write");
        assert_eq!(url("http://h/api/v1/write"), "http://h/api/v1/write");
        assert!(write_url("h:8080").is_err());
        assert!(write_url("ftp://h").is_err());
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z")
            .unwrap()
            .to_utc();
        let header = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(RETRY_AFTER, v.parse().unwrap());
            retry_after(&h, now)
        };
        assert_eq!(header("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            header("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            header("Wed, 21 Oct 2015 07:00:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(header("soon"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn the_buffer_keeps_the_newest_collections() {
        let buffer = Buffer::new(2);
        let batch = |n| Batch {
            samples: vec![
                Sample {
                    metric_name: "m".into(),
                    labels: Default::default(),
                    ts_ns: 0,
                    value: 0.0,
                };
                n
            ],
            collected: Instant::now(),
        };
        assert!(buffer.push(batch(1)).is_none());
        assert!(buffer.push(batch(2)).is_none());
        let dropped = buffer.push(batch(3)).expect("full");
        assert_eq!(dropped.samples.len(), 1);
        assert_eq!(buffer.samples(), 5);
        buffer.close();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let sizes = rt.block_on(async {
            let mut sizes = Vec::new();
            while let Some(b) = buffer.pop().await {
                sizes.push(b.samples.len());
            }
            sizes
        });
        assert_eq!(sizes, [2, 3]);
    }

    #[test]
    fn labels_are_the_host_and_the_users_but_not_the_agents_own() {
        let args = |host: Option<&str>, labels: &[(&str, &str)]| AgentArgs {
            interval: Duration::from_secs(10),
            once: true,
            host: host.map(String::from),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            collector_url: None,
            max_retry: Duration::from_secs(3600),
        };
        let got = labels(&args(Some("h1"), &[("env", "ci")])).unwrap();
        let want = [("host", "h1"), ("env", "ci")].map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(got, want);
        let hostname = labels(&args(None, &[])).unwrap();
        assert_eq!(hostname[0].0, "host");
        assert!(!hostname[0].1.is_empty());
        let err = labels(&args(None, &[("host", "x")])).unwrap_err();
        assert!(err.to_string().contains("use --host"), "{err}");
        for reserved in ["cpu", "mount", "device", "fstype", "interface"] {
            assert!(
                labels(&args(None, &[(reserved, "x")])).is_err(),
                "{reserved}"
            );
        }
        assert!(labels(&args(Some(""), &[])).is_err());
    }

    #[test]
    fn the_buffer_holds_max_retry_worth_of_collections() {
        let s = Duration::from_secs;
        assert_eq!(capacity(s(10), s(3600)), 360);
        assert_eq!(capacity(s(10), s(1)), 1);
        assert_eq!(capacity(Duration::from_millis(10), s(3600)), MAX_BUFFERED);
    }
}
