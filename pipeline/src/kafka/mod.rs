//! Everything that talks to Kafka: client configuration, topic creation,
//! the group consumer and the dead-letter producer.

pub mod admin;
pub mod config;
pub mod dlq;
pub mod source;

pub use config::KafkaConfig;
