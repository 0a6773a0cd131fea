//! InfluxDB line protocol, as Telegraf's Kafka output writes it (`data_format = "influx"`).

use super::{DecodeLimits, Decoded, Rejected};

/// The unit of line protocol timestamps (InfluxDB's `?precision=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Nanoseconds (Telegraf's Kafka output, the default).
    #[default]
    Ns,
    /// Microseconds.
    Us,
    /// Milliseconds.
    Ms,
    /// Seconds.
    S,
}

/// Decodes one message of line protocol with nanosecond timestamps; `now_ns`
/// is the wall clock used to refuse samples from the far future (and the
/// time of lines without a timestamp).
pub fn decode(payload: &[u8], limits: DecodeLimits, now_ns: i64) -> Decoded {
    decode_with(payload, Precision::Ns, limits, now_ns)
}

/// As [`decode`], with timestamps in `precision`.
pub fn decode_with(
    payload: &[u8],
    _precision: Precision,
    _limits: DecodeLimits,
    _now_ns: i64,
) -> Decoded {
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
