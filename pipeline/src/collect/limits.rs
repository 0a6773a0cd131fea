//! What one collector accepts: the per-request and per-series limits, and
//! the cardinality limit on new series per metric.
//!
//! The cardinality limit is kept in memory, per collector process:
//! collectors are stateless, so behind a load balancer each one counts the
//! series it has seen itself, and a restart forgets them. It protects the
//! cluster from a runaway label (a request id, a timestamp as a label), not
//! a global quota.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use strata_schemas::{Sample, SeriesKey};

use super::answer::Refused;

/// Limits on what one request may hold. A limit of 0 means none, except
/// for the body size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body, as received and after decompression (413).
    pub max_body_bytes: usize,
    /// Most samples one request may hold (413; nothing is stored).
    pub max_samples: usize,
    /// Most labels one series may have, the metric name not counted (400).
    pub max_labels: usize,
    /// Longest label name, in bytes (400).
    pub max_label_name_len: usize,
    /// Longest label value and metric name, in bytes (400).
    pub max_label_value_len: usize,
    /// Most distinct series one metric may have in this process; samples
    /// of further new series are refused (400).
    pub max_series_per_metric: usize,
}

impl Default for Limits {
    /// InfluxDB's default body limit (25 MB); Grafana Mimir's defaults for
    /// labels (30 per series, names of 1024 bytes, values of 2048).
    fn default() -> Self {
        Self {
            max_body_bytes: 25 * 1024 * 1024,
            max_samples: 100_000,
            max_labels: 30,
            max_label_name_len: 1024,
            max_label_value_len: 2048,
            max_series_per_metric: 100_000,
        }
    }
}

/// The series each metric has had in this process, for
/// [`Limits::max_series_per_metric`].
#[derive(Debug, Default)]
pub struct SeriesLimiter {
    seen: Mutex<HashMap<String, HashSet<u64>>>,
}

impl SeriesLimiter {
    /// Whether series `key` of `metric` may be stored: it was seen before,
    /// or `metric` has fewer than `max` series (then it is remembered).
    fn admit(&self, metric: &str, key: SeriesKey, max: usize) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let series = match seen.get_mut(metric) {
            Some(s) => s,
            None => seen.entry(metric.to_string()).or_default(),
        };
        if series.contains(&key.0) {
            return true;
        }
        if max != 0 && series.len() >= max {
            return false;
        }
        series.insert(key.0);
        true
    }
}

/// Splits `samples` into those that may be stored and one refusal per
/// series that may not: too many labels, a name or value too long, a value
/// Strata cannot store, or a new series past the cardinality limit.
pub(crate) fn admit(
    samples: Vec<Sample>,
    limits: &Limits,
    limiter: &SeriesLimiter,
) -> (Vec<Sample>, Vec<Refused>) {
    let mut ok = Vec::with_capacity(samples.len());
    let mut refused: Vec<Refused> = Vec::new();
    // Series already judged in this request: `None` admitted, `Some(i)`
    // refused as `refused[i]`.
    let mut judged: HashMap<SeriesKey, Option<usize>> = HashMap::new();
    // Admitted series with NaN or infinite values, as `refused[i]`.
    let mut non_finite: HashMap<SeriesKey, usize> = HashMap::new();
    for sample in samples {
        let key = sample.series_key();
        let verdict = match judged.get(&key) {
            Some(v) => *v,
            None => {
                let v = series_problem(&sample, limits)
                    .or_else(|| {
                        (!limiter.admit(&sample.metric_name, key, limits.max_series_per_metric))
                            .then(|| {
                                format!(
                                    "metric {:?} already has {} series in this collector \
                                 (--max-series-per-metric); new series are refused",
                                    sample.metric_name, limits.max_series_per_metric
                                )
                            })
                    })
                    .map(|reason| {
                        refused.push(Refused::series(&sample, reason));
                        refused.len() - 1
                    });
                judged.insert(key, v);
                v
            }
        };
        match verdict {
            Some(i) => refused[i].samples += 1,
            None if !sample.value.is_finite() => {
                let i = *non_finite.entry(key).or_insert_with(|| {
                    refused.push(Refused::series(
                        &sample,
                        format!(
                            "value {} cannot be stored: Strata stores finite values only",
                            sample.value
                        ),
                    ));
                    refused.len() - 1
                });
                refused[i].samples += 1;
            }
            None => ok.push(sample),
        }
    }
    (ok, refused)
}

