//! Samples, label sets and series keys.

use std::fmt;

use xxhash_rust::xxh3::Xxh3;

/// A set of labels in canonical form: sorted by name, names unique.
///
/// The canonical order makes two label sets that differ only in the order the
/// producer wrote them the same series.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// Builds a label set from pairs in any order; a later duplicate name
    /// replaces an earlier one, as in a JSON object.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut v: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        // Stable sort keeps insertion order among equal names, so the last
        // duplicate wins after dedup below.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(String, String)> = Vec::with_capacity(v.len());
        for (k, val) in v {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = val,
                _ => out.push((k, val)),
            }
        }
        Self(out)
    }

    /// The labels as sorted `(name, value)` pairs.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

/// A stable 64-bit identity of a series (metric name + labels).
///
/// Used as the Kafka message key so that all samples of a series land on one
/// partition, and as a cheap sort and grouping key. Stable across processes
/// and releases: xxh3 with the default seed over a length-prefixed encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey(pub u64);

impl SeriesKey {
    /// Computes the key of series `metric_name` + `labels`.
    pub fn of(metric_name: &str, labels: &Labels) -> Self {
        let mut h = Xxh3::new();
        let mut put = |s: &str| {
            h.update(&(s.len() as u32).to_le_bytes());
            h.update(s.as_bytes());
        };
        put(metric_name);
        for (k, v) in labels.pairs() {
            put(k);
            put(v);
        }
        Self(h.digest())
    }
}

/// One observation of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Metric name, e.g. `cpu.load`. Dots are allowed, as in the seed.
    pub metric_name: String,
    /// The series' labels.
    pub labels: Labels,
    /// Event time in nanoseconds since the Unix epoch, UTC.
    pub ts_ns: i64,
    /// The observed value.
    pub value: f64,
}

impl Sample {
    /// The key of this sample's series.
    pub fn series_key(&self) -> SeriesKey {
        SeriesKey::of(&self.metric_name, &self.labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_canonical() {
        let a = Labels::from_pairs([("b", "2"), ("a", "1")]);
        let b = Labels::from_pairs([("a", "1"), ("b", "2")]);
        assert_eq!(a, b);
        assert_eq!(a.get("a"), Some("1"));
        assert_eq!(a.get("c"), None);
        assert_eq!(SeriesKey::of("m", &a), SeriesKey::of("m", &b));
        assert_ne!(SeriesKey::of("m", &a), SeriesKey::of("n", &a));
    }

    #[test]
    fn last_duplicate_label_wins() {
        let l = Labels::from_pairs([("a", "1"), ("a", "2")]);
        assert_eq!(l.pairs(), &[("a".to_string(), "2".to_string())]);
    }

    #[test]
    fn series_key_is_not_ambiguous() {
        // "ab"+"c" and "a"+"bc" must differ.
        let l1 = Labels::from_pairs([("ab", "c")]);
        let l2 = Labels::from_pairs([("a", "bc")]);
        assert_ne!(SeriesKey::of("m", &l1), SeriesKey::of("m", &l2));
    }
}
