//! Open 1-minute windows: the stream-side half of write-time aggregation.
//!
//! Every accepted sample joins the window of its series and UTC minute
//! (event time). A window stays open while the partition's watermark is
//! less than `allowed_lateness` past its end; it is then *closed*: its
//! aggregate is written to the `1m` tier in the next commit, together with
//! the raw rows and Kafka offsets of the same flush. A sample whose window
//! is already closed (late data) becomes a *correction*: a partial
//! aggregate of that window written in the next commit, which queries merge
//! and compaction folds.
//!
//! # Watermarks
//! Each Kafka partition's watermark is the largest event time read from
//! it. Windows close at the process watermark, the minimum over the
//! partitions that received a message within `idle_timeout`; an idle
//! partition stops holding it back. When every partition is idle, every
//! open window closes.
//!
//! # State is per partition, and rebuilt from Kafka
//! Window state is kept per (Kafka partition, series), so that a partition
//! taken away in a rebalance takes its state with it. Open windows are not
//! written anywhere: each commit records, per partition, a [`WindowMark`]:
//! the first offset whose samples may still sit in an open window
//! (`replay_from`), and the end up to which windows are closed
//! (`closed_before_ns`). A process that is assigned the partition (after a
//! crash, a restart or a rebalance) starts reading at `replay_from`; the
//! messages below the log's next offset are fed to the windows only (their
//! raw rows are stored), and of those only the samples of windows that were
//! still open (ending after `closed_before_ns`). So no sample is counted
//! twice or lost, and a restart re-reads at most the open windows plus the
//! lateness: about two minutes of the stream by default.
//!
//! # Memory
//! One state per active (partition, series): the series key (its name and
//! labels, order-preserving encoded) and two inline window slots of 72
//! bytes; a third open window of a series spills to a map. 292 bytes per
//! series at 1 million series with 71-byte names and labels, measured by
//! `benches/window_memory.rs`: 176 of state (with the vector's slack), 89
//! of key, 27 of index.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::{Duration, Instant};

use strata_schemas::agg::{counter_delta, sample_cmp};
use strata_schemas::{Agg, Sample};
use strata_storage::WindowMark;
use xxhash_rust::xxh3::xxh3_64;

/// Marks a free window slot.
const FREE: i32 = i32::MIN;
/// The bit of [`Slot::meta`] holding `exact`; the rest is the count.
const EXACT_BIT: u32 = 1 << 31;

/// One open window of one series, packed: 72 bytes.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Window index (start / resolution), or [`FREE`].
    bucket: i32,
    /// Sample count, and `exact` in the top bit.
    meta: u32,
    first_ts: i64,
    last_ts: i64,
    sum: f64,
    min: f64,
    max: f64,
    first: f64,
    last: f64,
    increase: f64,
}

impl Slot {
    const EMPTY: Slot = Slot {
        bucket: FREE,
        meta: 0,
        first_ts: 0,
        last_ts: 0,
        sum: 0.0,
        min: 0.0,
        max: 0.0,
        first: 0.0,
        last: 0.0,
        increase: 0.0,
    };

    fn agg(&self) -> Agg {
        Agg {
            count: u64::from(self.meta & !EXACT_BIT),
            sum: self.sum,
            min: self.min,
            max: self.max,
            first_ts: self.first_ts,
            first: self.first,
            last_ts: self.last_ts,
            last: self.last,
            increase: self.increase,
            exact: self.meta & EXACT_BIT != 0,
        }
    }

    /// Packs `agg`; `None` when its count does not fit.
    fn pack(bucket: i32, agg: &Agg) -> Option<Slot> {
        let count = u32::try_from(agg.count)
            .ok()
            .filter(|c| c & EXACT_BIT == 0)?;
        Some(Slot {
            bucket,
            meta: count | if agg.exact { EXACT_BIT } else { 0 },
            first_ts: agg.first_ts,
            last_ts: agg.last_ts,
            sum: agg.sum,
            min: agg.min,
            max: agg.max,
            first: agg.first,
            last: agg.last,
            increase: agg.increase,
        })
    }
}

