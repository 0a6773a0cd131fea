//! `strata alerts`: the evaluator on the live topic, with its state in the
//! store.
//!
//! One task owns everything mutable. It reads every partition of the topic
//! (consumer group `strata-alerts`, partitions assigned by hand: rules that
//! aggregate across series need all of them), feeds the [`Engine`], and
//! evaluates as the event-time watermark advances:
//!
//! - each partition's watermark is the largest event time read from it;
//!   the process watermark is the minimum over partitions heard from within
//!   `idle_timeout`; when all are idle it moves on with the wall clock, so
//!   that alerts on series that stopped still resolve;
//! - alerts due for sending go to the notifier: the Alertmanager-style
//!   [`Dispatcher`] (routes, groups, receivers) or an external
//!   Alertmanager;
//! - a notification is put in the *outbox*, which is part of the
//!   checkpoint, before it is sent, and leaves it once its receiver
//!   acknowledged; so one not delivered when the process dies is
//!   delivered after the restart, under the same idempotency key.
//!
//! **Checkpoint** ([`CHECKPOINT_PATH`], one atomic object): alert states
//! and evaluation clocks, dispatcher state, outbox, and per partition the
//! next offset and the offset to *replay* from. The series buffers are not
//! saved: a restart re-reads each partition from its replay offset (the
//! first message that can hold a point the next evaluation reads) and
//! evaluation resumes at the saved clock. Evaluation at `t` reads only
//! points at or before `t`, so re-reading cannot change past results, and
//! a restarted evaluator neither announces firing alerts again nor restarts
//! `for` clocks. Transitions go to the `alerts` table as one Parquet file
//! per checkpoint, named by its sequence number: a transition recomputed
//! after a crash overwrites the file the lost checkpoint would have named.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{Message, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use strata_pipeline::KafkaConfig;
use strata_pipeline::decode::{DecodeLimits, json};
use strata_pipeline::kafka::source::StartCheck;
use strata_schemas::alerts::{CHECKPOINT_PATH, STATUS_PATH, TRANSITIONS_DIR, TransitionRow};
use strata_storage::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::engine::{Engine, EngineOptions, RuleTransition};
use crate::notify::alertmanager::AlertmanagerClient;
use crate::notify::config::Config;
use crate::notify::deliver::{Deliverer, DeliveryError};
use crate::notify::dispatch::{Dispatcher, Notification};
use crate::notify::{self, label_set_fingerprint};
use crate::rule::{self, Group};
use crate::state;

/// Where notifications go.
#[derive(Debug, Clone)]
pub enum NotifyTarget {
    /// Nowhere: alerts are only evaluated, recorded and shown.
    None,
    /// Routes and receivers in Alertmanager's configuration format.
    Receivers(Box<Config>),
    /// An external Alertmanager (`POST /api/v2/alerts`), as Prometheus does.
    Alertmanager(String),
}

/// Settings of `strata alerts`.
#[derive(Debug, Clone)]
pub struct AlertsOptions {
    /// Brokers and topic; the group is `strata-alerts` unless set.
    pub kafka: KafkaConfig,
    /// Rule file or directory.
    pub rules: PathBuf,
    /// Evaluation settings.
    pub engine: EngineOptions,
    /// Where notifications go.
    pub notify: NotifyTarget,
    /// A partition silent this long no longer holds the watermark back.
    pub idle_timeout: Duration,
    /// How often state is saved when it changed.
    pub checkpoint_interval: Duration,
    /// How often the rule files are checked for changes (zero: never,
    /// only on SIGHUP).
    pub reload_interval: Duration,
    /// Read from the start of the topic when there is no checkpoint
    /// (else from its end).
    pub from_beginning: bool,
    /// How long one notification is retried before it is given up.
    pub max_retry: Duration,
}

impl AlertsOptions {
    /// Defaults for `kafka` and `rules`.
    pub fn new(mut kafka: KafkaConfig, rules: PathBuf) -> Self {
        if kafka.group == "strata-ingest" {
            kafka.group = "strata-alerts".into();
        }
        Self {
            kafka,
            rules,
            engine: EngineOptions::default(),
            notify: NotifyTarget::None,
            idle_timeout: Duration::from_secs(5),
            checkpoint_interval: Duration::from_secs(1),
            reload_interval: Duration::from_secs(2),
            from_beginning: false,
            max_retry: Duration::from_secs(3600),
        }
    }
}

