use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use strata_schemas::agg::sample_cmp;
use strata_schemas::tier::MINUTE_NS;
use strata_schemas::{Agg, Labels};

use super::*;

const SEC: i64 = 1_000_000_000;
const T0: i64 = 1_700_000_000 * SEC / MINUTE_NS * MINUTE_NS;

fn sample(series: usize, ts: i64, value: f64) -> Sample {
    Sample {
        metric_name: format!("m{}", series % 3),
        labels: Labels::from_pairs([("host", format!("h{series}"))]),
        ts_ns: ts,
        value,
    }
}

fn key_of(s: &Sample) -> Vec<u8> {
    let mut k = Vec::new();
    encode_key(&mut k, &s.metric_name, s.labels.pairs());
    k
}

/// A series key and window start.
type WindowId = (Vec<u8>, i64);

/// The direct aggregate of every sample, by (key, bucket).
fn direct(messages: &[Vec<Vec<Sample>>]) -> HashMap<(Vec<u8>, i64), Agg> {
    let mut points: HashMap<WindowId, Vec<(i64, f64)>> = HashMap::new();
    for s in messages.iter().flatten().flatten() {
        let bucket = s.ts_ns.div_euclid(MINUTE_NS) * MINUTE_NS;
        points
            .entry((key_of(s), bucket))
            .or_default()
            .push((s.ts_ns, s.value));
    }
    points
        .into_iter()
        .map(|(k, mut p)| {
            p.sort_by(|a, b| sample_cmp(*a, *b));
            (k, Agg::of_sorted(&p).unwrap())
        })
        .collect()
}

/// Merges written rows by (key, bucket), as queries do.
fn merged(rows: &[ClosedWindow]) -> HashMap<(Vec<u8>, i64), Agg> {
    let mut out: HashMap<(Vec<u8>, i64), Agg> = HashMap::new();
    for r in rows {
        out.entry((r.key.to_vec(), r.bucket_ns))
            .and_modify(|a| a.merge(&r.agg))
            .or_insert(r.agg);
    }
    out
}

fn assert_same(got: &HashMap<(Vec<u8>, i64), Agg>, want: &HashMap<(Vec<u8>, i64), Agg>) {
    assert_eq!(got.len(), want.len(), "number of (series, window) rows");
    for (k, w) in want {
        let g = got.get(k).unwrap_or_else(|| panic!("missing window {k:?}"));
        assert_eq!(
            (
                g.count, g.min, g.max, g.first_ts, g.first, g.last_ts, g.last
            ),
            (
                w.count, w.min, w.max, w.first_ts, w.first, w.last_ts, w.last
            ),
            "window {k:?}"
        );
        assert!(
            (g.sum - w.sum).abs() <= 1e-9 * w.sum.abs().max(1.0),
            "sum of {k:?}"
        );
        if g.exact {
            assert_eq!(g.increase, w.increase, "increase of {k:?}");
        }
    }
}

/// A stream of `partitions` partitions, mostly in time order with some
/// disorder and some very late samples, some series on several partitions.
fn stream(rng: &mut StdRng, partitions: usize) -> Vec<Vec<Vec<Sample>>> {
    let mut out = vec![Vec::new(); partitions];
    let mut counters = [0.0f64; 40];
    for step in 0..600i64 {
        let ts_base = T0 + step * 2 * SEC; // 20 minutes of event time
        let p = rng.random_range(0..partitions);
        let mut msg = Vec::new();
        for _ in 0..rng.random_range(1..5) {
            let series = rng.random_range(0..40);
            let jitter = match rng.random_range(0..20) {
                0 => -rng.random_range(0..600) * SEC, // very late
                1..=3 => -rng.random_range(0..20) * SEC,
                _ => 0,
            };
            counters[series] = match rng.random_range(0..30) {
                0 => 0.0, // reset
                _ => counters[series] + f64::from(rng.random_range(0..10u8)),
            };
            msg.push(sample(series, ts_base + jitter, counters[series]));
        }
        out[p].push(msg);
    }
    out
}

#[test]
fn closed_windows_equal_the_direct_aggregate() {
    for seed in 0..20 {
        let mut rng = StdRng::seed_from_u64(seed);
        let messages = stream(&mut rng, 3);
        let mut w = Windows::new(MINUTE_NS, Duration::from_secs(60), Duration::from_secs(30));
        let now = Instant::now();
        let mut rows = Vec::new();
        let mut cursor = [0usize; 3];
        let mut i = 0;
        // Round-robin over partitions, closing now and then.
        while cursor.iter().zip(&messages).any(|(c, m)| *c < m.len()) {
            for p in 0..3 {
                if cursor[p] < messages[p].len() {
                    w.feed(p as i32, cursor[p] as i64, &messages[p][cursor[p]], now);
                    cursor[p] += 1;
                }
            }
            i += 1;
            if i % 17 == 0 {
                rows.extend(w.close(now, |_| None).0);
            }
        }
        // Quiet: every partition idle closes everything.
        let later = now + Duration::from_secs(3600);
        assert!(w.has_work(later));
        rows.extend(w.close(later, |_| None).0);
        assert_eq!(w.open_windows(), 0);
        assert_eq!(w.series(), 0, "idle series are freed");
        assert_same(&merged(&rows), &direct(&messages));
    }
}

/// A log of commits: rows written, and per partition the next offset and
/// window mark.
#[derive(Default)]
struct Log {
    rows: Vec<ClosedWindow>,
    next: HashMap<i32, i64>,
    marks: HashMap<i32, WindowMark>,
}

