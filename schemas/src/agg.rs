//! Mergeable window aggregates: one row of the `1m` and `1h` tiers.
//!
//! An [`Agg`] summarises the samples of one series in one window: count,
//! sum, min, max, the first and last sample (ordered by time, then value),
//! and the counter increase between them corrected for resets. Everything
//! but the increase merges exactly in any order. The increase merges
//! exactly when the two parts do not overlap in time (one ends before, or
//! where, the other begins): the pair of samples at the seam is then known
//! (`a.last`, `b.first`). When parts interleave, the true increase depends
//! on samples neither part kept; the merge then estimates it and clears
//! [`Agg::exact`], and compaction recomputes the row from the raw tier.
//!
//! Samples arriving in order, or before the first or after the last sample
//! of a window, keep the aggregate exact; only a sample landing strictly
//! inside the covered span makes it an estimate. Thanos keeps the same
//! counter aggregate (a reset-corrected running total plus first and last
//! raw values), and like Thanos we merge only non-overlapping parts
//! exactly.

use std::cmp::Ordering;

/// The increase a counter made from `prev` to `next`: a drop is a reset to
/// zero, so the counter grew by `next` since the reset.
#[inline]
pub fn counter_delta(prev: f64, next: f64) -> f64 {
    if next >= prev { next - prev } else { next }
}

/// Orders samples by time, then value (total order on floats), the order
/// in which `first`, `last` and `increase` are defined.
#[inline]
pub fn sample_cmp(a: (i64, f64), b: (i64, f64)) -> Ordering {
    a.0.cmp(&b.0).then(a.1.total_cmp(&b.1))
}

/// Aggregates of one series' samples in one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agg {
    /// Number of samples.
    pub count: u64,
    /// Sum of values.
    pub sum: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Time of the first sample, ns.
    pub first_ts: i64,
    /// Value of the first sample.
    pub first: f64,
    /// Time of the last sample, ns.
    pub last_ts: i64,
    /// Value of the last sample.
    pub last: f64,
    /// Reset-corrected counter increase from `first` to `last`.
    pub increase: f64,
    /// False when `increase` is an estimate (see the module docs).
    pub exact: bool,
}

impl Agg {
    /// The aggregate of one sample.
    pub fn of(ts: i64, value: f64) -> Self {
        Self {
            count: 1,
            sum: value,
            min: value,
            max: value,
            first_ts: ts,
            first: value,
            last_ts: ts,
            last: value,
            increase: 0.0,
            exact: true,
        }
    }

    fn first(&self) -> (i64, f64) {
        (self.first_ts, self.first)
    }

    fn last(&self) -> (i64, f64) {
        (self.last_ts, self.last)
    }

    /// Adds one sample, in any order.
    #[inline]
    pub fn push(&mut self, ts: i64, value: f64) {
        self.merge(&Agg::of(ts, value));
    }