/// The windows of one series read from one partition.
#[derive(Debug)]
struct State {
    /// Order-preserving encoding of (metric name, labels); see [`encode_key`].
    key: Box<[u8]>,
    partition: i32,
    slots: [Slot; 2],
}

/// What ingest knows about one partition's windows.
#[derive(Debug, Clone)]
struct Part {
    /// Windows ending at or before this (ns) are closed.
    closed_before: i64,
    /// `closed_before` as the log recorded it when the partition was
    /// assigned: replayed samples of windows ending at or before it are
    /// already in the tier.
    replay_closed_before: i64,
    /// Offsets below this were stored when the partition was assigned:
    /// their samples only rebuild windows.
    replay_until: i64,
    /// The next offset to feed; earlier ones were fed already.
    fed_next: Option<i64>,
    /// Where reading was started at assignment: until a message is fed,
    /// the windows still need everything from there.
    start: Option<i64>,
    /// Largest event time read, ns.
    watermark: i64,
    last_seen: Option<Instant>,
    /// Open window index → the first offset that fed it.
    open: BTreeMap<i32, i64>,
    epoch: u64,
}

impl Part {
    /// True until every message the log had stored at assignment was
    /// re-read.
    fn replaying(&self) -> bool {
        self.fed_next.unwrap_or(i64::MIN) < self.replay_until
    }

    fn new(mark: Option<WindowMark>, stored_next: Option<i64>) -> Self {
        let closed = mark.map_or(i64::MIN, |m| m.closed_before_ns);
        Self {
            closed_before: closed,
            replay_closed_before: closed,
            replay_until: stored_next.unwrap_or(i64::MIN),
            fed_next: None,
            start: Windows::start_offset(mark, stored_next),
            watermark: i64::MIN,
            last_seen: None,
            open: BTreeMap::new(),
            epoch: 0,
        }
    }
}

/// A closed window or a correction, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedWindow {
    /// Series key; decode with [`decode_key`].
    pub key: Box<[u8]>,
    /// Window start, ns.
    pub bucket_ns: i64,
    /// The aggregate (partial if a correction).
    pub agg: Agg,
}

/// The open 1-minute windows of the partitions this process owns.
#[derive(Debug)]
pub struct Windows {
    resolution: i64,
    lateness: i64,
    idle: Duration,
    /// State by hash of (partition, key).
    index: HashMap<u64, u32, BuildHasherDefault<IdentityHasher>>,
    /// States whose hash collided with another's, by exact key.
    collided: HashMap<(i32, Vec<u8>), u32>,
    states: Vec<State>,
    free: Vec<u32>,
    /// Open windows beyond a state's two slots, by (state, window).
    spill: HashMap<(u32, i32), Agg>,
    /// Late samples of closed windows, by (state, window).
    corrections: HashMap<(u32, i32), Agg>,
    parts: HashMap<i32, Part>,
    scratch: Vec<u8>,
}

impl Windows {
    /// Windows of `resolution_ns` that stay open `lateness` past their end.
    pub fn new(resolution_ns: i64, lateness: Duration, idle: Duration) -> Self {
        Self {
            resolution: resolution_ns,
            lateness: i64::try_from(lateness.as_nanos()).unwrap_or(i64::MAX),
            idle,
            index: HashMap::default(),
            collided: HashMap::new(),
            states: Vec::new(),
            free: Vec::new(),
            spill: HashMap::new(),
            corrections: HashMap::new(),
            parts: HashMap::new(),
            scratch: Vec::with_capacity(128),
        }
    }

    /// Starts tracking `partition` as the log left it: `mark` is its window
    /// mark and `stored_next` its next unstored offset. Reading must start
    /// at [`Windows::start_offset`].
    /// `epoch` identifies this start (see [`Windows::epoch`]).
    pub fn assign(
        &mut self,
        partition: i32,
        mark: Option<WindowMark>,
        stored_next: Option<i64>,
        epoch: u64,
    ) {
        self.drop_partition(partition);
        let mut part = Part::new(mark, stored_next);
        part.epoch = epoch;
        self.parts.insert(partition, part);
    }

