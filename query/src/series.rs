//! WIP (issue 5): dashboard series, `GET /api/v1/series`.
//!
//! Not wired to HTTP yet. What is here: the request, the choice of tier,
//! and the split of the time range into segments read from different tiers
//! (coarse where the coarse tier covers the range, finer after it, so the
//! newest points, whose windows are still open, are never missing).
//!
//! Plan for the rest (next session):
//! - per segment, one SQL query over `metrics_1h` / `metrics_1m` /
//!   `metrics_raw` grouping by (`by` labels or the whole label set, step
//!   bucket) into *partial* aggregates (count, sum, min, max, last_ts,
//!   last, first_ts, first, increase), with the metric name and label
//!   matchers as predicates so that files prune;
//! - merge the partials of a step bucket that straddles two segments in
//!   Rust with `strata_schemas::Agg::merge` semantics (exact when the
//!   parts do not overlap in time, which segments guarantee);
//! - rate/increase: per series first (counter-reset aware, adding the
//!   seam between windows: `first` of one minus `last` of the previous),
//!   then summed per group; rate = increase / step;
//! - answer `{"tier", "step", "series": [{"labels", "points"}]}`.

use strata_schemas::Tier;
use strata_schemas::tier::{HOUR_NS, MINUTE_NS};

/// The aggregate a dashboard asks for per step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesAgg {
    /// Σsum / Σcount.
    Avg,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Σsum.
    Sum,
    /// Σcount.
    Count,
    /// The latest value.
    Last,
    /// Counter increase per second.
    Rate,
    /// Counter increase.
    Increase,
}

impl std::str::FromStr for SeriesAgg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "avg" => Self::Avg,
            "min" => Self::Min,
            "max" => Self::Max,
            "sum" => Self::Sum,
            "count" => Self::Count,
            "last" => Self::Last,
            "rate" => Self::Rate,
            "increase" => Self::Increase,
            other => {
                return Err(format!(
                    "unknown agg {other:?}: one of avg, min, max, sum, count, last, rate, increase"
                ));
            }
        })
    }
}

/// Resolution of a tier's rows in nanoseconds (0: raw samples).
pub fn resolution_ns(tier: Tier) -> i64 {
    match tier {
        Tier::Raw => 0,
        Tier::Minute => MINUTE_NS,
        Tier::Hour => HOUR_NS,
    }
}

/// The coarsest tier whose resolution fits `step_ns`: a 1-minute step reads
/// `1m`, a 1-hour step `1h`, anything finer than a minute raw.
pub fn choose_tier(step_ns: i64) -> Tier {
    [Tier::Hour, Tier::Minute]
        .into_iter()
        .find(|t| resolution_ns(*t) <= step_ns && step_ns % resolution_ns(*t) == 0)
        .unwrap_or(Tier::Raw)
}

/// A part of the asked range read from one tier: `[from_ns, to_ns)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// The tier read.
    pub tier: Tier,
    /// Start, inclusive.
    pub from_ns: i64,
    /// End, exclusive.
    pub to_ns: i64,
}

/// How far each aggregated tier is complete: every window before
/// `minute_ns` is final in `1m` (the smallest window mark of the log), and
/// every hour before `hour_ns` in `1h` (rolled up from final minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Coverage {
    /// `1m` is complete before this time.
    pub minute_ns: Option<i64>,
    /// `1h` is complete before this time.
    pub hour_ns: Option<i64>,
}

/// Splits `[from_ns, to_ns)` into segments: `tier` where it is complete,
/// then each finer tier up to where it is complete, raw for the rest.
/// Boundaries fall on the coarser tier's windows.
pub fn segments(tier: Tier, from_ns: i64, to_ns: i64, cov: Coverage) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut at = from_ns;
    let chain: &[(Tier, Option<i64>)] = match tier {
        Tier::Hour => &[(Tier::Hour, cov.hour_ns), (Tier::Minute, cov.minute_ns)],
        Tier::Minute => &[(Tier::Minute, cov.minute_ns)],
        Tier::Raw => &[],
    };
    for &(t, complete) in chain {
        let res = resolution_ns(t);
        let Some(complete) = complete else { continue };
        // Whole windows only.
        let end = complete.div_euclid(res) * res;
        let end = end.min(to_ns);
        if end > at {
            out.push(Segment {
                tier: t,
                from_ns: at,
                to_ns: end,
            });
            at = end;
        }
    }
    if at < to_ns {
        out.push(Segment {
            tier: Tier::Raw,
            from_ns: at,
            to_ns,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_fit_the_step() {
        assert_eq!(choose_tier(15_000_000_000), Tier::Raw);
        assert_eq!(choose_tier(MINUTE_NS), Tier::Minute);
        assert_eq!(choose_tier(5 * MINUTE_NS), Tier::Minute);
        assert_eq!(choose_tier(90_000_000_000), Tier::Raw, "not whole minutes");
        assert_eq!(choose_tier(HOUR_NS), Tier::Hour);
        assert_eq!(choose_tier(24 * HOUR_NS), Tier::Hour);
    }

    #[test]
    fn the_newest_part_comes_from_finer_tiers() {
        let day = 24 * HOUR_NS;
        let cov = Coverage {
            minute_ns: Some(day - 90_000_000_000),
            hour_ns: Some(day - 2 * HOUR_NS),
        };
        let s = segments(Tier::Hour, 0, day, cov);
        assert_eq!(
            s,
            [
                Segment {
                    tier: Tier::Hour,
                    from_ns: 0,
                    to_ns: day - 2 * HOUR_NS
                },
                Segment {
                    tier: Tier::Minute,
                    from_ns: day - 2 * HOUR_NS,
                    to_ns: day - 2 * MINUTE_NS
                },
                Segment {
                    tier: Tier::Raw,
                    from_ns: day - 2 * MINUTE_NS,
                    to_ns: day
                },
            ]
        );
        // Nothing aggregated yet: all raw.
        assert_eq!(
            segments(Tier::Minute, 0, day, Coverage::default()),
            [Segment {
                tier: Tier::Raw,
                from_ns: 0,
                to_ns: day
            }]
        );
    }
}
