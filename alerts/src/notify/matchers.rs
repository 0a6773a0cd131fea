//! Label matchers in Alertmanager's syntax: `alertname="X"`,
//! `severity=~"page|crit"`, `team!="db"`, `env!~"dev|test"`.
//!
//! Parsing follows Alertmanager's classic matcher parser
//! (`pkg/labels/parse.go`): a comma-separated list, optionally in braces;
//! each matcher is a label name, an operator and a value that may be
//! double-quoted, with OpenMetrics escapes (`\"`, `\\`, `\n`) inside.
//! Regular expressions are anchored at both ends, as in Prometheus.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use crate::LabelSet;

/// How a matcher compares a label value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchOp {
    /// `=`: equal.
    Equal,
    /// `!=`: not equal.
    NotEqual,
    /// `=~`: matches the (anchored) regular expression.
    Regex,
    /// `!~`: does not match the (anchored) regular expression.
    NotRegex,
}

impl MatchOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// A parse or compile error of a matcher.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatcherError {
    /// The text is not `name op value`.
    #[error("bad matcher format: {0}")]
    Format(String),
    /// A double quote inside the value is not escaped.
    #[error("matcher value contains unescaped double quote: {0}")]
    UnescapedQuote(String),
    /// The regular expression does not compile.
    #[error("invalid regular expression {value:?}: {message}")]
    Regex {
        /// The expression.
        value: String,
        /// The compiler's message.
        message: String,
    },
}

/// One label matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// The comparison.
    pub op: MatchOp,
    /// The value or (unanchored) regular expression, as written.
    pub value: String,
    regex: Option<Regex>,
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl Matcher {
    /// A matcher; regular expressions are compiled anchored (`^(?:v)$`).
    pub fn new(name: &str, op: MatchOp, value: &str) -> Result<Self, MatcherError> {
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$")).map_err(|e| MatcherError::Regex {
                    value: value.to_string(),
                    message: e.to_string(),
                })?,
            ),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Self {
            name: name.to_string(),
            op,
            value: value.to_string(),
            regex,
        })
    }

    /// Whether `value` satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }

    /// Whether the label set satisfies the matcher; a missing label has
    /// the empty value, as in Alertmanager.
    pub fn matches_labels(&self, labels: &LabelSet) -> bool {
        self.matches(labels.get(&self.name).map(String::as_str).unwrap_or(""))
    }

    /// Alertmanager's sort order of matchers: name, value, operator.
    pub fn sort_key(&self) -> (&str, &str, MatchOp) {
        (&self.name, &self.value, self.op)
    }
}

impl fmt::Display for Matcher {
    /// As Alertmanager prints a matcher in route keys: `name="value"`,
    /// with `\`, `"` and newlines escaped in the value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let escaped = self
            .value
            .replace('\\', "\\\\")
            .replace('\n', "\\n")
            .replace('"', "\\\"");
        write!(f, "{}{}\"{}\"", self.name, self.op.as_str(), escaped)
    }
}

/// Matchers as Alertmanager prints them: `{a="x",b=~"y"}`.
pub fn format_matchers(matchers: &[Matcher]) -> String {
    let parts: Vec<String> = matchers.iter().map(ToString::to_string).collect();
    format!("{{{}}}", parts.join(","))
}

/// Whether every matcher is satisfied.
pub fn all_match(matchers: &[Matcher], labels: &LabelSet) -> bool {
    matchers.iter().all(|m| m.matches_labels(labels))
}

/// Name, operator and raw value of one matcher (`=~` before `=`).
static MATCHER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*((?s).*?)\s*$")
        .expect("static regex")
});

/// Parses a comma-separated list of matchers; a leading `{` and a trailing
/// `}` are optional, commas inside double quotes do not separate, and a
/// trailing comma is allowed.
pub fn parse_matchers(s: &str) -> Result<Vec<Matcher>, MatcherError> {
    let s = s.strip_prefix('{').unwrap_or(s);
    let s = s.strip_suffix('}').unwrap_or(s);
    let mut tokens = split_outside_quotes(s);
    // Only a trailing empty token (after a trailing comma) is skipped.
    if tokens.last().is_some_and(|t| t.trim().is_empty()) {
        tokens.pop();
    }
    tokens.iter().map(|token| parse_matcher(token)).collect()
}

/// Splits at commas that are not inside (unescaped) double quotes.
fn split_outside_quotes(s: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut token = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in s.chars() {
        match c {
            ',' if !quoted => {
                tokens.push(std::mem::take(&mut token));
                continue;
            }
            '"' if !escaped => quoted = !quoted,
            '\\' => escaped = !escaped,
            _ => escaped = false,
        }
        if c == '"' {
            escaped = false;
        }
        token.push(c);
    }
    tokens.push(token);
    tokens
}