    /// The epoch `partition` was last assigned with.
    pub fn epoch(&self, partition: i32) -> Option<u64> {
        self.parts.get(&partition).map(|p| p.epoch)
    }

    /// Where reading `partition` must start to rebuild its open windows.
    pub fn start_offset(mark: Option<WindowMark>, stored_next: Option<i64>) -> Option<i64> {
        match (mark, stored_next) {
            (Some(m), Some(n)) => Some(m.replay_from.min(n)),
            (_, n) => n,
        }
    }

    /// Forgets `partition` and its open windows (it was revoked, or is being
    /// rebuilt from the log).
    pub fn drop_partition(&mut self, partition: i32) {
        if self.parts.remove(&partition).is_none() {
            return;
        }
        let gone: Vec<u32> = (0..self.states.len() as u32)
            .filter(|i| {
                let s = &self.states[*i as usize];
                s.partition == partition && !s.key.is_empty()
            })
            .collect();
        for idx in gone {
            self.spill.retain(|(i, _), _| *i != idx);
            self.corrections.retain(|(i, _), _| *i != idx);
            self.release(idx);
        }
    }

    /// Forgets every partition.
    pub fn clear(&mut self) {
        let parts: Vec<i32> = self.parts.keys().copied().collect();
        for p in parts {
            self.drop_partition(p);
        }
    }

    /// The broker restarted `partition` at `offset` (topic recreated): close
    /// its open windows now, as corrections, since offsets of the old
    /// incarnation cannot be replayed.
    pub fn reset(&mut self, partition: i32, offset: i64) {
        let Some(part) = self.parts.get_mut(&partition) else {
            return;
        };
        part.open.clear();
        part.fed_next = Some(offset);
        part.replay_until = i64::MIN;
        for idx in 0..self.states.len() as u32 {
            let state = &mut self.states[idx as usize];
            if state.partition != partition || state.key.is_empty() {
                continue;
            }
            for slot in &mut state.slots {
                if slot.bucket != FREE {
                    let agg = slot.agg();
                    merge_into(&mut self.corrections, (idx, slot.bucket), &agg);
                    *slot = Slot::EMPTY;
                }
            }
        }
        let spilled: Vec<_> = self
            .spill
            .iter()
            .filter(|((i, _), _)| self.states[*i as usize].partition == partition)
            .map(|(k, a)| (*k, *a))
            .collect();
        for (k, agg) in spilled {
            self.spill.remove(&k);
            merge_into(&mut self.corrections, k, &agg);
        }
    }

    /// True unless the message at `offset` of `partition` was fed already.
    pub fn wants(&self, partition: i32, offset: i64) -> bool {
        self.parts.get(&partition).is_none_or(|p| match p.fed_next {
            Some(n) => offset >= n,
            None => p.start.is_none_or(|s| offset >= s),
        })
    }

    /// Feeds the samples of the message at `offset` of `partition`.
    /// Messages fed before are ignored, so a redelivery is harmless.
    /// Returns how many samples joined a window or a correction.
    pub fn feed(&mut self, partition: i32, offset: i64, samples: &[Sample], now: Instant) -> usize {
        let part = self
            .parts
            .entry(partition)
            .or_insert_with(|| Part::new(None, None));
        // Below the start: read again only to find the start (see
        // `Offsets::check_first`); those messages were fed before.
        if part.fed_next.is_some_and(|n| offset < n)
            || (part.fed_next.is_none() && part.start.is_some_and(|s| offset < s))
        {
            return 0;
        }
        part.fed_next = Some(offset + 1);
        part.last_seen = Some(now);
        let replay = offset < part.replay_until;
        let (replay_closed, closed) = (part.replay_closed_before, part.closed_before);
        let mut fed = 0;
        let mut watermark = i64::MIN;
        // Consecutive samples of one message are usually one series, and
        // one or two windows.
        let mut last: Option<(&Sample, u32)> = None;
        let mut last_opened: Option<i32> = None;
        for s in samples {
            let bucket = s.ts_ns.div_euclid(self.resolution);
            let end = (bucket + 1).saturating_mul(self.resolution);
            let Ok(b) = i32::try_from(bucket) else {
                continue; // unreachable for i64 ns at minute resolution
            };
            watermark = watermark.max(s.ts_ns);
            if replay && end <= replay_closed {
                continue; // already in the tier
            }
            fed += 1;
            let idx = match last {
                Some((prev, idx))
                    if prev.metric_name == s.metric_name && prev.labels == s.labels =>
                {
                    idx
                }
                _ => self.state_of(partition, s),
            };
            last = Some((s, idx));
            if end <= closed {
                merge_into(&mut self.corrections, (idx, b), &Agg::of(s.ts_ns, s.value));
                continue;
            }
            if last_opened != Some(b) {
                last_opened = Some(b);
                let part = self.parts.get_mut(&partition).expect("inserted above");
                part.open.entry(b).or_insert(offset);
            }
            self.push_open(idx, b, s.ts_ns, s.value);
        }
        let part = self.parts.get_mut(&partition).expect("inserted above");
        part.watermark = part.watermark.max(watermark);
        fed
    }

