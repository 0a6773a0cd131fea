//! The dead-letter producer.
//!
//! Undecodable messages (or array elements, or lines) go to the dead-letter
//! topic with the original bytes and, in headers, why and where they came
//! from:
//!
//! | header                    | value                                   |
//! |---------------------------|-----------------------------------------|
//! | `strata.reason`           | the decoder's reason                    |
//! | `strata.source.topic`     | topic of the original message           |
//! | `strata.source.partition` | its partition                           |
//! | `strata.source.offset`    | its offset                              |
//! | `strata.source.index`     | for part of a message: the element's index in an array, or the line number in line protocol |
//!
//! Sends are not awaited one by one (that would slow the consumer); ingest
//! awaits all outstanding deliveries before it commits the offsets of the
//! messages they came from, so a dead letter is never lost. After a crash a
//! dead letter may be sent again: consumers of the dead-letter topic can
//! de-duplicate on source partition + offset + index.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};

use super::KafkaConfig;
use crate::decode::Rejected;
use crate::error::{Error, Result};

/// Where a rejected record came from.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// Source topic.
    pub topic: &'a str,
    /// Source partition.
    pub partition: i32,
    /// Source offset.
    pub offset: i64,
    /// Source message key.
    pub key: Option<&'a [u8]>,
}

/// Sends rejected records to the dead-letter topic.
pub struct DeadLetters {
    producer: FutureProducer,
    topic: String,
    pending: Vec<DeliveryFuture>,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters")
            .field("topic", &self.topic)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl DeadLetters {
    /// A dead-letter producer for `config.dlq_topic`.
    pub fn new(config: &KafkaConfig) -> Result<Self> {
        Ok(Self {
            producer: config.producer().create()?,
            topic: config.dlq_topic.clone(),
            pending: Vec::new(),
        })
    }

    /// Queues one dead letter. Waits only when the producer's local queue is
    /// full.
    pub async fn send(&mut self, origin: Origin<'_>, rejected: &Rejected) -> Result<()> {
        let partition = origin.partition.to_string();
        let offset = origin.offset.to_string();
        let index = rejected.index.map(|i| i.to_string());
        let mut headers = OwnedHeaders::new_with_capacity(5)
            .insert(Header {
                key: "strata.reason",
                value: Some(rejected.reason.as_bytes()),
            })
            .insert(Header {
                key: "strata.source.topic",
                value: Some(origin.topic.as_bytes()),
            })
            .insert(Header {
                key: "strata.source.partition",
                value: Some(partition.as_bytes()),
            })
            .insert(Header {
                key: "strata.source.offset",
                value: Some(offset.as_bytes()),
            });
        if let Some(i) = &index {
            headers = headers.insert(Header {
                key: "strata.source.index",
                value: Some(i.as_bytes()),
            });
        }
        let mut record = FutureRecord::to(&self.topic)
            .payload(&rejected.bytes[..])
            .headers(headers);
        if let Some(key) = origin.key {
            record = record.key(key);
        }
        loop {
            match self.producer.send_result(record) {
                Ok(delivery) => {
                    self.pending.push(delivery);
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
    }

    /// Number of dead letters queued and not yet confirmed.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Waits until every queued dead letter is acknowledged by the broker.
    pub async fn flush(&mut self) -> Result<usize> {
        let n = self.pending.len();
        for delivery in self.pending.drain(..) {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(Error::DeadLetter(e.to_string())),
                Err(_) => return Err(Error::DeadLetter("producer dropped the message".into())),
            }
        }
        Ok(n)
    }
}