/// Errors that stop the evaluator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The rule files at start.
    #[error("rules: {0}")]
    Rules(String),
    /// Kafka.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Creating topics.
    #[error(transparent)]
    Pipeline(#[from] strata_pipeline::Error),
    /// The store.
    #[error("store: {0}")]
    Store(#[from] object_store::Error),
    /// The store.
    #[error(transparent)]
    Storage(#[from] strata_storage::Error),
    /// The checkpoint cannot be read.
    #[error("{CHECKPOINT_PATH}: {0}")]
    Checkpoint(String),
    /// Writing the `alerts` table.
    #[error("writing transitions: {0}")]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    /// Building the `alerts` table's rows.
    #[error("writing transitions: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
}

/// The outcome of delivering the outbox entry with this id.
type Delivery = (String, Result<(), DeliveryError>);

/// Per partition: where to resume, and where to re-read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
struct PartitionMark {
    next: i64,
    replay_from: i64,
    max_ts_ms: Option<i64>,
}

/// Everything saved at a checkpoint.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    topic: String,
    /// Transition files written so far.
    seq: u64,
    watermark_ms: Option<i64>,
    partitions: BTreeMap<i32, PartitionMark>,
    engine: crate::engine::Checkpoint,
    dispatcher: Option<Dispatcher>,
    /// Notifications decided and not yet acknowledged.
    outbox: Vec<Notification>,
    /// Batches for an external Alertmanager not yet acknowledged.
    alertmanager_outbox: Vec<(String, Vec<notify::Alert>)>,
}

/// A partition's reading state.
#[derive(Debug, Default)]
struct Partition {
    next: i64,
    /// Set after a (re)start at an offset until its first message came
    /// (tansu may skip into the next record batch).
    start_check: Option<StartCheck>,
    max_ts_ms: Option<i64>,
    heard: Option<Instant>,
    /// (largest event time before `offset`, `offset`), one per second of
    /// event time: where to replay from for a given cutoff.
    marks: VecDeque<(i64, i64)>,
}

impl Partition {
    /// Where to seek back to when the first message after a start is past
    /// it ([`StartCheck`]).
    fn check_first(&mut self, p: i32, offset: i64) -> Option<i64> {
        let back = self.start_check.as_mut()?.check(p, offset);
        if back.is_none() {
            self.start_check = None;
        }
        back
    }

    /// Records a message at `offset` with event times up to `max_ts`, heard
    /// at `now`. True when the partition's largest event time grew, the
    /// only way a message can move the watermark.
    fn saw(&mut self, offset: i64, max_ts: Option<i64>, now: Instant) -> bool {
        let before = self.max_ts_ms;
        if let Some(t) = max_ts {
            self.max_ts_ms = Some(before.map_or(t, |b| b.max(t)));
        }
        let sec = before.map(|b| b.div_euclid(1000));
        if self
            .marks
            .back()
            .is_none_or(|m| m.0.div_euclid(1000) != sec.unwrap_or(i64::MIN))
        {
            self.marks.push_back((before.unwrap_or(i64::MIN), offset));
        }
        self.next = self.next.max(offset + 1);
        self.heard = Some(now);
        self.max_ts_ms != before
    }

    /// The first offset that can hold a point at or after `cutoff_ms`, and
    /// forgets marks before it.
    fn replay_from(&mut self, cutoff_ms: i64) -> i64 {
        while self.marks.len() > 1 && self.marks[1].0 < cutoff_ms {
            self.marks.pop_front();
        }
        self.marks.front().map_or(self.next, |m| m.1.min(self.next))
    }
}

/// Runs the evaluator until `shutdown`.
pub async fn run(
    opts: AlertsOptions,
    store: Store,
    shutdown: CancellationToken,
) -> Result<(), Error> {
    let groups = rule::load(&opts.rules).map_err(Error::Rules)?;
    let mut evaluator = Evaluator::start(opts, store, groups).await?;
    evaluator.run(shutdown).await
}

/// The evaluator's task state.
struct Evaluator {
    opts: AlertsOptions,
    store: Store,
    consumer: Arc<StreamConsumer>,
    engine: Engine,
    saved: Saved,
    partitions: HashMap<i32, Partition>,
    watermark_ms: Option<i64>,
    last_message: Instant,
    pending_rows: Vec<TransitionRow>,
    dispatcher: Option<Dispatcher>,
    alertmanager: Option<AlertmanagerClient>,
    deliverer: Arc<Deliverer>,
    in_flight: std::collections::HashSet<String>,
    results: (
        mpsc::UnboundedSender<Delivery>,
        mpsc::UnboundedReceiver<Delivery>,
    ),
    dirty: bool,
    /// New notifications wait in the outbox: save and send them now.
    urgent: bool,
    rules_stamp: Vec<(PathBuf, SystemTime, u64)>,
    reload_error: Option<String>,
    rules_loaded: usize,
    limits: DecodeLimits,
}

impl Evaluator {
    async fn start(opts: AlertsOptions, store: Store, groups: Vec<Group>) -> Result<Self, Error> {
        strata_pipeline::kafka::admin::ensure_topics(&opts.kafka, &[&opts.kafka.topic]).await?;
        let saved = load_checkpoint(&store, &opts.kafka.topic).await?;
        let rules_loaded = groups.iter().map(|g| g.rules.len()).sum();
        let file = opts.rules.display().to_string();
        let mut engine = Engine::new(
            groups.into_iter().map(|g| (file.clone(), g)).collect(),
            opts.engine.clone(),
        );
        engine.restore(saved.engine.clone());
        let consumer: StreamConsumer = opts.kafka.consumer().create()?;
        let metadata = consumer.fetch_metadata(Some(&opts.kafka.topic), Duration::from_secs(10))?;
        let count = metadata
            .topics()
            .iter()
            .find(|t| t.name() == opts.kafka.topic)
            .map_or(0, |t| t.partitions().len());
        let mut tpl = TopicPartitionList::new();
        let mut partitions = HashMap::new();
        for p in 0..count as i32 {
            let mut part = Partition::default();
            let offset = match saved.partitions.get(&p) {
                Some(m) => {
                    part.next = m.next;
                    part.max_ts_ms = m.max_ts_ms;
                    part.start_check = Some(StartCheck::new(m.replay_from));
                    Offset::Offset(m.replay_from)
                }
                None if opts.from_beginning => Offset::Beginning,
                None => Offset::End,
            };
            tpl.add_partition_offset(&opts.kafka.topic, p, offset)?;
            partitions.insert(p, part);
        }
        consumer.assign(&tpl)?;
        tracing::info!(
            topic = %opts.kafka.topic,
            partitions = count,
            rules = rules_loaded,
            resumed = !saved.partitions.is_empty(),
            "alert evaluator started"
        );
        let dispatcher = match &opts.notify {
            NotifyTarget::Receivers(config) => Some(
                saved
                    .dispatcher
                    .clone()
                    .map(|mut d| {
                        d.set_config((**config).clone());
                        d
                    })
                    .unwrap_or_else(|| Dispatcher::new((**config).clone())),
            ),
            _ => None,
        };
        let alertmanager = match &opts.notify {
            NotifyTarget::Alertmanager(url) => Some(AlertmanagerClient::new(url)),
            _ => None,
        };
        let deliverer = Arc::new(Deliverer::new(opts.max_retry));
        let rules_stamp = stamp(&opts.rules);
        Ok(Self {
            watermark_ms: saved.watermark_ms,
            opts,
            store,
            consumer: Arc::new(consumer),
            engine,
            saved,
            partitions,
            last_message: Instant::now(),
            pending_rows: Vec::new(),
            dispatcher,
            alertmanager,
            deliverer,
            in_flight: Default::default(),
            results: mpsc::unbounded_channel(),
            dirty: true,
            urgent: false,
            rules_stamp,
            reload_error: None,
            rules_loaded,
            limits: DecodeLimits::default(),
        })
    }

    async fn run(&mut self, shutdown: CancellationToken) -> Result<(), Error> {
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .expect("install SIGHUP handler");
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut checkpoint = tokio::time::interval(self.opts.checkpoint_interval);
        let watch_files = !self.opts.reload_interval.is_zero();
        let mut reload =
            tokio::time::interval(self.opts.reload_interval.max(Duration::from_millis(1)));
        self.send_outbox();
        let consumer = Arc::clone(&self.consumer);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                msg = consumer.recv() => {
                    let msg = msg?;
                    self.on_message(&msg)?;
                }
                Some((id, result)) = self.results.1.recv() => self.on_delivered(id, result),
                _ = tick.tick() => self.evaluate_and_notify(),
                _ = checkpoint.tick() => self.checkpoint().await?,
                _ = hup.recv() => self.reload("SIGHUP"),
                _ = reload.tick(), if watch_files => {
                    if stamp(&self.opts.rules) != self.rules_stamp {
                        self.reload("file change");
                    }
                }
            }
            if self.urgent {
                self.checkpoint().await?;
            }
        }
        self.checkpoint().await?;
        tracing::info!("alert evaluator stopped");
        Ok(())
    }

    fn on_message(&mut self, msg: &rdkafka::message::BorrowedMessage<'_>) -> Result<(), Error> {
        let p = msg.partition();
        let offset = msg.offset();
        let part = self.partitions.entry(p).or_default();
        if let Some(back) = part.check_first(p, offset) {
            tracing::debug!(
                partition = p,
                offset,
                back,
                "first message past the start: seeking back"
            );
            self.consumer.seek(
                &self.opts.kafka.topic,
                p,
                Offset::Offset(back),
                Duration::from_secs(10),
            )?;
            return Ok(());
        }
        let now_ns = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        let decoded = json::decode(msg.payload().unwrap_or_default(), self.limits, now_ns);
        let mut max_ts = None;
        for s in &decoded.samples {
            self.engine.push(s);
            let t = s.ts_ns.div_euclid(1_000_000);
            max_ts = Some(max_ts.map_or(t, |m: i64| m.max(t)));
        }
        let now = Instant::now();
        let moved = part.saw(offset, max_ts, now);
        self.last_message = now;
        // Otherwise the 100 ms tick evaluates: idle partitions and
        // notification deadlines depend on the clock alone.
        if moved {
            self.evaluate_and_notify();
        }
        Ok(())
    }

    /// The process watermark now (see the module documentation).
    fn watermark(&self) -> Option<i64> {
        let idle = self.opts.idle_timeout;
        let active = self
            .partitions
            .values()
            .filter(|p| p.heard.is_some_and(|h| h.elapsed() < idle))
            .filter_map(|p| p.max_ts_ms)
            .min();
        let computed = match active {
            Some(t) => Some(t),
            None => {
                let newest = self.partitions.values().filter_map(|p| p.max_ts_ms).max()?;
                let quiet = i64::try_from(self.last_message.elapsed().as_millis()).unwrap_or(0);
                Some(
                    newest
                        + quiet
                            .saturating_sub(i64::try_from(idle.as_millis()).unwrap_or(0))
                            .max(0),
                )
            }
        };
        match (self.watermark_ms, computed) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    fn evaluate_and_notify(&mut self) {
        if let Some(wm) = self.watermark() {
            self.watermark_ms = Some(wm);
            let round = self.engine.advance(wm);
            if round.evaluations > 0 {
                self.dirty = true;
            }
            self.pending_rows
                .extend(round.transitions.iter().map(transition_row));
            for t in &round.transitions {
                tracing::info!(
                    rule = %t.rule,
                    labels = ?t.transition.labels,
                    from = ?t.transition.from,
                    to = ?t.transition.to,
                    value = t.transition.value,
                    "alert state changed"
                );
            }
            if !round.to_send.is_empty() {
                self.hand_over(round.to_send);
            }
        }
        let now = wall_ms();
        if let Some(d) = &mut self.dispatcher
            && d.next_deadline().is_some_and(|t| t <= now)
        {
            let new = d.tick(now);
            if !new.is_empty() {
                for n in new {
                    self.saved.outbox.retain(|o| o.id != n.id);
                    self.saved.outbox.push(n);
                }
                self.dirty = true;
                self.urgent = true;
            }
        }
    }

    /// Gives alerts due for sending to the notifier.
    fn hand_over(&mut self, alerts: Vec<state::Alert>) {
        let generator = format!("{}/api/v1/alerts", self.opts.engine.external.url);
        let alerts: Vec<notify::Alert> = alerts
            .into_iter()
            .map(|a| notify::Alert {
                starts_at_ms: a.fired_at.unwrap_or(a.active_at),
                ends_at_ms: a.resolved_at,
                labels: a.labels,
                annotations: a.annotations,
                generator_url: generator.clone(),
            })
            .collect();
        let now = wall_ms();
        if let Some(d) = &mut self.dispatcher {
            d.insert(alerts, now);
            self.dirty = true;
        } else if self.alertmanager.is_some() {
            let id = format!("am-{}-{}", now, self.saved.alertmanager_outbox.len());
            self.saved.alertmanager_outbox.push((id, alerts));
            self.dirty = true;
            self.urgent = true;
        }
    }

    /// Starts delivering every outbox entry not already on its way. Called
    /// after a checkpoint, so an entry is saved before it is sent.
    fn send_outbox(&mut self) {
        for n in &self.saved.outbox {
            if !self.in_flight.insert(n.id.clone()) {
                continue;
            }
            let Some(config) = &self.dispatcher else {
                continue;
            };
            let receiver = config.config().receiver(&n.receiver).cloned();
            let deliverer = Arc::clone(&self.deliverer);
            let tx = self.results.0.clone();
            let n = n.clone();
            let external = self.opts.engine.external.url.clone();
            tokio::spawn(async move {
                let result = match receiver {
                    Some(r) => deliverer.deliver(&r, &n, &external).await,
                    None => Err(DeliveryError::permanent(format!(
                        "no receiver {:?}",
                        n.receiver
                    ))),
                };
                let _ = tx.send((n.id.clone(), result));
            });
        }
        for (id, alerts) in &self.saved.alertmanager_outbox {
            if !self.in_flight.insert(id.clone()) {
                continue;
            }
            let Some(am) = self.alertmanager.clone() else {
                continue;
            };
            let deliverer = Arc::clone(&self.deliverer);
            let tx = self.results.0.clone();
            let (id, alerts) = (id.clone(), alerts.clone());
            let horizon = 4 * self.opts.engine.resend_delay;
            tokio::spawn(async move {
                let result = deliverer.post_alertmanager(&am, &alerts, horizon).await;
                let _ = tx.send((id, result));
            });
        }
    }

    fn on_delivered(&mut self, id: String, result: Result<(), DeliveryError>) {
        self.in_flight.remove(&id);
        match &result {
            Ok(()) => tracing::debug!(%id, "notification delivered"),
            Err(e) => tracing::error!(%id, error = %e, "notification given up"),
        }
        if let Some(d) = &mut self.dispatcher
            && result.is_ok()
        {
            d.delivered(&id, wall_ms());
        }
        self.saved.outbox.retain(|n| n.id != id);
        self.saved.alertmanager_outbox.retain(|(i, _)| *i != id);
        self.dirty = true;
    }

    fn reload(&mut self, why: &str) {
        self.rules_stamp = stamp(&self.opts.rules);
        match rule::load(&self.opts.rules) {
            Ok(groups) => {
                self.rules_loaded = groups.iter().map(|g| g.rules.len()).sum();
                let file = self.opts.rules.display().to_string();
                let gone = self
                    .engine
                    .reload(groups.into_iter().map(|g| (file.clone(), g)).collect());
                self.pending_rows
                    .extend(gone.transitions.iter().map(transition_row));
                if !gone.to_send.is_empty() {
                    tracing::info!(
                        alerts = gone.to_send.len(),
                        "resolving the firing alerts of removed rules"
                    );
                    self.hand_over(gone.to_send);
                }
                self.reload_error = None;
                tracing::info!(why, rules = self.rules_loaded, "rules reloaded");
            }
            Err(e) => {
                tracing::error!(why, error = %e, "rules not reloaded: keeping the previous rules");
                self.reload_error = Some(e);
            }
        }
        self.dirty = true;
    }

    /// Saves transitions, state and status, then sends what the outbox
    /// holds.
    async fn checkpoint(&mut self) -> Result<(), Error> {
        if !self.dirty {
            return Ok(());
        }
        if !self.pending_rows.is_empty() {
            let seq = self.saved.seq + 1;
            let bytes = parquet_bytes(&self.pending_rows)?;
            let path = Path::from(format!("{TRANSITIONS_DIR}/{seq:020}.parquet"));
            self.store.put_durable(&path, bytes, false).await?;
            self.saved.seq = seq;
            self.pending_rows.clear();
        }
        let next_eval = self.engine.next_eval_ms();
        let reach = self.engine.reach_ms();
        for (p, part) in &mut self.partitions {
            if part.next == 0 && part.max_ts_ms.is_none() {
                continue;
            }
            let replay_from = next_eval.map_or(part.next, |t| part.replay_from(t - reach));
            self.saved.partitions.insert(
                *p,
                PartitionMark {
                    next: part.next,
                    replay_from,
                    max_ts_ms: part.max_ts_ms,
                },
            );
        }
        self.saved.topic = self.opts.kafka.topic.clone();
        self.saved.watermark_ms = self.watermark_ms;
        self.saved.engine = self.engine.checkpoint();
        self.saved.dispatcher = self.dispatcher.clone();
        let json = serde_json::to_vec(&self.saved).expect("checkpoint serializes");
        self.store
            .put_durable(&Path::from(CHECKPOINT_PATH), Bytes::from(json), false)
            .await?;
        self.write_status().await?;
        self.dirty = false;
        self.urgent = false;
        self.commit_group_offsets();
        self.send_outbox();
        Ok(())
    }

    /// Stores the checkpoint's offsets in the consumer group, for lag
    /// monitoring only: the checkpoint decides where a restart reads.
    fn commit_group_offsets(&self) {
        let mut tpl = TopicPartitionList::new();
        for (p, m) in &self.saved.partitions {
            if let Err(e) =
                tpl.add_partition_offset(&self.opts.kafka.topic, *p, Offset::Offset(m.next))
            {
                tracing::debug!(error = %e, "offset not committed");
                return;
            }
        }
        if tpl.count() > 0
            && let Err(e) = self
                .consumer
                .commit(&tpl, rdkafka::consumer::CommitMode::Async)
        {
            tracing::debug!(error = %e, "group offsets not committed");
        }
    }

    async fn write_status(&self) -> Result<(), Error> {
        let status = self.engine.status();
        let (series, points, ignored) = self.engine.series_stats();
        let mut doc = serde_json::to_value(&status).expect("status serializes");
        doc["evaluator"] = serde_json::json!({
            "watermark": self.watermark_ms.map(crate::engine::rfc3339),
            "rules": self.rules_loaded,
            "series": series,
            "points": points,
            "ignoredSamples": ignored,
            "outbox": self.saved.outbox.len() + self.saved.alertmanager_outbox.len(),
            "lastReloadError": self.reload_error,
        });
        self.store
            .objects()
            .put(
                &Path::from(STATUS_PATH),
                Bytes::from(doc.to_string()).into(),
            )
            .await?;
        Ok(())
    }
}

