//! `strata rules check` and `strata rules test`.

use std::path::PathBuf;

/// Checks every path like `promtool check rules`: one line per file, and
/// a failure exit when any file is invalid.
pub(crate) fn check(paths: &[PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for path in paths {
        println!("Checking {}", path.display());
        match strata_alerts::rule::load(path) {
            Ok(groups) => {
                let rules: usize = groups.iter().map(|g| g.rules.len()).sum();
                println!("  SUCCESS: {rules} rules found in {} groups", groups.len());
            }
            Err(e) => {
                failed += 1;
                println!("  FAILED: {e}");
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => anyhow::bail!("{n} of {} rule paths are invalid", paths.len()),
    }
}

/// Runs promtool-format rule unit tests: one line per file, and a failure
/// exit when any test fails.
pub(crate) fn test(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for file in files {
        println!("Unit Testing: {}", file.display());
        match strata_alerts::promtool::run_file(file) {
            Ok(report) if report.passed() => println!("  SUCCESS"),
            Ok(report) => {
                failed += 1;
                println!("  FAILED:\n{report}");
            }
            Err(e) => {
                failed += 1;
                println!("  FAILED: {e}");
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => anyhow::bail!("{n} of {} test files failed", files.len()),
    }
}