    fn push_open(&mut self, idx: u32, b: i32, ts: i64, value: f64) {
        let state = &mut self.states[idx as usize];
        if let Some(slot) = state.slots.iter_mut().find(|s| s.bucket == b) {
            // In order (the common case): update in place.
            let count = slot.meta & !EXACT_BIT;
            if count + 1 < EXACT_BIT && sample_cmp((ts, value), (slot.last_ts, slot.last)).is_ge() {
                slot.meta += 1;
                slot.sum += value;
                slot.min = slot.min.min(value);
                slot.max = slot.max.max(value);
                slot.increase += counter_delta(slot.last, value);
                slot.last_ts = ts;
                slot.last = value;
                return;
            }
            let mut agg = slot.agg();
            agg.push(ts, value);
            match Slot::pack(b, &agg) {
                Some(packed) => *slot = packed,
                None => {
                    *slot = Slot::EMPTY;
                    self.spill.insert((idx, b), agg);
                }
            }
            return;
        }
        if let Some(agg) = self.spill.get_mut(&(idx, b)) {
            agg.push(ts, value);
            return;
        }
        let agg = Agg::of(ts, value);
        match state.slots.iter_mut().find(|s| s.bucket == FREE) {
            Some(slot) => *slot = Slot::pack(b, &agg).expect("count 1 fits"),
            None => {
                self.spill.insert((idx, b), agg);
            }
        }
    }

