//! WIP (issue 5): the series endpoint's query over raw data.

mod common;

use common::{Fixture, HOUR, T0};
use strata_query::series::{LabelMatch, SeriesAgg, SeriesRequest, query};
use strata_schemas::Tier;

#[tokio::test]
async fn steps_of_raw_data_aggregate_per_group() {
    let f = Fixture::with_hours().await;
    let engine = f.engine();
    let snapshot = f.log.snapshot().await.unwrap();
    let req = SeriesRequest {
        metric: "cpu.load".into(),
        matchers: vec![LabelMatch {
            name: "host".into(),
            op: "=~".into(),
            value: "web0[12]".into(),
        }],
        start_ns: T0,
        end_ns: T0 + 3 * HOUR,
        step_ns: 10 * 60_000_000_000,
        agg: SeriesAgg::Avg,
        by: Some(vec!["host".into()]),
    };
    let (tier, series) = query(&engine, &snapshot, &req).await.unwrap();
    // A 10-minute step fits the 1m tier, but nothing is aggregated in this
    // store: every point comes from raw.
    assert_eq!(tier, Tier::Minute);
    assert_eq!(series.len(), 2);
    for (labels, points) in &series {
        assert_eq!(labels.len(), 1, "{labels:?}");
        // Hour h: ten samples 10h+0..10h+9 in the first ten minutes.
        let want: Vec<(i64, f64)> = (0..3)
            .map(|h| ((T0 + h * HOUR) / 1_000_000_000, 10.0 * h as f64 + 4.5))
            .collect();
        assert_eq!(points, &want, "{labels:?}");
    }
    let mut only_web01 = req.clone();
    only_web01.matchers[0] = LabelMatch {
        name: "host".into(),
        op: "!=".into(),
        value: "web02".into(),
    };
    only_web01.agg = SeriesAgg::Max;
    let (_, series) = query(&engine, &snapshot, &only_web01).await.unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].1[2].1, 29.0);
}

#[tokio::test]
async fn the_http_endpoint_answers_with_tier_step_and_points() {
    let f = Fixture::with_hours().await;
    let engine = std::sync::Arc::new(f.engine());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(strata_query::http::serve(
        listener,
        engine,
        std::future::pending(),
    ));
    let start = T0 / 1_000_000_000;
    let url = format!(
        "http://{addr}/api/v1/series?metric=cpu.load&match=host%3D%22web01%22&start={start}&end={}&step=1h&agg=max&by=host",
        start + 3 * 3600
    );
    let body: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(body["tier"], "1h", "{body}");
    assert_eq!(body["step"], 3600);
    assert_eq!(body["series"][0]["labels"]["host"], "web01", "{body}");
    let points = body["series"][0]["points"].as_array().unwrap();
    assert_eq!(points.len(), 3, "{body}");
    assert_eq!(points[2], serde_json::json!([start + 2 * 3600, 29.0]));
    let bad = reqwest::get(format!(
        "http://{addr}/api/v1/series?metric=x&start=a&end=b&step=1m"
    ))
    .await
    .unwrap();
    assert_eq!(bad.status(), 400);
}
