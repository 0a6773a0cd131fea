//! The evaluator's per-series state: for each series some rule selects,
//! only the points the next evaluations can still read.
//!
//! Each series remembers which of the rules' selectors match it (decided
//! once, when it is first seen) and how far back those selectors read: the
//! longest range of a matching range selector (`rate(x[5m])` → 5m), or
//! nothing for instant selectors, which only ever read the newest point.
//! After each evaluation round, [`SeriesStore::trim`] drops every point no
//! later evaluation can read, and forgets series that are past Prometheus's
//! 5-minute staleness for every selector. Memory is thus bounded by the
//! series the rules select times the points within their longest range.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use promql_parser::parser::VectorSelector;
use strata_schemas::Sample;

use crate::promql::{self, LOOKBACK_DELTA_MS, Point, Reach, Selected, Source};
use crate::{LabelSet, METRIC_NAME};

/// A selector of the loaded rules and how far back it reads.
#[derive(Debug, Clone)]
struct Selector {
    vs: VectorSelector,
    /// Metric names it can match, when its name is fixed (fast path).
    name: Option<String>,
    /// Range of a range selector; 0 for an instant selector.
    range_ms: i64,
}

#[derive(Debug)]
struct Series {
    /// [`Sample::series_key`], the key of `by_key`.
    key: u64,
    labels: Arc<LabelSet>,
    /// How far before an evaluation its selectors read (0: instant only).
    need_ms: i64,
    points: VecDeque<Point>,
}

/// Points of the series the rules select, bounded by what they read.
#[derive(Debug, Default)]
pub struct SeriesStore {
    selectors: Vec<Selector>,
    by_text: HashMap<String, usize>,
    /// Series ids per selector; ids of forgotten series stay until
    /// [`SeriesStore::compact`].
    members: Vec<Vec<u32>>,
    series: Vec<Option<Series>>,
    by_key: HashMap<u64, u32>,
    /// Keys of series seen whose labels no selector matches.
    unselected: HashSet<u64>,
    /// Samples no selector matches (not kept).
    pub ignored: u64,
    dead: usize,
}

