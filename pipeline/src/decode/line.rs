//! InfluxDB line protocol, as Telegraf's Kafka output writes it (`data_format = "influx"`).

use super::{DecodeLimits, Decoded, Rejected};

/// Decodes one message of line protocol; `now_ns` is the wall clock used to refuse
/// samples from the far future.
pub fn decode(payload: &[u8], _limits: DecodeLimits, _now_ns: i64) -> Decoded {
    Decoded {
        samples: Vec::new(),
        rejected: vec![Rejected {
            reason: "of line protocol: not implemented yet".into(),
            index: None,
            bytes: payload.to_vec(),
        }],
    }
}

/// Whether any line of `payload` parses as line protocol.
pub fn any_line_parses(_payload: &[u8]) -> bool {
    false
}
