//! Node-exporter-like series for the memory benchmarks
//! (`#[path]`-included).

use strata_schemas::{Labels, Sample};

/// Series `i` of metric `name`: `{instance, job, cpu, mode}`, about 70
/// bytes of name and labels, with value `i`.
pub(crate) fn sample(name: &str, i: usize, ts_ns: i64) -> Sample {
    Sample {
        metric_name: name.to_string(),
        labels: Labels::from_pairs([
            ("instance", format!("host-{:05}:9100", i / 64)),
            ("job", "node".to_string()),
            ("cpu", (i % 16).to_string()),
            (
                "mode",
                ["idle", "user", "system", "iowait"][(i / 16) % 4].to_string(),
            ),
        ]),
        ts_ns,
        value: i as f64,
    }
}