impl SeriesStore {
    /// A store for `selectors` (from [`promql::selectors`] of every rule).
    pub fn new<'a>(selectors: impl IntoIterator<Item = (&'a VectorSelector, Reach)>) -> Self {
        let mut store = Self::default();
        store.set_selectors(selectors);
        store
    }

    /// Replaces the selectors (rules reloaded): series are matched again,
    /// and keep their points.
    pub fn set_selectors<'a>(
        &mut self,
        selectors: impl IntoIterator<Item = (&'a VectorSelector, Reach)>,
    ) {
        self.selectors.clear();
        self.by_text.clear();
        self.unselected.clear();
        for (vs, reach) in selectors {
            let text = vs.to_string();
            let range_ms = match reach {
                Reach::Instant => 0,
                Reach::Range(r) => r,
            };
            if let Some(&i) = self.by_text.get(&text) {
                let s: &mut Selector = &mut self.selectors[i];
                s.range_ms = s.range_ms.max(range_ms);
                continue;
            }
            self.by_text.insert(text.clone(), self.selectors.len());
            self.selectors.push(Selector {
                name: fixed_name(vs),
                vs: vs.clone(),
                range_ms,
            });
        }
        self.members = vec![Vec::new(); self.selectors.len()];
        for id in 0..self.series.len() {
            let Some(labels) = self.series[id].as_ref().map(|s| Arc::clone(&s.labels)) else {
                continue;
            };
            match self.matching(&labels) {
                Some(need) => {
                    self.series[id].as_mut().expect("checked above").need_ms = need;
                    for (i, sel) in self.selectors.iter().enumerate() {
                        if promql::matches(&sel.vs, &labels) {
                            self.members[i].push(id as u32);
                        }
                    }
                }
                None => self.forget(id),
            }
        }
    }

    /// How far back the selectors matching `labels` read, `None` when none
    /// matches.
    fn matching(&self, labels: &LabelSet) -> Option<i64> {
        let name = labels.get(METRIC_NAME).map(String::as_str);
        self.selectors
            .iter()
            .filter(|s| s.name.is_none() || s.name.as_deref() == name)
            .filter(|s| promql::matches(&s.vs, labels))
            .map(|s| s.range_ms)
            .max()
    }

    /// Adds a decoded sample; samples of series no rule selects are only
    /// counted.
    pub fn push(&mut self, sample: &Sample) {
        // Fast path: most samples belong to metrics no rule names.
        if !self
            .selectors
            .iter()
            .any(|s| s.name.as_deref().is_none_or(|n| n == sample.metric_name))
        {
            self.ignored += 1;
            return;
        }
        let key = sample.series_key().0;
        let point = Point {
            t: sample.ts_ns.div_euclid(1_000_000),
            v: sample.value,
        };
        let id = match self.by_key.get(&key) {
            Some(&id) => id,
            // A series of a named metric whose labels no selector matches:
            // decided once, not at every sample.
            None if self.unselected.contains(&key) => {
                self.ignored += 1;
                return;
            }
            None => {
                let mut labels: LabelSet = sample
                    .labels
                    .pairs()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                labels.insert(METRIC_NAME.into(), sample.metric_name.clone());
                let Some(need_ms) = self.matching(&labels) else {
                    self.unselected.insert(key);
                    self.ignored += 1;
                    return;
                };
                let id = self.series.len() as u32;
                for (i, sel) in self.selectors.iter().enumerate() {
                    if promql::matches(&sel.vs, &labels) {
                        self.members[i].push(id);
                    }
                }
                self.series.push(Some(Series {
                    key,
                    labels: Arc::new(labels),
                    need_ms,
                    points: VecDeque::with_capacity(2),
                }));
                self.by_key.insert(key, id);
                id
            }
        };
        let points = &mut self.series[id as usize]
            .as_mut()
            .expect("indexed series are live")
            .points;
        // Streams are mostly in order: append, else insert in place; a
        // second sample for a timestamp replaces the first.
        match points.back() {
            Some(last) if last.t < point.t => points.push_back(point),
            None => points.push_back(point),
            _ => match points.binary_search_by_key(&point.t, |p| p.t) {
                Ok(i) => points[i] = point,
                Err(i) => points.insert(i, point),
            },
        }
    }

    /// Drops the points no evaluation at or after `next_eval_ms` can read,
    /// and forgets series with nothing left to read.
    pub fn trim(&mut self, next_eval_ms: i64) {
        for id in 0..self.series.len() {
            let Some(s) = self.series[id].as_mut() else {
                continue;
            };
            // Keep points inside the reach, plus the newest before it,
            // which instant selectors read until it is 5 minutes old.
            let cutoff = next_eval_ms - s.need_ms;
            let before = s.points.partition_point(|p| p.t <= cutoff);
            if before > 1 {
                s.points.drain(..before - 1);
            }
            let stale = next_eval_ms - s.need_ms.max(LOOKBACK_DELTA_MS);
            if s.points.back().is_none_or(|p| p.t <= stale) {
                self.forget(id);
            }
        }
        if self.dead > 1024 && self.dead > self.live() {
            self.compact();
        }
    }

    fn forget(&mut self, id: usize) {
        if let Some(s) = self.series[id].take() {
            self.by_key.remove(&s.key);
            self.dead += 1;
        }
    }

    /// Renumbers the live series, dropping the ids of forgotten ones.
    fn compact(&mut self) {
        let mut renumber = vec![u32::MAX; self.series.len()];
        let mut kept = Vec::with_capacity(self.live());
        for (old, s) in std::mem::take(&mut self.series).into_iter().enumerate() {
            if let Some(s) = s {
                renumber[old] = kept.len() as u32;
                kept.push(Some(s));
            }
        }
        self.series = kept;
        for m in &mut self.members {
            m.retain_mut(|id| {
                *id = renumber[*id as usize];
                *id != u32::MAX
            });
        }
        for id in self.by_key.values_mut() {
            *id = renumber[*id as usize];
        }
        self.dead = 0;
    }

    /// Series currently kept.
    pub fn live(&self) -> usize {
        self.series.len() - self.dead
    }

    /// Points currently kept.
    pub fn points(&self) -> usize {
        self.series.iter().flatten().map(|s| s.points.len()).sum()
    }
}