    /// The state index of `sample`'s series on `partition`, created if new.
    fn state_of(&mut self, partition: i32, sample: &Sample) -> u32 {
        encode_key(
            &mut self.scratch,
            &sample.metric_name,
            sample.labels.pairs(),
        );
        let h = state_hash(partition, &self.scratch);
        let index_hit = self.index.get(&h).copied();
        if let Some(idx) = index_hit {
            let s = &self.states[idx as usize];
            if s.partition == partition && *s.key == *self.scratch {
                return idx;
            }
            // A 64-bit hash collision (practically never): the exact map.
            if let Some(&idx) = self.collided.get(&(partition, self.scratch.clone())) {
                return idx;
            }
        }
        let state = State {
            key: self.scratch.clone().into_boxed_slice(),
            partition,
            slots: [Slot::EMPTY; 2],
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.states[i as usize] = state;
                i
            }
            None => {
                self.states.push(state);
                (self.states.len() - 1) as u32
            }
        };
        match index_hit {
            None => {
                self.index.insert(h, idx);
            }
            Some(_) => {
                self.collided.insert((partition, self.scratch.clone()), idx);
            }
        }
        idx
    }

    /// Frees state `idx` (which must hold no window).
    fn release(&mut self, idx: u32) {
        let state = &mut self.states[idx as usize];
        let h = state_hash(state.partition, &state.key);
        if self.index.get(&h) == Some(&idx) {
            self.index.remove(&h);
        } else {
            self.collided.remove(&(state.partition, state.key.to_vec()));
        }
        state.key = Box::default();
        state.slots = [Slot::EMPTY; 2];
        self.free.push(idx);
    }

    /// The end (ns) up to which windows close now, from the partitions'
    /// watermarks; `None` when nothing was read yet.
    fn cutoff(&self, now: Instant) -> Option<i64> {
        let seen = self.parts.values().filter(|p| p.watermark > i64::MIN);
        let active = seen
            .clone()
            .filter(|p| {
                p.last_seen
                    .is_some_and(|t| now.duration_since(t) < self.idle)
            })
            .map(|p| p.watermark)
            .min();
        let floor = |t: i64| {
            t.div_euclid(self.resolution)
                .saturating_mul(self.resolution)
        };
        match active {
            Some(wm) => Some(floor(wm.saturating_sub(self.lateness))),
            // Every partition idle: close everything read so far.
            None => seen
                .map(|p| p.watermark)
                .max()
                .map(|wm| floor(wm).saturating_add(self.resolution)),
        }
    }

    /// True when a flush would write something: corrections wait, or the
    /// watermark passed an open window's close.
    pub fn has_work(&self, now: Instant) -> bool {
        if !self.corrections.is_empty() {
            return true;
        }
        let Some(cut) = self.cutoff(now) else {
            return false;
        };
        self.parts.values().filter(|p| !p.replaying()).any(|p| {
            p.open.keys().next().is_some_and(|b| {
                (i64::from(*b) + 1).saturating_mul(self.resolution) <= cut.max(p.closed_before)
            })
        })
    }

    /// Closes every window the watermark has passed and takes the pending
    /// corrections. Returns them, sorted by series then window, and the
    /// mark each partition's next commit must record (`replay_from` falls
    /// back to `next_offset(partition)` when no window is open).
    pub fn close(
        &mut self,
        now: Instant,
        next_offset: impl Fn(i32) -> Option<i64>,
    ) -> (Vec<ClosedWindow>, BTreeMap<i32, WindowMark>) {
        // Windows only close when some partition's close moved (about once
        // a minute); otherwise only corrections are taken, without a scan.
        let mut advanced = false;
        if let Some(cut) = self.cutoff(now) {
            for p in self.parts.values_mut() {
                // While replaying, the log's mark still describes the
                // messages not yet re-read: keep it until they are.
                if !p.replaying() && cut > p.closed_before {
                    p.closed_before = cut;
                    advanced = true;
                }
            }
        }
        let res = self.resolution;
        let closes =
            |b: i32, closed_before: i64| (i64::from(b) + 1).saturating_mul(res) <= closed_before;
        let mut out: Vec<(u32, i32, Agg)> = self
            .corrections
            .drain()
            .map(|((idx, b), agg)| (idx, b, agg))
            .collect();
        let parts = &self.parts;
        let closed_of = |p: i32| parts.get(&p).map_or(i64::MIN, |p| p.closed_before);
        for (idx, state) in self.states.iter_mut().enumerate() {
            if !advanced {
                break;
            }
            if state.key.is_empty() {
                continue;
            }
            let closed = closed_of(state.partition);
            for slot in &mut state.slots {
                if slot.bucket != FREE && closes(slot.bucket, closed) {
                    out.push((idx as u32, slot.bucket, slot.agg()));
                    *slot = Slot::EMPTY;
                }
            }
        }
        let states = &self.states;
        let spilled: Vec<(u32, i32)> = self
            .spill
            .keys()
            .filter(|(i, b)| closes(*b, closed_of(states[*i as usize].partition)))
            .copied()
            .collect();
        for k in spilled {
            let agg = self.spill.remove(&k).expect("listed above");
            out.push((k.0, k.1, agg));
        }
        // Merge duplicates (a correction for a window closed in this same
        // flush), then order by series key, then window.
        out.sort_by(|a, b| {
            let (ka, kb) = (
                &self.states[a.0 as usize].key,
                &self.states[b.0 as usize].key,
            );
            ka.cmp(kb).then(a.1.cmp(&b.1)).then(a.0.cmp(&b.0))
        });
        let mut closed: Vec<ClosedWindow> = Vec::with_capacity(out.len());
        let mut last: Option<(u32, i32)> = None;
        for (idx, b, agg) in out {
            if last == Some((idx, b)) {
                closed.last_mut().expect("same as last").agg.merge(&agg);
                continue;
            }
            last = Some((idx, b));
            closed.push(ClosedWindow {
                key: self.states[idx as usize].key.clone(),
                bucket_ns: i64::from(b) * res,
                agg,
            });
        }
        // Free the states left without windows.
        let spilled: std::collections::HashSet<u32> = self.spill.keys().map(|k| k.0).collect();
        let idle: Vec<u32> = (0..self.states.len() as u32)
            .filter(|_| advanced)
            .filter(|i| {
                let s = &self.states[*i as usize];
                !s.key.is_empty()
                    && s.slots.iter().all(|s| s.bucket == FREE)
                    && !spilled.contains(i)
            })
            .collect();
        for idx in idle {
            self.release(idx);
        }
        let mut marks = BTreeMap::new();
        for (p, part) in &mut self.parts {
            let closed_before = part.closed_before;
            part.open.retain(|b, _| !closes(*b, closed_before));
            let replay_from = part
                .open
                .values()
                .copied()
                .min()
                .or(part.fed_next)
                .or(part.start)
                .or_else(|| next_offset(*p));
            if let Some(replay_from) = replay_from {
                marks.insert(
                    *p,
                    WindowMark {
                        replay_from,
                        closed_before_ns: closed_before,
                    },
                );
            }
        }
        (closed, marks)
    }

    /// Number of (partition, series) states held.
    pub fn series(&self) -> usize {
        self.states.len() - self.free.len()
    }

    /// Number of open windows.
    pub fn open_windows(&self) -> usize {
        self.states
            .iter()
            .flat_map(|s| s.slots.iter())
            .filter(|s| s.bucket != FREE)
            .count()
            + self.spill.len()
    }

    /// Partitions tracked.
    pub fn partitions(&self) -> impl Iterator<Item = i32> + '_ {
        self.parts.keys().copied()
    }
}

