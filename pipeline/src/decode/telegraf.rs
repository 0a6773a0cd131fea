//! Telegraf's JSON serializer: `{"fields": {…}, "name": "docker", "tags": {…}, "timestamp": 1458229140}`.

use super::{DecodeLimits, Decoded, Rejected};

/// Decodes one message of Telegraf JSON; `now_ns` is the wall clock used to refuse
/// samples from the far future.
pub fn decode(payload: &[u8], _limits: DecodeLimits, _now_ns: i64) -> Decoded {
    Decoded {
        samples: Vec::new(),
        rejected: vec![Rejected {
            reason: "of Telegraf JSON: not implemented yet".into(),
            index: None,
            bytes: payload.to_vec(),
        }],
    }
}
