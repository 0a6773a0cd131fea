//! Annotation templates, as Prometheus expands them: `{{ $labels.host }}`,
//! `{{ $value }}`, `{{ $externalLabels.x }}`, `{{ $externalURL }}`, pipes
//! into `humanize`-style functions, and the seed's shorthand `{{ host }}`
//! for a label.
//!
//! Prometheus uses Go's `text/template`. The expressions alerting rules use
//! in practice are a small part of it, and they read the same in Jinja once
//! `$labels`/`.Labels` become `labels` and `$value`/`.Value` become `value`:
//! templates are rewritten that way and rendered with `minijinja`. Anything
//! else Go-specific (`printf "%.2f" $value`, `range`, `if`/`end` in Go's
//! form) fails to compile and is reported when the rule file loads; Go's
//! `printf "%.2f" $value` is rewritten to a call of a `printf` function
//! that knows the verbs rules use.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use minijinja::{Environment, UndefinedBehavior, Value};
use regex::Regex;

use crate::LabelSet;

/// Labels and URL the whole evaluator adds to every template's context.
#[derive(Debug, Clone, Default)]
pub struct External {
    /// `$externalLabels`.
    pub labels: LabelSet,
    /// `$externalURL`.
    pub url: String,
}

/// Names the template context defines itself; a label of the same name is
/// reachable through `$labels` only.
const RESERVED: [&str; 4] = ["labels", "value", "externalLabels", "externalURL"];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // Numbers print as Go prints a float64, so `{{ $value }}` reads as in
    // Prometheus.
    env.set_formatter(|out, state, value| {
        if value.kind() == minijinja::value::ValueKind::Number
            && let Ok(f) = f64::try_from(value.clone())
        {
            return out.write_str(&go_float(f)).map_err(minijinja::Error::from);
        }
        minijinja::escape_formatter(out, state, value)
    });
    env.add_function("printf", printf);
    env.add_filter("humanize", |v: f64| {
        humanize(
            v,
            1000.0,
            &["", "k", "M", "G", "T", "P", "E", "Z", "Y"],
            &["", "m", "u", "n", "p", "f", "a", "z", "y"],
        )
    });
    env.add_filter("humanize1024", |v: f64| {
        humanize(
            v,
            1024.0,
            &["", "ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"],
            &[""],
        )
    });
    env.add_filter("humanizePercentage", |v: f64| {
        format!("{}%", go_float_g4(v * 100.0))
    });
    env.add_filter("humanizeDuration", humanize_duration);
    env.add_filter("toUpper", |s: String| s.to_uppercase());
    env.add_filter("toLower", |s: String| s.to_lowercase());
    env.add_filter("title", |s: String| {
        s.split(' ')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" ")
    });
    env
});

/// Go's `printf` for the verbs rules use: `%s`, `%v`, `%d`, `%f`, `%.Nf`,
/// `%g`, `%%`.
fn printf(format: String, args: minijinja::value::Rest<Value>) -> Result<String, minijinja::Error> {
    static VERB: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"%(?:%|(\.\d+)?([svdfgeq]))").unwrap());
    let mut args = args.iter();
    let mut err = None;
    let out = VERB.replace_all(&format, |c: &regex::Captures<'_>| {
        if &c[0] == "%%" {
            return "%".to_string();
        }
        let Some(arg) = args.next() else {
            return "%!(MISSING)".to_string();
        };
        let num = f64::try_from(arg.clone());
        let precision = c
            .get(1)
            .map(|p| p.as_str()[1..].parse::<usize>().unwrap_or(6));
        match (&c[2], num) {
            ("f", Ok(f)) => format!("{f:.*}", precision.unwrap_or(6)),
            ("e", Ok(f)) => format!("{f:.*e}", precision.unwrap_or(6)),
            ("d", Ok(f)) => format!("{}", f as i64),
            ("g" | "v", Ok(f)) if arg.kind() == minijinja::value::ValueKind::Number => go_float(f),
            ("q", _) => format!("{:?}", arg.to_string()),
            ("s" | "v" | "g", _) => arg.as_str().map_or_else(|| arg.to_string(), String::from),
            (verb, _) => {
                err = Some(format!("printf: %{verb} of {arg}"));
                String::new()
            }
        }
    });
    match err {
        Some(e) => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            e,
        )),
        None => Ok(out.into_owned()),
    }
}

