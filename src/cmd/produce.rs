//! `strata produce`.

use std::time::Instant;

use anyhow::Context;
use strata_pipeline::produce::{ProduceOptions, produce};

use crate::cli::{KafkaArgs, ProduceArgs};

pub(crate) async fn run(kafka: KafkaArgs, args: ProduceArgs) -> anyhow::Result<()> {
    let config = kafka.config(kafka.brokers_or_default());
    let opts = options(&args)?;
    let began = Instant::now();
    let report = produce(&config, &opts).await?;
    let secs = began.elapsed().as_secs_f64();
    println!(
        "produced {} samples in {} messages to {} in {:.1}s ({:.0} samples/s)",
        report.samples,
        report.messages,
        config.topic,
        secs,
        report.samples as f64 / secs
    );
    Ok(())
}

pub(crate) fn options(args: &ProduceArgs) -> anyhow::Result<ProduceOptions> {
    let samples = match (args.samples, args.rate) {
        (Some(n), _) => n,
        (None, 0) => anyhow::bail!("--rate 0 (as fast as possible) needs --samples"),
        (None, rate) => (rate as f64 * args.duration.as_secs_f64()).round() as u64,
    };
    let start_ns = args
        .start
        .as_deref()
        .map(|s| {
            chrono::DateTime::parse_from_rfc3339(s)
                .with_context(|| format!("--start {s:?} is not RFC 3339"))
                .map(|t| t.timestamp_nanos_opt().unwrap_or_default())
        })
        .transpose()?;
    Ok(ProduceOptions {
        series: args.series,
        rate: args.rate,
        samples,
        per_message: args.per_message,
        start_ns,
        step: args.step,
    })
}
