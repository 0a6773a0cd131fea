//! Prometheus remote write 1.0: a snappy-compressed protobuf
//! `WriteRequest` (`prometheus/prompb/remote.proto`, `types.proto`).
//!
//! The messages are declared here with prost's derives, field numbers as
//! in Prometheus's `.proto` files; only what 1.0 defines is read. A
//! series becomes samples named by its `__name__` label, with its other
//! labels (labels with an empty value are absent, as in Prometheus), at
//! its millisecond timestamps. Staleness markers (the NaN Prometheus
//! writes when a series disappears) mark an end, not a value, and are
//! skipped; native histograms, which 1.0 does not define, are refused.
//! Exemplars and metadata are not samples and are not kept.

use std::collections::HashSet;

use strata_schemas::{Labels, Sample};

use super::answer::Refused;
use crate::decode::{DecodeLimits, timestamp};

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series of the request.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// The series' labels, `__name__` among them.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Its samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<RwSample>,
    /// Native histograms (field 4 of later Prometheus releases), kept as
    /// bytes only to refuse them rather than drop them unnoticed.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub histograms: Vec<Vec<u8>>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RwSample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The bits of Prometheus's staleness marker (`value.StaleNaN`).
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// Decodes an uncompressed `WriteRequest` into samples and refusals, one
/// per series with a problem; `Err` when it is not a `WriteRequest`.
pub(crate) fn decode(
    proto: &[u8],
    limits: DecodeLimits,
    now_ns: i64,
) -> Result<(Vec<Sample>, Vec<Refused>), String> {
    let request: WriteRequest = prost::Message::decode(proto)
        .map_err(|e| format!("the body is not a protobuf WriteRequest: {e}"))?;
    let mut samples = Vec::new();
    let mut refused = Vec::new();
    for series in request.timeseries {
        let described = || describe(&series.labels);
        let (name, labels) = match series_labels(&series.labels) {
            Ok(x) => x,
            Err(reason) => {
                refused.push(Refused {
                    series: Some(described()),
                    samples: series.samples.len(),
                    ..Refused::at(None, reason)
                });
                continue;
            }
        };
        if !series.histograms.is_empty() {
            refused.push(Refused {
                series: Some(described()),
                samples: series.histograms.len(),
                ..Refused::at(
                    None,
                    "native histograms are not part of remote write 1.0 and are not \
                     supported; send classic histograms"
                        .into(),
                )
            });
        }
        let mut bad_time: Option<Refused> = None;
        for s in series.samples {
            if s.value.to_bits() == STALE_NAN {
                continue;
            }
            let ts = s
                .timestamp
                .checked_mul(1_000_000)
                .ok_or_else(|| format!("timestamp {} ms is out of range", s.timestamp))
                .and_then(|ns| timestamp::check_range(ns, now_ns, limits.max_future_ns));
            match ts {
                Ok(ts_ns) => samples.push(Sample {
                    metric_name: name.clone(),
                    labels: labels.clone(),
                    ts_ns,
                    value: s.value,
                }),
                Err(reason) => {
                    bad_time
                        .get_or_insert_with(|| Refused {
                            series: Some(described()),
                            ..Refused::at(None, reason)
                        })
                        .samples += 1
                }
            }
        }
        refused.extend(bad_time);
    }
    Ok((samples, refused))
}

/// The metric name and the other labels of a series, or why it has none.
fn series_labels(labels: &[Label]) -> Result<(String, Labels), String> {
    let mut name = None;
    let mut seen = HashSet::with_capacity(labels.len());
    let mut pairs = Vec::with_capacity(labels.len());
    for l in labels {
        if l.name.is_empty() {
            return Err("a label has an empty name".into());
        }
        if !seen.insert(l.name.as_str()) {
            return Err(format!("label {:?} appears twice", l.name));
        }
        if l.name == "__name__" {
            name = Some(l.value.clone());
        } else if !l.value.is_empty() {
            pairs.push((l.name.clone(), l.value.clone()));
        }
    }
    match name {
        Some(n) if !n.is_empty() => Ok((n, Labels::from_pairs(pairs))),
        _ => Err("the series has no __name__ label".into()),
    }
}

/// `name{label="value",…}` of a series as sent.
fn describe(labels: &[Label]) -> String {
    let name = labels
        .iter()
        .find(|l| l.name == "__name__")
        .map_or("", |l| l.value.as_str());
    let rest: Vec<String> = labels
        .iter()
        .filter(|l| l.name != "__name__")
        .map(|l| format!("{}={:?}", l.name, l.value))
        .collect();
    format!("{name}{{{}}}", rest.join(","))
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    const NOW: i64 = 1_800_000_000_000_000_000;

    fn label(n: &str, v: &str) -> Label {
        Label {
            name: n.into(),
            value: v.into(),
        }
    }

    fn series(labels: Vec<Label>, samples: &[(f64, i64)]) -> TimeSeries {
        TimeSeries {
            labels,
            samples: samples
                .iter()
                .map(|&(value, timestamp)| RwSample { value, timestamp })
                .collect(),
            histograms: Vec::new(),
        }
    }

    fn run(req: WriteRequest) -> (Vec<Sample>, Vec<Refused>) {
        decode(&req.encode_to_vec(), DecodeLimits::default(), NOW).unwrap()
    }

    #[test]
    fn series_become_samples() {
        let t = 1_700_000_000_123;
        let (samples, refused) = run(WriteRequest {
            timeseries: vec![series(
                vec![
                    label("__name__", "http_requests_total"),
                    label("job", "api"),
                    label("empty", ""),
                ],
                &[
                    (1.0, t),
                    (f64::from_bits(STALE_NAN), t + 1),
                    (2.5, t + 15_000),
                ],
            )],
        });
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].metric_name, "http_requests_total");
        assert_eq!(samples[0].labels, Labels::from_pairs([("job", "api")]));
        assert_eq!(samples[0].ts_ns, t * 1_000_000);
        assert_eq!(samples[1].value, 2.5);
    }

    #[test]
    fn bad_series_are_refused_by_name() {
        let t = 1_700_000_000_000;
        let mut hist = series(vec![label("__name__", "h")], &[]);
        hist.histograms.push(vec![1, 2]);
        let (samples, refused) = run(WriteRequest {
            timeseries: vec![
                series(vec![label("job", "x")], &[(1.0, t)]),
                series(
                    vec![label("__name__", "m"), label("a", "1"), label("a", "2")],
                    &[(1.0, t)],
                ),
                series(
                    vec![label("__name__", "old")],
                    &[(1.0, 5), (2.0, 6), (3.0, t)],
                ),
                hist,
            ],
        });
        assert_eq!(samples.len(), 1);
        let reasons: Vec<(&str, &str, usize)> = refused
            .iter()
            .map(|r| (r.series.as_deref().unwrap(), r.reason.as_str(), r.samples))
            .collect();
        assert_eq!(reasons[0].0, r#"{job="x"}"#);
        assert!(reasons[0].1.contains("no __name__"));
        assert!(reasons[1].1.contains("\"a\" appears twice"));
        assert_eq!((reasons[2].0, reasons[2].2), ("old{}", 2));
        assert!(reasons[2].1.contains("before 1990"));
        assert!(reasons[3].1.contains("native histograms"));
        assert!(decode(b"\xff\xff", DecodeLimits::default(), NOW).is_err());
    }
}