/// Rewrites Go template references to the Jinja names of the context, and
/// Go's `printf "fmt" a b` calls to `printf("fmt", a, b)`.
fn rewrite(text: &str) -> String {
    static PRINTF: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"^\s*printf\s+("(?:[^"\\]|\\.)*")((?:\s+[^\s|]+)*)\s*(\|.*)?$"#).unwrap()
    });
    static ACTION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{\{-?(.*?)-?\}\}").unwrap());
    static REFS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\$labels\b|\$value\b|\$externalLabels\b|\$externalURL\b|\.Labels\b|\.Value\b")
            .unwrap()
    });
    ACTION
        .replace_all(text, |c: &regex::Captures<'_>| {
            let inner = REFS.replace_all(&c[1], |r: &regex::Captures<'_>| {
                match &r[0] {
                    "$labels" | ".Labels" => "labels",
                    "$value" | ".Value" => "value",
                    "$externalLabels" => "externalLabels",
                    _ => "externalURL",
                }
                .to_string()
            });
            let inner = match PRINTF.captures(&inner) {
                Some(p) => {
                    let args: Vec<&str> = p[2].split_whitespace().collect();
                    let mut call = format!(" printf({}", &p[1]);
                    for a in args {
                        call.push_str(", ");
                        call.push_str(a);
                    }
                    call.push_str(") ");
                    if let Some(pipe) = p.get(3) {
                        call.push_str(pipe.as_str());
                    }
                    call
                }
                None => inner.into_owned(),
            };
            format!("{{{{{inner}}}}}")
        })
        .into_owned()
}

/// Checks that `text` compiles; the error says what is wrong.
pub fn check(text: &str) -> Result<(), String> {
    ENV.template_from_str(&rewrite(text))
        .map(|_| ())
        .map_err(|e| format!("template {text:?}: {e}"))
}

/// Expands `text` for an alert of series `labels` (without `__name__`) and
/// value `value`. A template that fails to render expands, as in
/// Prometheus, to an error text rather than failing the evaluation.
pub fn expand(text: &str, labels: &LabelSet, value: f64, external: &External) -> String {
    if !text.contains("{{") {
        return text.to_string();
    }
    let mut ctx: BTreeMap<&str, Value> = labels
        .iter()
        .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), Value::from(v.as_str())))
        .collect();
    ctx.insert("labels", Value::from_serialize(labels));
    ctx.insert("value", Value::from(value));
    ctx.insert("externalLabels", Value::from_serialize(&external.labels));
    ctx.insert("externalURL", Value::from(external.url.as_str()));
    let rendered = ENV
        .template_from_str(&rewrite(text))
        .and_then(|t| t.render(&ctx));
    rendered.unwrap_or_else(|e| format!("<error expanding template: {e}>"))
}

