//! `strata retention`: prints the retention plan, applies it, then runs GC.

use std::time::SystemTime;

use strata_maintain::{gc, retention};

use crate::cli::{RetentionArgs, StoreArgs};

pub(crate) async fn run(
    store: StoreArgs,
    args: RetentionArgs,
    dry_run: bool,
) -> anyhow::Result<()> {
    let policy = args.policy()?;
    let log = super::open_log(&store.store).await?;
    let plan = retention::plan_for(&log, &policy, SystemTime::now()).await?;
    print_plan(&plan, &args);

    let expiring: Vec<_> = plan.iter().filter(|e| e.expires()).collect();
    if dry_run {
        println!(
            "dry run: would expire {} partitions ({} files, {} bytes); nothing changed",
            expiring.len(),
            expiring.iter().map(|e| e.files.len()).sum::<usize>(),
            expiring.iter().map(|e| e.bytes).sum::<u64>(),
        );
    } else {
        let report = retention::apply(&log, &plan).await?;
        println!("retention: {report}");
        for dir in &report.conflicts {
            println!("  {dir}: changed by another writer meanwhile; run again");
        }
    }
    let report = gc::gc(&log, args.gc(dry_run)).await?;
    println!("gc: {report}");
    Ok(())
}

fn print_plan(plan: &[retention::Expired], args: &RetentionArgs) {
    // Whole days as days: humantime would print 365d as months.
    let d = |d: std::time::Duration| match d.as_secs() % 86_400 {
        0 => format!("{}d", d.as_secs() / 86_400),
        _ => humantime::format_duration(d).to_string(),
    };
    println!(
        "retention: raw {}, 1m {}, 1h {}",
        d(args.raw),
        d(args.minute),
        d(args.hour)
    );
    if plan.is_empty() {
        println!("no partition is past retention");
        return;
    }
    println!(
        "{:<4}  {:<16}  {:>6}  {:>12}  {:>14}  ACTION",
        "TIER", "PARTITION (UTC)", "FILES", "ROWS", "BYTES"
    );
    for e in plan {
        let start = chrono::DateTime::from_timestamp_nanos(e.partition_start_ns);
        let partition = match e.tier {
            strata_schemas::Tier::Hour => start.format("%Y-%m-%d"),
            _ => start.format("%Y-%m-%d %H:00"),
        };
        println!(
            "{:<4}  {:<16}  {:>6}  {:>12}  {:>14}  {}",
            e.tier.dir(),
            partition.to_string(),
            e.files.len(),
            e.rows,
            e.bytes,
            e.verdict
        );
    }
}
