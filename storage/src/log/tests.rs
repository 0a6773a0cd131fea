use super::*;

fn range(p: i32, from: Option<i64>, to: i64) -> OffsetRange {
    OffsetRange {
        source: "c/metrics".into(),
        partition: p,
        from,
        to,
        window: None,
    }
}

fn file(path: &str) -> DataFile {
    DataFile {
        path: path.into(),
        tier: "raw".into(),
        partition_start_ns: 0,
        min_ts_ns: 0,
        max_ts_ns: 1,
        min_metric: "a".into(),
        max_metric: "b".into(),
        rows: 1,
        bytes: 1,
        derived_from: None,
    }
}

fn memory() -> Store {
    Store::open("memory://").unwrap()
}

#[tokio::test]
async fn commits_publish_files_and_offsets_together() {
    let store = memory();
    let log = TableLog::open(store.clone()).await.unwrap();
    let out = log
        .commit(Commit {
            add: vec![file("raw/a.parquet")],
            offsets: vec![range(0, None, 10)],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(out, CommitOutcome::Committed { seq: 1 });

    // A second handle (another process) sees the same state.
    let other = TableLog::open(store).await.unwrap();
    let snap = other.snapshot().await.unwrap();
    assert_eq!(snap.seq, 1);
    assert_eq!(snap.next_offset("c/metrics", 0), Some(10));
    assert!(snap.files.contains_key("raw/a.parquet"));
}

#[tokio::test]
async fn a_stale_writer_is_fenced() {
    let store = memory();
    let a = TableLog::open(store.clone()).await.unwrap();
    let b = TableLog::open(store.clone()).await.unwrap();
    // Both believe partition 0 starts fresh; a commits first.
    let ok = a
        .commit(Commit {
            offsets: vec![range(0, None, 10)],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(matches!(ok, CommitOutcome::Committed { .. }));
    let refused = b
        .commit(Commit {
            add: vec![file("raw/dup.parquet")],
            offsets: vec![range(0, None, 5)],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        matches!(refused, CommitOutcome::Conflict { .. }),
        "{refused:?}"
    );
    let snap = b.snapshot().await.unwrap();
    assert!(!snap.files.contains_key("raw/dup.parquet"));
    // Writers on other partitions never conflict.
    let ok = b
        .commit(Commit {
            offsets: vec![range(1, None, 5)],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ok, CommitOutcome::Committed { seq: 2 });
}

#[tokio::test]
async fn checkpoints_bound_replay_and_keep_state() {
    let store = memory();
    let log = TableLog::open(store.clone()).await.unwrap();
    let mut next = None;
    for i in 0..(CHECKPOINT_EVERY * 2 + 5) {
        let to = (i as i64 + 1) * 10;
        let out = log
            .commit(Commit {
                add: vec![file(&format!("raw/{i}.parquet"))],
                remove: if i > 0 {
                    vec![format!("raw/{}.parquet", i - 1)]
                } else {
                    vec![]
                },
                offsets: vec![range(0, next, to)],
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(matches!(out, CommitOutcome::Committed { .. }));
        next = Some(to);
    }
    let reopened = TableLog::open(store).await.unwrap();
    let snap = reopened.snapshot().await.unwrap();
    assert_eq!(snap, log.snapshot().await.unwrap());
    assert_eq!(snap.files.len(), 1);
    assert_eq!(snap.next_offset("c/metrics", 0), next);
}

#[tokio::test]
async fn retired_sources_are_forgotten() {
    let log = TableLog::open(Store::open("memory://").unwrap())
        .await
        .unwrap();
    let mut r = range(0, None, 10);
    r.window = Some(WindowMark {
        replay_from: 5,
        closed_before_ns: 60,
    });
    log.commit(Commit {
        offsets: vec![r],
        ..Default::default()
    })
    .await
    .unwrap();
    let snap = log.snapshot().await.unwrap();
    assert_eq!(snap.window("c/metrics", 0).map(|w| w.replay_from), Some(5));
    log.commit(Commit {
        retire: vec!["c/metrics".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let snap = log.snapshot().await.unwrap();
    assert_eq!(snap.next_offset("c/metrics", 0), None);
    assert_eq!(snap.window("c/metrics", 0), None);
}
