//! The store and its commit log on an S3 API (moto's S3 server in tests,
//! MinIO or AWS in production): create-only writes must be atomic there
//! too, or exactly-once ingest would not hold.
//!
//! Needs `STRATA_TEST_S3_ENDPOINT` (e.g. `http://127.0.0.1:5055`);
//! `scripts/test` starts moto's server and sets it.

use bytes::Bytes;
use object_store::path::Path;
use strata_storage::{Commit, CommitOutcome, Error, OffsetRange, Store, TableLog};

fn endpoint() -> String {
    std::env::var("STRATA_TEST_S3_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "STRATA_TEST_S3_ENDPOINT is not set: run the tests with `scripts/test`, which starts \
             an S3 server (moto) and sets it, or point it at MinIO"
        )
    })
}

async fn s3_store(prefix: &str) -> Store {
    let endpoint = endpoint();
    let bucket = "strata-test";
    // Create the bucket (idempotent on moto and MinIO).
    let resp = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("no S3 server at {endpoint}: {e}; `scripts/test` starts one"));
    assert!(
        resp.status().is_success() || resp.status().as_u16() == 409,
        "{resp:?}"
    );
    // SAFETY: set before any thread of this test binary reads the
    // environment; this file holds the only tests of its binary.
    unsafe {
        std::env::set_var("AWS_ENDPOINT", &endpoint);
        std::env::set_var("AWS_ALLOW_HTTP", "true");
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        std::env::set_var("AWS_REGION", "us-east-1");
    }
    Store::open(&format!("s3://{bucket}/{prefix}")).unwrap()
}

fn range(from: Option<i64>, to: i64) -> OffsetRange {
    OffsetRange {
        source: "c/metrics".into(),
        partition: 0,
        from,
        to,
        window: None,
    }
}

#[tokio::test]
async fn create_only_and_fencing_hold_on_s3() {
    let prefix = format!("run-{}", uuid::Uuid::new_v4());
    let store = s3_store(&prefix).await;

    let p = Path::from("_probe/x");
    store
        .put_durable(&p, Bytes::from_static(b"a"), true)
        .await
        .unwrap();
    let err = store
        .put_durable(&p, Bytes::from_static(b"b"), true)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ObjectStore(object_store::Error::AlreadyExists { .. })
        ),
        "a second create-only write must fail with AlreadyExists, got {err:?}"
    );

    let a = TableLog::open(store.clone()).await.unwrap();
    let b = TableLog::open(store.clone()).await.unwrap();
    let first = a
        .commit(Commit {
            offsets: vec![range(None, 10)],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(first, CommitOutcome::Committed { seq: 1 });
    let second = b
        .commit(Commit {
            offsets: vec![range(None, 7)],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        matches!(second, CommitOutcome::Conflict { .. }),
        "{second:?}"
    );
    let reopened = TableLog::open(store).await.unwrap();
    assert_eq!(
        reopened
            .snapshot()
            .await
            .unwrap()
            .next_offset("c/metrics", 0),
        Some(10)
    );
}
