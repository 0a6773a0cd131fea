//! Rule expressions: the PromQL that alerting rules use, parsed with
//! `promql-parser`, checked against what the evaluator supports.
//!
//! Metric names with dots may be written bare, as in the seed
//! (`cpu.load > 0.8`): before parsing, such names are rewritten to
//! Prometheus 3's quoted form (`{"cpu.load"}`), which the parser reads.

use promql_parser::parser::{self, Expr};

/// Functions the evaluator implements.
pub const FUNCTIONS: [&str; 10] = [
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "last_over_time",
    "rate",
    "increase",
    "absent",
    "absent_over_time",
];

/// Aggregations the evaluator implements.
pub const AGGREGATIONS: [&str; 5] = ["sum", "avg", "min", "max", "count"];

/// Parses `text`, rewriting bare dotted metric names, and checks that every
/// construct is supported. The error names the construct.
pub fn parse(text: &str) -> Result<Expr, String> {
    let rewritten = quote_dotted_names(text);
    let expr = parser::parse(&rewritten)?;
    check(&expr)?;
    Ok(expr)
}

fn check(expr: &Expr) -> Result<(), String> {
    match expr {
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if !AGGREGATIONS.contains(&op.as_str()) {
                return Err(format!("aggregation `{op}` is not supported"));
            }
            check(&a.expr)
        }
        Expr::Unary(u) => check(&u.expr),
        Expr::Binary(b) => {
            if let Some(m) = &b.modifier {
                use promql_parser::parser::VectorMatchCardinality as Card;
                if matches!(m.card, Card::ManyToOne(_) | Card::OneToMany(_)) {
                    return Err("`group_left`/`group_right` matching is not supported".into());
                }
                if m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some() {
                    return Err("`fill` modifiers are not supported".into());
                }
            }
            check(&b.lhs)?;
            check(&b.rhs)
        }
        Expr::Paren(p) => check(&p.expr),
        Expr::Subquery(_) => Err("subqueries are not supported".into()),
        Expr::NumberLiteral(_) => Ok(()),
        Expr::StringLiteral(_) => Err("string literals are not supported".into()),
        Expr::VectorSelector(v)
        | Expr::MatrixSelector(promql_parser::parser::MatrixSelector { vs: v, .. }) => {
            if v.offset.is_some() || v.at.is_some() {
                return Err("`offset` and `@` modifiers are not supported".into());
            }
            Ok(())
        }
        Expr::Call(c) => {
            if !FUNCTIONS.contains(&c.func.name) {
                return Err(format!("function `{}` is not supported", c.func.name));
            }
            c.args.args.iter().try_for_each(|a| check(a))
        }
        Expr::Extension(_) => Err("extension expressions are not supported".into()),
    }
}

/// Rewrites bare metric names containing dots (`cpu.load`, `cpu.load{a="b"}`)
/// outside string literals into the quoted form `{"cpu.load"}` /
/// `{"cpu.load", a="b"}`.
pub fn quote_dotted_names(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    let ident_start = |b: u8| b.is_ascii_alphabetic() || b == b'_' || b == b':';
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' || b == b'\'' || b == b'`' {
            // Copy a string literal as is.
            let end = text[i + 1..]
                .find(|c: char| c as u32 == u32::from(b))
                .map_or(bytes.len(), |j| i + 1 + j + 1);
            out.push_str(&text[i..end]);
            i = end;
            continue;
        }
        let prev_ident = i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == b'.');
        if ident_start(b) && !prev_ident {
            let start = i;
            while i < bytes.len()
                && (ident(bytes[i])
                    || (bytes[i] == b'.' && i + 1 < bytes.len() && ident(bytes[i + 1])))
            {
                i += 1;
            }
            let word = &text[start..i];
            if !word.contains('.') {
                out.push_str(word);
                continue;
            }
            let rest = text[i..].trim_start();
            if let Some(inner) = rest.strip_prefix('{') {
                let skipped = text[i..].len() - rest.len();
                let close = inner.find('}').unwrap_or(inner.len());
                let matchers = inner[..close].trim();
                match matchers.is_empty() {
                    true => out.push_str(&format!("{{\"{word}\"}}")),
                    false => out.push_str(&format!("{{\"{word}\", {matchers}}}")),
                }
                i += skipped + 1 + (close + 1).min(inner.len());
            } else {
                out.push_str(&format!("{{\"{word}\"}}"));
            }
            continue;
        }
        out.push(b as char);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_to_one_matching_is_refused_at_load() {
        let err = parse("a * on(host) group_left(team) b").unwrap_err();
        assert!(err.contains("group_left"), "{err}");
        assert!(parse("a * on(host) b").is_ok());
    }

    #[test]
    fn dotted_names_are_quoted() {
        assert_eq!(
            quote_dotted_names("cpu.load > 0.8"),
            r#"{"cpu.load"} > 0.8"#
        );
        assert_eq!(
            quote_dotted_names(r#"avg_over_time(cpu.load{env="prod"}[5m]) > 0.8"#),
            r#"avg_over_time({"cpu.load", env="prod"}[5m]) > 0.8"#
        );
        // Numbers, plain names and strings stay as they are.
        assert_eq!(
            quote_dotted_names(r#"up{a="x.y"} > 0.5"#),
            r#"up{a="x.y"} > 0.5"#
        );
        assert_eq!(quote_dotted_names("1.5 * up"), "1.5 * up");
    }

    #[test]
    fn supported_expressions_parse() {
        for e in [
            "cpu.load > 0.8",
            r#"{"cpu.load", env="prod"} > 0.8"#,
            r#"avg by (host) (avg_over_time(cpu_load{host=~"web.*", env!="dev"}[5m])) > 0.8"#,
            "sum without (instance) (rate(req_total[1m])) > 10",
            r#"absent(up{job="api"})"#,
            "up == 0 and on(host) mem_free < 100 or disk_free unless maintenance",
        ] {
            parse(e).unwrap_or_else(|err| panic!("{e}: {err}"));
        }
    }

    #[test]
    fn unsupported_constructs_are_named() {
        for (e, want) in [
            ("histogram_quantile(0.9, rate(x[5m]))", "histogram_quantile"),
            ("topk(3, up)", "topk"),
            ("max_over_time(rate(x[1m])[5m:1m])", "subqueries"),
            ("up offset 5m", "offset"),
        ] {
            let err = parse(e).unwrap_err();
            assert!(err.contains(want), "{e}: {err}");
        }
        assert!(parse("up >").is_err());
    }
}