fn state_hash(partition: i32, key: &[u8]) -> u64 {
    xxh3_64(key) ^ (partition as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn merge_into(map: &mut HashMap<(u32, i32), Agg>, key: (u32, i32), agg: &Agg) {
    map.entry(key).and_modify(|a| a.merge(agg)).or_insert(*agg);
}

/// The xxh3 hashes used as keys are already uniform.
#[derive(Debug, Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _bytes: &[u8]) {
        unreachable!("only u64 keys are hashed")
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Encodes (metric name, labels) so that byte order equals the storage
/// order (name, then label pairs): each string is followed by a `00` byte;
/// inside a string `00` is written `01 01` and `01` is written `01 02`, so
/// the terminator sorts below every byte a string can hold.
pub fn encode_key(out: &mut Vec<u8>, name: &str, labels: &[(String, String)]) {
    out.clear();
    let mut put = |s: &str| {
        for &b in s.as_bytes() {
            match b {
                0 => out.extend_from_slice(&[1, 1]),
                1 => out.extend_from_slice(&[1, 2]),
                b => out.push(b),
            }
        }
        out.push(0);
    };
    put(name);
    for (k, v) in labels {
        put(k);
        put(v);
    }
}

/// A series key decoded: metric name and label pairs.
pub type DecodedKey<'a> = (Cow<'a, str>, Vec<(Cow<'a, str>, Cow<'a, str>)>);

/// Decodes a key written by [`encode_key`] into the name and label pairs.
pub fn decode_key(key: &[u8]) -> DecodedKey<'_> {
    let mut parts: Vec<Cow<'_, str>> = Vec::new();
    for raw in key
        .split(|b| *b == 0)
        .take(key.iter().filter(|b| **b == 0).count())
    {
        parts.push(match raw.contains(&1) {
            false => String::from_utf8_lossy(raw),
            true => {
                let mut bytes = Vec::with_capacity(raw.len());
                let mut it = raw.iter();
                while let Some(&b) = it.next() {
                    bytes.push(match b {
                        1 => it.next().map_or(0, |e| e - 1),
                        b => b,
                    });
                }
                Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())
            }
        });
    }
    let mut it = parts.into_iter();
    let name = it.next().unwrap_or_default();
    let mut labels = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        labels.push((k, v));
    }
    (name, labels)
}

#[cfg(test)]
mod tests;
