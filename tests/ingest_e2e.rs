//! End to end on the real broker: good and bad messages → `strata ingest`
//! → exactly the good samples over `/api/v1/sql`, the bad ones on the
//! dead-letter topic with reasons.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread")]
async fn good_samples_are_stored_and_bad_ones_dead_lettered() {
    let bed = Bed::new("e2e");
    let (brokers, topic, store) = (&bed.brokers, &bed.topic, &bed.store);

    // 300 single-sample messages and 100 arrays of 3: 600 good samples.
    let mut messages = Vec::new();
    let mut want_sum = 0.0;
    let base = 1_700_000_000i64;
    for i in 0..300 {
        let v = i as f64 * 0.5;
        want_sum += v;
        let body = format!(
            r#"{{"metric_name":"cpu.load","labels":{{"host":"web{:02}"}},"timestamp":{},"value":{v}}}"#,
            i % 10,
            base + i
        );
        messages.push((format!("k{}", i % 10), body.into_bytes()));
    }
    for i in 0..100 {
        let ts = (base + i) * 1000; // milliseconds
        let body = format!(
            r#"[{{"metric_name":"mem.used","labels":{{"host":"db1"}},"timestamp":{ts},"value":1}},
                {{"metric_name":"mem.used","labels":{{"host":"db2"}},"timestamp":"2023-11-14T22:13:20Z","value":2}},
                {{"metric_name":"disk.free","labels":{{"host":"db1","mount":"/"}},"timestamp":{}.5,"value":3}}]"#,
            base + i
        );
        want_sum += 6.0;
        messages.push(("arr".into(), body.into_bytes()));
    }
    let bad: Vec<(&str, &str)> = vec![
        ("{not json", "invalid JSON"),
        (
            r#"{"labels":{},"timestamp":1700000000,"value":1}"#,
            "missing field \"metric_name\"",
        ),
        (
            r#"{"metric_name":"x","timestamp":1700000000,"value":"high"}"#,
            "must be a number",
        ),
        (
            r#"{"metric_name":"x","timestamp":12,"value":1}"#,
            "before 1990",
        ),
        (
            r#"{"metric_name":"x","timestamp":4102444800,"value":1}"#,
            "ahead of",
        ),
    ];
    // Interleave the bad ones with the good ones.
    for (i, (b, _)) in bad.iter().enumerate() {
        messages.insert(i * 50 + 7, (format!("bad{i}"), b.as_bytes().to_vec()));
    }
    // An array with one bad element: the good one is kept.
    messages.push((
        "mixed".into(),
        br#"[{"metric_name":"mixed","timestamp":1700000000,"value":7},{"metric_name":"mixed","timestamp":1700000000}]"#.to_vec(),
    ));
    want_sum += 7.0;
    let want_rows = 601u64;

    let port = free_port();
    let serve = Strata::spawn(&[
        "serve",
        "--store",
        store,
        "--http-addr",
        &format!("127.0.0.1:{port}"),
    ]);
    let ingest = bed.ingest(&[], &messages, want_rows).await;

    // Through the real HTTP API.
    let client = reqwest::Client::new();
    let sql = |q: &str| {
        client
            .post(format!("http://127.0.0.1:{port}/api/v1/sql"))
            .json(&serde_json::json!({"sql": q, "format": "json"}))
            .send()
    };
    let resp = sql("SELECT count(*) AS n, sum(value) AS s FROM metrics_raw")
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let rows: Vec<serde_json::Value> = resp.json().await.unwrap();
    assert_eq!(rows[0]["n"], want_rows);
    assert!(
        (rows[0]["s"].as_f64().unwrap() - want_sum).abs() < 1e-6,
        "{rows:?}"
    );

    let rows: Vec<serde_json::Value> = sql(
        "SELECT labels['host'] AS host, count(*) AS n, min(ts) AS first FROM metrics_raw \
         WHERE metric_name = 'cpu.load' GROUP BY 1 ORDER BY 1",
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[0]["host"], "web00");
    assert_eq!(rows[0]["n"], 30);
    assert!(
        rows[0]["first"]
            .as_str()
            .unwrap()
            .starts_with("2023-11-14T22:13:20"),
        "{rows:?}"
    );

    let rows: Vec<serde_json::Value> = sql(
        "SELECT labels['mount'] AS mount, ts FROM metrics_raw WHERE metric_name = 'disk.free' ORDER BY ts LIMIT 1",
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(rows[0]["mount"], "/");
    assert!(
        rows[0]["ts"].as_str().unwrap().contains("22:13:20.5"),
        "{rows:?}"
    );

    // Dead letters: the five bad messages and the one bad element.
    let letters: Vec<_> = dead_letters(brokers, topic, bad.len() + 1)
        .iter()
        .map(Letter::as_map)
        .collect();
    assert_eq!(letters.len(), bad.len() + 1, "dead letters: {letters:?}");
    for (payload, reason) in &bad {
        let l = letters
            .iter()
            .find(|l| l["payload"] == *payload)
            .unwrap_or_else(|| panic!("{payload} not dead-lettered: {letters:?}"));
        assert!(l["strata.reason"].contains(reason), "{l:?}");
        assert_eq!(&l["strata.source.topic"], topic);
        assert!(l["strata.source.offset"].parse::<i64>().is_ok());
        assert!(l["strata.source.partition"].parse::<i32>().is_ok());
    }
    let element = letters
        .iter()
        .find(|l| l.contains_key("strata.source.index"))
        .unwrap();
    assert_eq!(element["strata.source.index"], "1");
    assert!(
        element["strata.reason"].contains("missing field \"value\""),
        "{element:?}"
    );

    ingest.terminate();
    serve.terminate();
}
