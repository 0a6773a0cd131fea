//! The repository's rule unit tests pass both in `strata rules test` and in
//! Prometheus's own `promtool test rules`, which is the oracle that Strata's
//! alerts are the ones Prometheus would produce. A copy with one expected
//! alert changed must fail in both.

use std::path::{Path, PathBuf};
use std::process::Command;

fn unit_tests() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rules/unit");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".test.yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "test files in {}", dir.display());
    files
}

fn promtool(file: &Path) -> (bool, String) {
    let out = Command::new("promtool")
        .args(["test", "rules"])
        .arg(file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "promtool is needed as the oracle of the rule tests ({e}): \
                 `apt-get install prometheus` (scripts/test installs it)"
            )
        });
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn strata(file: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["rules", "test"])
        .arg(file)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[test]
fn strata_and_promtool_agree_on_the_rule_tests() {
    for file in unit_tests() {
        let (ok, text) = promtool(&file);
        assert!(ok, "promtool fails {}:\n{text}", file.display());
        let (ok, text) = strata(&file);
        assert!(ok, "strata fails {}:\n{text}", file.display());
    }
}

#[test]
fn both_fail_a_wrong_expectation() {
    let file = unit_tests()
        .into_iter()
        .find(|f| f.ends_with("node.test.yml"))
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("severity: critical"),
        "node.test.yml expects a critical alert"
    );
    let wrong = file.with_file_name("wrong.test.yml.tmp");
    std::fs::write(
        &wrong,
        text.replacen("severity: critical", "severity: ticket", 1),
    )
    .unwrap();
    let (p, ptext) = promtool(&wrong);
    let (s, stext) = strata(&wrong);
    std::fs::remove_file(&wrong).ok();
    assert!(!p, "promtool passed a wrong expectation:\n{ptext}");
    assert!(!s, "strata passed a wrong expectation:\n{stext}");
}