impl Source for SeriesStore {
    fn select(&self, selector: &VectorSelector, from_ms: i64, to_ms: i64) -> Vec<Selected> {
        let ids: Box<dyn Iterator<Item = u32> + '_> = match self.by_text.get(&selector.to_string())
        {
            Some(&i) => Box::new(self.members[i].iter().copied()),
            // Not a selector of the loaded rules (e.g. a rule being
            // checked): scan every series.
            None => Box::new(0..self.series.len() as u32),
        };
        let mut out = Vec::new();
        for id in ids {
            let Some(s) = self.series[id as usize].as_ref() else {
                continue;
            };
            if !self.by_text.contains_key(&selector.to_string())
                && !promql::matches(selector, &s.labels)
            {
                continue;
            }
            let lo = s.points.partition_point(|p| p.t <= from_ms);
            let hi = s.points.partition_point(|p| p.t <= to_ms);
            if lo < hi {
                out.push(Selected {
                    labels: Arc::clone(&s.labels),
                    points: s.points.range(lo..hi).copied().collect(),
                });
            }
        }
        out
    }
}

/// The metric name a selector fixes with `name` or `__name__="…"`.
fn fixed_name(vs: &VectorSelector) -> Option<String> {
    if let Some(n) = &vs.name {
        return Some(n.clone());
    }
    vs.matchers
        .matchers
        .iter()
        .find(|m| m.name == METRIC_NAME && m.op == promql_parser::label::MatchOp::Equal)
        .map(|m| m.value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::expr;

    fn sample(name: &str, host: &str, t_ms: i64, v: f64) -> Sample {
        Sample {
            metric_name: name.into(),
            labels: strata_schemas::Labels::from_pairs([("host", host)]),
            ts_ns: t_ms * 1_000_000,
            value: v,
        }
    }

    fn store(exprs: &[&str]) -> (SeriesStore, Vec<promql_parser::parser::Expr>) {
        let parsed: Vec<_> = exprs.iter().map(|e| expr::parse(e).unwrap()).collect();
        let store = SeriesStore::new(parsed.iter().flat_map(promql::selectors));
        (store, parsed)
    }

    #[test]
    fn keeps_only_selected_series_and_reachable_points() {
        let (mut s, _) = store(&[
            "cpu.load > 0.8",
            "rate(http_requests{code=\"500\"}[1m]) > 0",
        ]);
        for i in 0..600 {
            let t = i * 1000;
            s.push(&sample("cpu.load", "a", t, 0.5));
            s.push(&sample("mem.used", "a", t, 1.0));
            s.push(&sample("http_requests", "a", t, i as f64));
        }
        assert_eq!(
            s.ignored, 1200,
            "mem.used and http_requests without code=500"
        );
        let mut codes = sample("http_requests", "a", 0, 0.0);
        codes.labels = strata_schemas::Labels::from_pairs([("code", "500")]);
        for i in 0..600 {
            codes.ts_ns = i * 1_000_000_000;
            s.push(&codes);
        }
        s.trim(600_000);
        // cpu.load: the newest point only; the counter: the minute
        // (540 s, 600 s] it reads next, and the point at 540 s.
        assert_eq!(s.live(), 2);
        assert_eq!(s.points(), 1 + 60);
        // Five minutes without samples: both forgotten.
        s.trim(600_000 + 5 * 60_000);
        assert_eq!(s.live(), 0);
    }

    #[test]
    fn selects_by_range_and_orders_late_points() {
        let (mut s, parsed) = store(&["avg_over_time(cpu.load[1m]) > 1"]);
        for t in [3000, 1000, 2000, 2000] {
            s.push(&sample("cpu.load", "a", t, t as f64));
        }
        let sel = promql::selectors(&parsed[0]);
        let got = s.select(sel[0].0, 1000, 3000);
        let ts: Vec<i64> = got[0].points.iter().map(|p| p.t).collect();
        assert_eq!(ts, [2000, 3000]);
        assert_eq!(got[0].labels["__name__"], "cpu.load");
    }

    #[test]
    fn compaction_keeps_indexes_right() {
        let (mut s, parsed) = store(&["up == 0"]);
        for h in 0..3000 {
            s.push(&sample("up", &format!("h{h}"), 0, 1.0));
        }
        for h in 0..10 {
            s.push(&sample("up", &format!("h{h}"), 400_000, 0.0));
        }
        s.trim(400_000);
        assert_eq!(s.live(), 10);
        s.push(&sample("up", "h5", 401_000, 0.0));
        s.push(&sample("up", "new", 401_000, 0.0));
        let sel = promql::selectors(&parsed[0]);
        let got = s.select(sel[0].0, 0, 401_000);
        assert_eq!(got.len(), 11);
    }
}