    /// Merges `other` (a part of the same series and window) into `self`.
    pub fn merge(&mut self, other: &Agg) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        let exact = self.exact && other.exact;
        if sample_cmp(self.last(), other.first()).is_le() {
            // other follows self.
            self.increase += counter_delta(self.last, other.first) + other.increase;
            self.last_ts = other.last_ts;
            self.last = other.last;
            self.exact = exact;
        } else if sample_cmp(other.last(), self.first()).is_le() {
            // other precedes self.
            self.increase += counter_delta(other.last, self.first) + other.increase;
            self.first_ts = other.first_ts;
            self.first = other.first;
            self.exact = exact;
        } else {
            // Interleaved: estimate as a counter without resets across the
            // seams, never less than what each part saw on its own.
            if sample_cmp(other.first(), self.first()).is_lt() {
                self.first_ts = other.first_ts;
                self.first = other.first;
            }
            if sample_cmp(other.last(), self.last()).is_gt() {
                self.last_ts = other.last_ts;
                self.last = other.last;
            }
            let span = self.last - self.first;
            self.increase = (self.increase + other.increase).max(span);
            self.exact = false;
        }
    }

    /// The aggregate of `points` sorted by [`sample_cmp`]: exact.
    pub fn of_sorted(points: &[(i64, f64)]) -> Option<Self> {
        let (&(ts, v), rest) = points.split_first()?;
        let mut agg = Agg::of(ts, v);
        for &(ts, v) in rest {
            agg.count += 1;
            agg.sum += v;
            agg.min = agg.min.min(v);
            agg.max = agg.max.max(v);
            agg.increase += counter_delta(agg.last, v);
            agg.last_ts = ts;
            agg.last = v;
        }
        Some(agg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut p: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
        p.sort_by(|a, b| sample_cmp(*a, *b));
        p
    }

    /// A counter with a reset in the middle.
    fn points() -> Vec<(i64, f64)> {
        vec![
            (1, 10.0),
            (2, 15.0),
            (3, 3.0),
            (4, 7.0),
            (5, 7.0),
            (6, 20.0),
        ]
    }

    #[test]
    fn increase_is_reset_corrected() {
        let a = Agg::of_sorted(&points()).unwrap();
        // 5 + reset to 3 + 4 + 0 + 13
        assert_eq!(a.increase, 25.0);
        assert_eq!((a.count, a.sum, a.min, a.max), (6, 62.0, 3.0, 20.0));
        assert_eq!((a.first_ts, a.first, a.last_ts, a.last), (1, 10.0, 6, 20.0));
        assert!(a.exact);
    }

    #[test]
    fn pushing_in_order_or_at_the_edges_stays_exact() {
        let whole = Agg::of_sorted(&points()).unwrap();
        // Arrives middle first, then earlier ones before the start, then
        // later ones after the end: every sample lands at an edge.
        let mut a = Agg::of(3, 3.0);
        for (ts, v) in [(4, 7.0), (2, 15.0), (1, 10.0), (5, 7.0), (6, 20.0)] {
            a.push(ts, v);
        }
        assert_eq!(a, whole);
    }

    #[test]
    fn disjoint_parts_merge_exactly_in_either_order() {
        let p = points();
        let whole = Agg::of_sorted(&p).unwrap();
        for cut in 1..p.len() {
            let left = Agg::of_sorted(&p[..cut]).unwrap();
            let right = Agg::of_sorted(&p[cut..]).unwrap();
            let mut a = left;
            a.merge(&right);
            let mut b = right;
            b.merge(&left);
            assert_eq!(a, whole, "cut {cut}");
            assert_eq!(b, whole, "cut {cut}");
        }
    }

    #[test]
    fn interleaved_parts_are_flagged() {
        let p = points();
        let even: Vec<_> = p.iter().copied().step_by(2).collect();
        let odd: Vec<_> = p.iter().copied().skip(1).step_by(2).collect();
        let mut a = Agg::of_sorted(&sorted(even)).unwrap();
        a.merge(&Agg::of_sorted(&sorted(odd)).unwrap());
        let whole = Agg::of_sorted(&p).unwrap();
        assert!(!a.exact);
        assert_eq!(
            (a.count, a.sum, a.min, a.max, a.first, a.last),
            (
                whole.count,
                whole.sum,
                whole.min,
                whole.max,
                whole.first,
                whole.last
            )
        );
        // A sample strictly inside the span also makes an estimate.
        let mut b = Agg::of_sorted(&[(1, 1.0), (9, 9.0)]).unwrap();
        b.push(5, 5.0);
        assert!(!b.exact);
        assert_eq!(b.increase, 8.0);
    }

    #[test]
    fn equal_samples_touch_without_overlap() {
        let mut a = Agg::of_sorted(&[(1, 1.0), (2, 2.0)]).unwrap();
        a.merge(&Agg::of_sorted(&[(2, 2.0), (3, 5.0)]).unwrap());
        assert!(a.exact);
        assert_eq!((a.count, a.increase), (4, 4.0));
    }
}