async fn load_checkpoint(store: &Store, topic: &str) -> Result<Saved, Error> {
    match store.objects().get(&Path::from(CHECKPOINT_PATH)).await {
        Ok(got) => {
            let bytes = got.bytes().await?;
            let saved: Saved =
                serde_json::from_slice(&bytes).map_err(|e| Error::Checkpoint(e.to_string()))?;
            if saved.topic != topic {
                return Err(Error::Checkpoint(format!(
                    "it belongs to topic {:?}, not {topic:?}; use another store or remove it",
                    saved.topic
                )));
            }
            Ok(saved)
        }
        Err(object_store::Error::NotFound { .. }) => Ok(Saved {
            topic: topic.to_string(),
            ..Default::default()
        }),
        Err(e) => Err(e.into()),
    }
}

fn transition_row(t: &RuleTransition) -> TransitionRow {
    let labels = &t.transition.labels;
    TransitionRow {
        ts_ms: t.transition.at_ms,
        group: t.group.clone(),
        rule: t.rule.clone(),
        labels: labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        state: state_name(t.transition.to).into(),
        previous: state_name(t.transition.from).into(),
        value: t.transition.value,
        fingerprint: notify::fingerprint_hex(label_set_fingerprint(labels)),
    }
}

fn state_name(s: crate::AlertState) -> &'static str {
    match s {
        crate::AlertState::Inactive => "inactive",
        crate::AlertState::Pending => "pending",
        crate::AlertState::Firing => "firing",
        crate::AlertState::Resolved => "resolved",
    }
}

fn parquet_bytes(rows: &[TransitionRow]) -> Result<Bytes, Error> {
    let batch = strata_schemas::alerts::batch(rows)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props))?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(Bytes::from(buf))
}

/// Names, modification times and sizes of the rule files, to notice edits.
fn stamp(path: &std::path::Path) -> Vec<(PathBuf, SystemTime, u64)> {
    let files: Vec<PathBuf> = if path.is_dir() {
        std::fs::read_dir(path)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    } else {
        vec![path.to_path_buf()]
    };
    let mut out: Vec<_> = files
        .into_iter()
        .filter_map(|f| {
            let m = std::fs::metadata(&f).ok()?;
            Some((f, m.modified().ok()?, m.len()))
        })
        .collect();
    out.sort();
    out
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
