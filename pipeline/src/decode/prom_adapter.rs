//! prometheus-kafka-adapter's JSON: `{"timestamp": "2026-01-01T00:00:00Z", "value": "9876543210", "name": "up", "labels": {…}}`.

use super::{DecodeLimits, Decoded, Rejected};

/// Decodes one message of prometheus-kafka-adapter JSON; `now_ns` is the wall clock used to refuse
/// samples from the far future.
pub fn decode(payload: &[u8], _limits: DecodeLimits, _now_ns: i64) -> Decoded {
    Decoded {
        samples: Vec::new(),
        rejected: vec![Rejected {
            reason: "of prometheus-kafka-adapter JSON: not implemented yet".into(),
            index: None,
            bytes: payload.to_vec(),
        }],
    }
}