/// Go's `%v` for a `float64`: the shortest representation that reads back
/// exactly, in exponent form when the exponent is below -4 or at least 6
/// (`strconv.FormatFloat(v, 'g', -1, 64)`).
pub fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // `{:e}` is the shortest round-tripping mantissa and its exponent.
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` has an exponent");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    if (-4..6).contains(&exp) {
        format!("{v}")
    } else {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

/// Go's `%.4g`, which `humanize` and `humanizePercentage` use.
fn go_float_g4(v: f64) -> String {
    if !v.is_finite() {
        return go_float(v);
    }
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    if !(-4..4).contains(&exp) {
        let s = format!("{v:.3e}");
        let (m, e) = s.split_once('e').expect("`{:e}` has an exponent");
        let m = trim_zeros(m);
        let e: i32 = e.parse().expect("`{:e}` exponent is an integer");
        let sign = if e < 0 { '-' } else { '+' };
        return format!("{m}e{sign}{:02}", e.abs());
    }
    let decimals = (3 - exp).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Prometheus's `humanize`: SI prefixes for large and small magnitudes.
fn humanize(v: f64, base: f64, big: &[&str], small: &[&str]) -> String {
    if v == 0.0 || !v.is_finite() {
        return go_float_g4(v);
    }
    let mut x = v;
    if v.abs() >= 1.0 {
        for p in big {
            if x.abs() < base {
                return format!("{}{p}", go_float_g4(x));
            }
            if *p != big[big.len() - 1] {
                x /= base;
            }
        }
        return format!("{}{}", go_float_g4(x), big[big.len() - 1]);
    }
    for p in small {
        if x.abs() >= 1.0 || *p == small[small.len() - 1] {
            return format!("{}{p}", go_float_g4(x));
        }
        x *= base;
    }
    go_float_g4(v)
}

/// Prometheus's `humanizeDuration`: seconds as `1d 2h 3m 4s`, or with a
/// unit prefix below one second.
fn humanize_duration(v: f64) -> String {
    if !v.is_finite() {
        return go_float_g4(v);
    }
    if v.abs() < 1.0 {
        if v == 0.0 {
            return "0s".into();
        }
        if v.abs() >= 1e-3 {
            return format!("{}ms", go_float_g4(v * 1e3));
        }
        return format!("{}us", go_float_g4(v * 1e6));
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let total = v.abs();
    let secs = total % 60.0;
    let whole = total as u64;
    let (days, hours, mins) = (whole / 86_400, whole / 3_600 % 24, whole / 60 % 60);
    let s = go_float_g4(secs);
    match (days, hours, mins) {
        (0, 0, 0) => format!("{sign}{s}s"),
        (0, 0, m) => format!("{sign}{m}m {s}s"),
        (0, h, m) => format!("{sign}{h}h {m}m {s}s"),
        (d, h, m) => format!("{sign}{d}d {h}h {m}m {s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::label_set as labels;

    #[test]
    fn prometheus_and_seed_references() {
        let l = labels(&[("host", "web-1"), ("env", "prod")]);
        let ext = External::default();
        assert_eq!(
            expand(
                "High load on {{ $labels.host }}: {{ $value }}",
                &l,
                0.93,
                &ext
            ),
            "High load on web-1: 0.93"
        );
        assert_eq!(
            expand("High CPU on {{ host }}", &l, 1.0, &ext),
            "High CPU on web-1"
        );
        assert_eq!(
            expand("{{ .Labels.env }} {{ .Value }}", &l, 2.5, &ext),
            "prod 2.5"
        );
        assert_eq!(
            expand("{{ $value | humanize }}B", &l, 1_234_567.0, &ext),
            "1.235MB"
        );
        assert_eq!(
            expand("{{ $value | humanizePercentage }}", &l, 0.256, &ext),
            "25.6%"
        );
        assert_eq!(expand("no template", &l, 1.0, &ext), "no template");
        assert_eq!(
            expand(
                "{{ printf \"%.2f\" $value }} on {{ printf \"%s\" $labels.host }}",
                &l,
                0.93456,
                &ext
            ),
            "0.93 on web-1"
        );
        assert_eq!(
            expand("{{ printf \"%.1f%%\" $value }}", &l, 93.45, &ext),
            "93.5%"
        );
        assert_eq!(expand("{{ $labels.missing }}", &l, 1.0, &ext), "");
    }

    #[test]
    fn value_prints_like_go() {
        for (v, s) in [
            (1.0, "1"),
            (0.1, "0.1"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (123456789.5, "1.234567895e+08"),
            (0.00001, "1e-05"),
            (0.0001, "0.0001"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
        ] {
            assert_eq!(go_float(v), s, "{v}");
        }
    }

    #[test]
    fn bad_templates_are_reported() {
        assert!(check("{{ $labels.host }}").is_ok());
        assert!(check("{{ $labels.host ").is_err());
        assert!(check("{{ $value + }}").is_err());
    }
}
