//! The ingest consumer: a group member whose starting offsets come from the
//! store's commit log, not from Kafka's committed offsets.
//!
//! When the group assigns partitions, [`IngestContext::rebalance`] sets each
//! partition's starting offset to where the log says its open windows must
//! be rebuilt from, else the next offset the log has not stored (or the
//! beginning of the partition when the log has none), then tells the
//! ingest loop what changed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use strata_storage::WindowMark;
use tokio::sync::mpsc;

use crate::tier::Windows;

/// A change of the partitions this process owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rebalance {
    /// These partitions were assigned.
    Assigned(Vec<i32>),
    /// These partitions were taken away.
    Revoked(Vec<i32>),
}

/// What ingest and the rebalance callback share about partition offsets.
#[derive(Debug, Default)]
pub struct Offsets {
    /// Next offset not yet stored, per partition, as the commit log knew it
    /// at the last commit or refresh.
    pub stored: HashMap<i32, i64>,
    /// Window marks per partition, from the same log state as `stored`.
    pub marks: HashMap<i32, WindowMark>,
    /// The offset each owned partition was last assigned or sought at
    /// (absent: from its beginning). A message below it can only come from
    /// the broker resetting the position.
    pub started_at: HashMap<i32, i64>,
    /// The log state each partition was last started from, for ingest to
    /// rebuild its windows from.
    pub started_from: HashMap<i32, Start>,
    /// Partitions the consumer owns, as of the last rebalance callback.
    pub owned: HashSet<i32>,
    /// Partitions started at an offset whose first message has not arrived
    /// yet. See [`Offsets::check_first`].
    pub awaiting: HashMap<i32, StartCheck>,
    epochs: u64,
}

/// How a partition was started: from which log state, and a number that
/// changes at every start, so that ingest notices a restart of a partition
/// even before the rebalance event reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The partition's window mark in the log.
    pub mark: Option<WindowMark>,
    /// The partition's next unstored offset in the log.
    pub stored: Option<i64>,
    /// Distinguishes starts.
    pub epoch: u64,
}

impl Offsets {
    /// Where partition `p` should start: early enough to rebuild its open
    /// windows (the mark's `replay_from`), else the stored offset, else its
    /// beginning. Records the choice.
    pub fn start(&mut self, p: i32) -> Offset {
        let mark = self.marks.get(&p).copied();
        let stored = self.stored.get(&p).copied();
        self.epochs += 1;
        let start = Start {
            mark,
            stored,
            epoch: self.epochs,
        };
        self.started_from.insert(p, start);
        match Windows::start_offset(mark, stored) {
            Some(o) => {
                self.started_at.insert(p, o);
                self.awaiting.insert(p, StartCheck::new(o));
                Offset::Offset(o)
            }
            None => {
                self.started_at.remove(&p);
                self.awaiting.remove(&p);
                Offset::Beginning
            }
        }
    }

    /// Checks the first message of partition `p` after a start (see
    /// [`StartCheck`]). Returns the offset to seek back to, and records it
    /// as the new `started_at`. Messages below the wanted start are then
    /// skipped by their offsets as usual.
    pub fn check_first(&mut self, p: i32, offset: i64) -> Option<i64> {
        let check = self.awaiting.get_mut(&p)?;
        match check.check(p, offset) {
            Some(back) => {
                self.started_at.insert(p, back);
                Some(back)
            }
            None => {
                self.awaiting.remove(&p);
                None
            }
        }
    }
}

/// The check of the first message after a consumer started a partition at
/// an offset.
///
/// A Kafka broker answers a fetch at offset `o` with the record batch that
/// contains `o` (the client drops the records before it); tansu 0.6 answers
/// with the first batch that *starts* at or after `o`, silently skipping
/// the rest of the batch holding `o`. When the first message is past the
/// start, the consumer must seek back: a batch boundary lies between the
/// start and the message, and each retry looks four times further back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartCheck {
    want: i64,
    tries: u32,
}

impl StartCheck {
    /// A check that offset `want` arrives first.
    pub fn new(want: i64) -> Self {
        Self { want, tries: 0 }
    }

    /// The offset to seek back to when `offset`, the first message of
    /// partition `p` after the start, is past it; `None` once the start
    /// arrived (the check is over), or after 8 tries (logged: the offsets
    /// are gone, e.g. deleted by retention).
    pub fn check(&mut self, p: i32, offset: i64) -> Option<i64> {
        let want = self.want;
        if offset <= want {
            return None;
        }
        if self.tries >= 8 {
            tracing::error!(
                partition = p,
                wanted = want,
                got = offset,
                "the broker cannot deliver offsets {want}..{offset} (deleted by retention?)"
            );
            return None;
        }
        let back = (want - (64i64 << (2 * self.tries))).max(0);
        self.tries += 1;
        Some(back)
    }
}

/// [`Offsets`] behind the lock the consumer callbacks and ingest share.
pub type Positions = Arc<Mutex<Offsets>>;

/// Consumer callbacks of the ingest consumer.
pub struct IngestContext {
    positions: Positions,
    events: mpsc::UnboundedSender<Rebalance>,
}

impl IngestContext {
    /// A context that starts assigned partitions at `positions` and reports
    /// rebalances on `events`.
    pub fn new(positions: Positions, events: mpsc::UnboundedSender<Rebalance>) -> Self {
        Self { positions, events }
    }
}

/// The ingest consumer type.
pub type IngestConsumer = StreamConsumer<IngestContext>;

impl ClientContext for IngestContext {}

impl ConsumerContext for IngestContext {
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let parts: Vec<(String, i32)> = tpl
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition()))
            .collect();
        let ids = parts.iter().map(|(_, p)| *p).collect::<Vec<_>>();
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            rdkafka::consumer::RebalanceProtocol::Cooperative
        );
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                {
                    let mut positions = self.positions.lock().expect("positions lock");
                    for (topic, p) in &parts {
                        positions.owned.insert(*p);
                        let offset = positions.start(*p);
                        if let Err(e) = tpl.set_partition_offset(topic, *p, offset) {
                            tracing::error!(partition = p, error = %e, "could not set start offset");
                        }
                    }
                }
                tracing::info!(partitions = ?ids, "partitions assigned");
                let res: KafkaResult<()> = if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                };
                if let Err(e) = res {
                    tracing::error!(error = %e, "assign failed");
                }
                let _ = self.events.send(Rebalance::Assigned(ids));
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                tracing::info!(partitions = ?ids, "partitions revoked");
                {
                    let mut positions = self.positions.lock().expect("positions lock");
                    for p in &ids {
                        positions.owned.remove(p);
                    }
                }
                let res = if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                };
                if let Err(e) = res {
                    tracing::error!(error = %e, "unassign failed");
                }
                let _ = self.events.send(Rebalance::Revoked(ids));
            }
            other => {
                tracing::error!(error = ?other, "rebalance error; dropping assignment");
                self.positions.lock().expect("positions lock").owned.clear();
                let _ = consumer.unassign();
                let _ = self.events.send(Rebalance::Revoked(ids));
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            // Group offsets are informational (lag monitoring): the commit
            // log is what ingest resumes from.
            tracing::debug!(error = %e, "group offset commit failed");
        }
    }
}
