//! Decoding Kafka message payloads into samples.
//!
//! A decoder never fails a whole batch for one bad record: it returns the
//! samples it could decode and, for each part it could not, a
//! [`Rejected`] with the reason and the bytes, which ingest dead-letters.

pub mod json;
pub mod timestamp;

use strata_schemas::Sample;

/// A part of a message that could not be decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// Why, in words a producer's author can act on.
    pub reason: String,
    /// Index of the element in a JSON array message (`None`: the whole
    /// message).
    pub index: Option<usize>,
    /// The rejected bytes: the element for an array, else the message.
    pub bytes: Vec<u8>,
}

/// The outcome of decoding one message.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Decoded {
    /// Samples accepted from the message.
    pub samples: Vec<Sample>,
    /// Parts of the message that must be dead-lettered.
    pub rejected: Vec<Rejected>,
}

/// Limits a decoder enforces on what it accepts.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Samples later than this many nanoseconds ahead of the wall clock are
    /// refused as absurd.
    pub max_future_ns: i64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_future_ns: 24 * 3_600 * 1_000_000_000,
        }
    }
}
