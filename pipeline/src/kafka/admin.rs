//! Creating the topics Strata needs.
//!
//! Some brokers (tansu 0.6) do not create topics on first use, and
//! production clusters usually disable it, so Strata creates `metrics` and
//! `metrics.dlq` through the admin API at start, tolerating ones that exist.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::KafkaConfig;
use crate::error::{Error, Result};

/// Creates `topics` with the configured partitions and replication; topics
/// that already exist are left as they are.
pub async fn ensure_topics(config: &KafkaConfig, topics: &[&str]) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = config.admin().create()?;
    // Listing all topics never auto-creates one (asking for a named topic
    // may, with the broker's defaults instead of ours).
    let metadata = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(30))
        .map_err(|e| {
            Error::Setup(format!(
                "could not reach Kafka at {} ({e}); is the broker running, and is --brokers right?",
                config.brokers
            ))
        })?;
    let missing: Vec<&str> = topics
        .iter()
        .copied()
        .filter(|t| !metadata.topics().iter().any(|m| m.name() == *t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let new: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|t| {
            NewTopic::new(
                t,
                config.partitions,
                TopicReplication::Fixed(config.replication),
            )
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin.create_topics(&new, &opts).await?;
    for r in results {
        match r {
            Ok(topic) => tracing::info!(%topic, partitions = config.partitions, "created topic"),
            Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                tracing::debug!(%topic, "topic exists")
            }
            Err((topic, code)) => {
                return Err(Error::Setup(format!(
                    "could not create topic {topic}: {code}"
                )));
            }
        }
    }
    Ok(())
}