/// Like `strata produce`: each message holds 5 consecutive points of one
/// series, 30 s apart, so one message spans three windows.
fn spanning_stream(rng: &mut StdRng, partitions: usize) -> Vec<Vec<Vec<Sample>>> {
    let mut out = vec![Vec::new(); partitions];
    for round in 0..40i64 {
        for series in 0..10usize {
            let msg = (0..5)
                .map(|i| {
                    sample(
                        series,
                        T0 + (round * 5 + i) * 30 * SEC,
                        rng.random_range(0..100) as f64,
                    )
                })
                .collect();
            out[series % partitions].push(msg);
        }
    }
    out
}

#[test]
fn crashes_at_any_point_neither_lose_nor_double_count() {
    for seed in 0..60 {
        let mut rng = StdRng::seed_from_u64(seed);
        let messages = match seed % 2 {
            0 => stream(&mut rng, 2),
            _ => spanning_stream(&mut rng, 2),
        };
        let mut log = Log::default();
        let now = Instant::now();
        // The most messages one restart re-read from one partition.
        let mut replayed = 0usize;
        'run: loop {
            // (Re)start: assign every partition as the log left it.
            let mut w = Windows::new(MINUTE_NS, Duration::from_secs(60), Duration::from_secs(30));
            let mut cursor = Vec::new();
            for p in 0..2 {
                let mark = log.marks.get(&p).copied();
                let next = log.next.get(&p).copied();
                w.assign(p, mark, next, 1);
                let start = Windows::start_offset(mark, next).unwrap_or(0);
                replayed = replayed.max((next.unwrap_or(0) - start) as usize);
                cursor.push(start as usize);
            }
            let mut fed_since_commit = false;
            loop {
                let mut progressed = false;
                for p in 0..2usize {
                    if cursor[p] < messages[p].len() {
                        w.feed(p as i32, cursor[p] as i64, &messages[p][cursor[p]], now);
                        cursor[p] += 1;
                        progressed = true;
                        fed_since_commit = true;
                    }
                }
                let done = !progressed;
                if done || rng.random_range(0..10) == 0 {
                    // Commit: rows, offsets and marks together.
                    let now = if done {
                        now + Duration::from_secs(3600)
                    } else {
                        now
                    };
                    let (rows, marks) = w.close(now, |p| log.next.get(&p).copied());
                    log.rows.extend(rows);
                    // The log's next offset is where raw rows are stored up
                    // to: it never moves back while windows are replayed.
                    for p in 0..2 {
                        let n = log.next.entry(p).or_insert(0);
                        *n = (*n).max(cursor[p as usize] as i64);
                    }
                    log.marks.extend(marks);
                    fed_since_commit = false;
                    if done {
                        break 'run;
                    }
                }
                if fed_since_commit && rng.random_range(0..25) == 0 {
                    continue 'run; // SIGKILL: the uncommitted state is lost
                }
            }
        }
        assert_same(&merged(&log.rows), &direct(&messages));
        // A message every 2 s of event time over 2 partitions: open windows
        // (2 minutes) plus the lateness are about 90 messages per partition.
        assert!(replayed <= 100, "a restart replayed {replayed} messages");
    }
}

#[test]
fn keys_sort_like_name_then_labels_and_round_trip() {
    let mut keys = Vec::new();
    let cases = [
        ("a", vec![]),
        ("a", vec![("x", "1")]),
        ("a", vec![("x", "1"), ("y", "")]),
        ("a\0b", vec![]),
        ("a\u{1}b", vec![]),
        ("a\u{1}", vec![("\u{1}\0", "\0\u{1}")]),
        ("ab", vec![("x", "\0")]),
        ("b", vec![("a", "z")]),
    ];
    for (name, labels) in &cases {
        let labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut k = Vec::new();
        encode_key(&mut k, name, &labels);
        let (n, l) = decode_key(&k);
        assert_eq!(n, *name);
        assert_eq!(
            l.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>(),
            labels
        );
        keys.push(((name.to_string(), labels), k));
    }
    let mut by_bytes = keys.clone();
    by_bytes.sort_by(|a, b| a.1.cmp(&b.1));
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(by_bytes, keys);
}

#[test]
fn a_slot_is_72_bytes() {
    assert_eq!(std::mem::size_of::<Slot>(), 72);
}

#[test]
fn a_partition_not_yet_replayed_keeps_its_mark() {
    let mut w = Windows::new(MINUTE_NS, Duration::from_secs(60), Duration::from_secs(30));
    let mark = WindowMark {
        replay_from: 40,
        closed_before_ns: T0,
    };
    w.assign(0, Some(mark), Some(100), 1);
    w.assign(1, None, None, 2);
    let now = Instant::now();
    // Another partition moves the watermark and a commit happens before
    // partition 0 re-read anything: its mark must not move.
    w.feed(1, 0, &[sample(1, T0 + 10 * MINUTE_NS, 1.0)], now);
    let (_, marks) = w.close(now, |_| Some(100));
    assert_eq!(marks[&0], mark);
    // Half-way through the replay, still from the first open window.
    w.feed(0, 40, &[sample(2, T0 + 30 * SEC, 1.0)], now);
    w.feed(0, 41, &[sample(2, T0 - 30 * SEC, 1.0)], now); // closed already: skipped
    let (_, marks) = w.close(now, |_| Some(100));
    assert_eq!(marks[&0], mark);
}