/// Why `sample`'s series breaks `limits`, if it does.
fn series_problem(sample: &Sample, limits: &Limits) -> Option<String> {
    let labels = sample.labels.pairs();
    if limits.max_labels != 0 && labels.len() > limits.max_labels {
        return Some(format!(
            "{} labels, more than the {} allowed (--max-labels-per-series)",
            labels.len(),
            limits.max_labels
        ));
    }
    if limits.max_label_value_len != 0 && sample.metric_name.len() > limits.max_label_value_len {
        return Some(format!(
            "metric name of {} bytes, longer than the {} allowed (--max-label-value-length)",
            sample.metric_name.len(),
            limits.max_label_value_len
        ));
    }
    for (name, value) in labels {
        if limits.max_label_name_len != 0 && name.len() > limits.max_label_name_len {
            return Some(format!(
                "label name of {} bytes, longer than the {} allowed (--max-label-name-length)",
                name.len(),
                limits.max_label_name_len
            ));
        }
        if limits.max_label_value_len != 0 && value.len() > limits.max_label_value_len {
            return Some(format!(
                "label {name:?} has a value of {} bytes, longer than the {} allowed \
                 (--max-label-value-length)",
                value.len(),
                limits.max_label_value_len
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use strata_schemas::Labels;

    use super::*;

    fn sample(metric: &str, labels: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            metric_name: metric.into(),
            labels: Labels::from_pairs(labels.iter().copied()),
            ts_ns: 1_700_000_000_000_000_000,
            value,
        }
    }

    #[test]
    fn label_limits_refuse_the_series_once() {
        let limits = Limits {
            max_labels: 2,
            max_label_name_len: 4,
            max_label_value_len: 5,
            ..Limits::default()
        };
        let limiter = SeriesLimiter::default();
        let many = [("a", "1"), ("b", "2"), ("c", "3")];
        let (ok, refused) = admit(
            vec![
                sample("m", &many, 1.0),
                sample("m", &many, 2.0),
                sample("m", &[("longname", "x")], 1.0),
                sample("m", &[("a", "toolong")], 1.0),
                sample("metric", &[], 1.0),
                sample("m", &[("a", "fine")], 1.0),
            ],
            &limits,
            &limiter,
        );
        assert_eq!(ok.len(), 1);
        assert_eq!(refused.len(), 4, "{refused:?}");
        assert!(refused[0].reason.contains("3 labels, more than the 2"));
        assert_eq!(refused[0].samples, 2);
        assert_eq!(
            refused[0].series.as_deref(),
            Some(r#"m{a="1",b="2",c="3"}"#)
        );
        assert!(refused[1].reason.contains("label name of 8 bytes"));
        assert!(
            refused[2]
                .reason
                .contains("label \"a\" has a value of 7 bytes")
        );
        assert!(refused[3].reason.contains("metric name of 6 bytes"));
    }

    #[test]
    fn cardinality_counts_new_series_per_metric() {
        let limits = Limits {
            max_series_per_metric: 2,
            ..Limits::default()
        };
        let limiter = SeriesLimiter::default();
        let s = |m: &str, h: &str| sample(m, &[("host", h)], 1.0);
        let (ok, refused) = admit(vec![s("m", "a"), s("m", "b")], &limits, &limiter);
        assert_eq!((ok.len(), refused.len()), (2, 0));
        // Known series still pass; a third new one of `m` does not; other
        // metrics have their own count.
        let (ok, refused) = admit(
            vec![s("m", "a"), s("m", "c"), s("m", "c"), s("n", "c")],
            &limits,
            &limiter,
        );
        assert_eq!(ok.len(), 2);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].samples, 2);
        assert!(
            refused[0].reason.contains("already has 2 series"),
            "{}",
            refused[0].reason
        );
    }

    #[test]
    fn non_finite_values_are_refused() {
        let limiter = SeriesLimiter::default();
        let (ok, refused) = admit(
            vec![
                sample("m", &[], f64::NAN),
                sample("m", &[], 1.0),
                sample("m", &[], f64::INFINITY),
            ],
            &Limits::default(),
            &limiter,
        );
        assert_eq!(ok.len(), 1);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].samples, 2);
        assert!(refused[0].reason.contains("finite values only"));
    }
}
