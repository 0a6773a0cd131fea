//! End to end on the real broker, `strata ingest --format auto`: line
//! protocol, Telegraf JSON and prometheus-kafka-adapter messages on one
//! topic land in the raw tier with their names, labels, times and values;
//! a bad line of a line protocol message and a +Inf sample are
//! dead-lettered alone, with their reasons; string fields and a NaN
//! (staleness marker) are skipped and counted.

mod common;

use std::time::Duration;

use common::*;

/// The messages, each as its producer writes it, and the rows they must
/// give, as `name{labels} ts_ns value`.
fn messages() -> (Vec<(String, Vec<u8>)>, Vec<&'static str>) {
    let messages: Vec<(&str, &str)> = vec![
        // Telegraf's Kafka output, data_format = "influx": one metric.
        (
            "influx-one",
            "cpu,cpu=cpu0,host=raynor usage_idle=99.1,usage_user=0.5 1767225600000000000\n",
        ),
        // Many lines: a comment, an escaped space, unsigned and boolean
        // fields, a string field (skipped).
        (
            "influx-many",
            "# telegraf\n\
             mem,host=raynor used=3335778304i,used_percent=15.95 1767225600000000000\n\
             disk,host=raynor,path=/var/lib\\ data free=50457329664u,ro=false 1767225600000000000\n\
             system,host=raynor uptime_format=\"14 days, 11:07\",load1=0.48 1767225610000000000\n",
        ),
        // A bad line between good ones: only line 2 is dead-lettered.
        (
            "influx-mixed",
            "net,host=raynor,interface=eth0 bytes_recv=123i 1767225600000000000\n\
             net,host=raynor bytes_sent 1767225600000000000\n\
             net,host=raynor,interface=eth1 bytes_recv=456i 1767225600000000000\n",
        ),
        // Telegraf's JSON serializer: one metric, then a batch whose second
        // metric has json_timestamp_units = "1ms".
        (
            "telegraf-one",
            r#"{"fields":{"n_images":660,"running":true,"status":"ok"},"name":"docker","tags":{"host":"raynor"},"timestamp":1767225600}"#,
        ),
        (
            "telegraf-batch",
            r#"{"metrics":[{"fields":{"n_images":72},"name":"docker","tags":{"host":"amaranth"},"timestamp":1767225660},{"fields":{"n_images":0},"name":"storage","tags":{"host":"amaranth"},"timestamp":1767225660123}]}"#,
        ),
        // prometheus-kafka-adapter: one sample per message; NaN (a
        // staleness marker) skipped, +Inf refused.
        (
            "prom-up",
            r#"{"labels":{"__name__":"up","instance":"node:9100","job":"node"},"name":"up","timestamp":"2026-01-01T00:00:00Z","value":"1"}"#,
        ),
        (
            "prom-cpu",
            r#"{"value":"9876543210.25","timestamp":"2026-01-01T00:00:15Z","name":"node_cpu_seconds_total","labels":{"__name__":"node_cpu_seconds_total","cpu":"0","mode":"idle"}}"#,
        ),
        (
            "prom-nan",
            r#"{"labels":{"__name__":"up","job":"gone"},"name":"up","timestamp":"2026-01-01T00:00:30Z","value":"NaN"}"#,
        ),
        (
            "prom-inf",
            r#"{"labels":{"__name__":"le_max","job":"x"},"name":"le_max","timestamp":"2026-01-01T00:00:30Z","value":"+Inf"}"#,
        ),
    ];
    let rows = vec![
        r#"cpu.usage_idle{cpu="cpu0",host="raynor"} 1767225600000000000 99.1"#,
        r#"cpu.usage_user{cpu="cpu0",host="raynor"} 1767225600000000000 0.5"#,
        r#"disk.free{host="raynor",path="/var/lib data"} 1767225600000000000 50457329664"#,
        r#"disk.ro{host="raynor",path="/var/lib data"} 1767225600000000000 0"#,
        r#"docker.n_images{host="amaranth"} 1767225660000000000 72"#,
        r#"docker.n_images{host="raynor"} 1767225600000000000 660"#,
        r#"docker.running{host="raynor"} 1767225600000000000 1"#,
        r#"mem.used_percent{host="raynor"} 1767225600000000000 15.95"#,
        r#"mem.used{host="raynor"} 1767225600000000000 3335778304"#,
        r#"net.bytes_recv{host="raynor",interface="eth0"} 1767225600000000000 123"#,
        r#"net.bytes_recv{host="raynor",interface="eth1"} 1767225600000000000 456"#,
        r#"node_cpu_seconds_total{cpu="0",mode="idle"} 1767225615000000000 9876543210.25"#,
        r#"storage.n_images{host="amaranth"} 1767225660123000000 0"#,
        r#"system.load1{host="raynor"} 1767225610000000000 0.48"#,
        r#"up{instance="node:9100",job="node"} 1767225600000000000 1"#,
    ];
    let messages = messages
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect();
    (messages, rows)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_format_lands_in_the_raw_tier_detected() {
    let bed = Bed::new("formats");
    let (messages, want) = messages();
    let ingest = bed
        .ingest(&["--format", "auto"], &messages, want.len() as u64)
        .await;

    assert_eq!(
        raw_rows(bed.dir.path()).await,
        want,
        "raw tier (left) vs expected"
    );

    let letters: Vec<_> = dead_letters(&bed.brokers, &bed.topic, 2)
        .iter()
        .map(Letter::as_map)
        .collect();
    assert_eq!(letters.len(), 2, "dead letters: {letters:?}");
    let line = letters
        .iter()
        .find(|l| l.contains_key("strata.source.index"))
        .unwrap_or_else(|| panic!("no dead letter of a line: {letters:?}"));
    assert_eq!(
        line["payload"],
        "net,host=raynor bytes_sent 1767225600000000000"
    );
    assert_eq!(line["strata.source.index"], "2");
    assert!(
        line["strata.reason"].starts_with("line 2: no valid field set"),
        "{line:?}"
    );
    let inf = letters
        .iter()
        .find(|l| l["payload"].contains("\"+Inf\""))
        .unwrap_or_else(|| panic!("+Inf sample not dead-lettered: {letters:?}"));
    assert!(
        inf["strata.reason"].contains("\"value\" \"+Inf\" is not a finite number"),
        "{inf:?}"
    );
    assert!(!inf.contains_key("strata.source.index"), "{inf:?}");
    // Skipped, not lost: the line protocol and Telegraf string fields and
    // the NaN, in ingest's progress line (every 10 s).
    ingest.wait_for_line("skipped_fields=3", Duration::from_secs(30));

    ingest.terminate();
}