/// Parses one matcher: `name op value`, the value optionally
/// double-quoted, with `\"`, `\\` and `\n` escapes (any other `\` is
/// literal).
pub fn parse_matcher(s: &str) -> Result<Matcher, MatcherError> {
    let caps = MATCHER_RE
        .captures(s)
        .ok_or_else(|| MatcherError::Format(s.to_string()))?;
    let op = match &caps[2] {
        "=" => MatchOp::Equal,
        "!=" => MatchOp::NotEqual,
        "=~" => MatchOp::Regex,
        _ => MatchOp::NotRegex,
    };
    let value = unescape_value(&caps[3])?;
    Matcher::new(&caps[1], op, &value)
}

/// Unquotes and unescapes a matcher value.
fn unescape_value(raw: &str) -> Result<String, MatcherError> {
    let (body, quoted) = match raw.strip_prefix('"') {
        Some(rest) => (rest, true),
        None => (raw, false),
    };
    let mut out = String::with_capacity(body.len());
    let mut closed = !quoted;
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.peek().map(|&(_, n)| n) {
                Some('n') => {
                    out.push('\n');
                    chars.next();
                }
                Some(n @ ('"' | '\\')) => {
                    out.push(n);
                    chars.next();
                }
                _ => out.push('\\'),
            },
            '"' if quoted && i + 1 == body.len() => closed = true,
            '"' => return Err(MatcherError::UnescapedQuote(raw.to_string())),
            c => out.push(c),
        }
    }
    if !closed {
        return Err(MatcherError::UnescapedQuote(raw.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::label_set as ls;

    #[test]
    fn parses_the_four_operators() {
        let ms =
            parse_matchers(r#"alertname="X", severity=~"page|crit",team!=db, env !~ "dev|test""#)
                .unwrap();
        let ops: Vec<_> = ms
            .iter()
            .map(|m| (m.name.as_str(), m.op, m.value.as_str()))
            .collect();
        assert_eq!(
            ops,
            [
                ("alertname", MatchOp::Equal, "X"),
                ("severity", MatchOp::Regex, "page|crit"),
                ("team", MatchOp::NotEqual, "db"),
                ("env", MatchOp::NotRegex, "dev|test"),
            ]
        );
        let labels = ls(&[("alertname", "X"), ("severity", "page"), ("team", "web")]);
        assert!(all_match(&ms, &labels));
        assert!(!all_match(
            &ms,
            &ls(&[("alertname", "X"), ("severity", "pagex")])
        ));
        assert!(!all_match(
            &ms,
            &ls(&[("alertname", "X"), ("severity", "crit"), ("env", "dev")])
        ));
    }

    #[test]
    fn braces_quotes_escapes_and_trailing_comma() {
        let ms =
            parse_matchers(r#"{quote="She said: \"Hi, all\"", nl="a\nb", bs="c\\d", odd="\x", }"#)
                .unwrap();
        assert_eq!(ms.len(), 4);
        assert_eq!(ms[0].value, "She said: \"Hi, all\"");
        assert_eq!(ms[1].value, "a\nb");
        assert_eq!(ms[2].value, "c\\d");
        assert_eq!(ms[3].value, "\\x");
        assert_eq!(ms[0].to_string(), r#"quote="She said: \"Hi, all\"""#);
        assert_eq!(parse_matchers("").unwrap(), vec![]);
        assert_eq!(parse_matcher("empty=").unwrap().value, "");
    }

    #[test]
    fn missing_labels_are_empty() {
        let m = parse_matcher(r#"team="""#).unwrap();
        assert!(m.matches_labels(&ls(&[("x", "y")])));
        let m = parse_matcher("team=~.+").unwrap();
        assert!(!m.matches_labels(&ls(&[("x", "y")])));
    }

    #[test]
    fn regexes_are_anchored() {
        let m = parse_matcher(r#"severity=~"crit""#).unwrap();
        assert!(m.matches("crit"));
        assert!(!m.matches("critical"));
        assert!(!m.matches("supercrit"));
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse_matcher("0bad=x"),
            Err(MatcherError::Format(_))
        ));
        assert!(matches!(
            parse_matcher("novalue"),
            Err(MatcherError::Format(_))
        ));
        assert!(matches!(
            parse_matcher(r#"a="x"y""#),
            Err(MatcherError::UnescapedQuote(_))
        ));
        assert!(matches!(
            parse_matcher(r#"a="open"#),
            Err(MatcherError::UnescapedQuote(_))
        ));
        assert!(matches!(
            parse_matcher("a=~(unclosed"),
            Err(MatcherError::Regex { .. })
        ));
        assert!(matches!(
            parse_matchers("a=1,,b=2"),
            Err(MatcherError::Format(_))
        ));
    }

    #[test]
    fn prints_like_alertmanager() {
        let ms = parse_matchers(r#"b=~"x|y",a="1""#).unwrap();
        assert_eq!(format_matchers(&ms), r#"{b=~"x|y",a="1"}"#);
        assert_eq!(format_matchers(&[]), "{}");
    }
}
