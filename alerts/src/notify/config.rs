//! Alertmanager's configuration file (`alertmanager.yml`), the subset
//! Strata implements, and the routing tree compiled from it.
//!
//! Supported:
//! - `global`: `smtp_smarthost`, `smtp_from`, `smtp_auth_username`,
//!   `smtp_auth_password`, `smtp_require_tls` (default true),
//!   `resolve_timeout` (default 5m).
//! - `route`: `receiver`, `group_by` (`['...']` groups by all labels),
//!   `group_wait` (30s), `group_interval` (5m), `repeat_interval` (4h) —
//!   all inherited by child routes —, `matchers` in Alertmanager's syntax,
//!   the legacy `match` / `match_re`, `continue` and child `routes`.
//! - `receivers`: `name`, `webhook_configs` (`url`, `send_resolved`
//!   (default true), `max_alerts`, `timeout`) and `email_configs` (`to`,
//!   `from`, `smarthost`, `auth_username`, `auth_password`, `require_tls`,
//!   `send_resolved` (default false), `headers` with only `Subject`).
//!
//! Any other key — another integration (`slack_configs`, …),
//! `inhibit_rules`, `templates`, time intervals, `http_config`, … — is an
//! error naming the key and where it is, never silently ignored. Values
//! are taken literally: Go templates (`{{ … }}`) are rejected.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use lettre::message::{Mailbox, Mailboxes};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_yaml::Value;

use super::matchers::{self, MatchOp, Matcher};
use crate::LabelSet;

/// An error in a notifier configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not YAML, or a value of the wrong type.
    #[error("invalid notifier configuration: {0}")]
    Yaml(#[from] serde_yaml::Error),
    /// A key Strata does not implement (or that Alertmanager does not
    /// know either).
    #[error("{path}: unsupported key `{key}` (supported here: {supported})")]
    UnsupportedKey {
        /// Where the key is, e.g. `receivers[0]`.
        path: String,
        /// The key.
        key: String,
        /// The keys supported at that place.
        supported: String,
    },
    /// A route names a receiver that is not defined.
    #[error("{path}: undefined receiver {receiver:?} used in route")]
    UndefinedReceiver {
        /// The route, e.g. `route.routes[1]`.
        path: String,
        /// The receiver name.
        receiver: String,
    },
    /// Any other invalid value.
    #[error("{path}: {message}")]
    Invalid {
        /// Where the value is.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Shorthand for [`ConfigError::Invalid`].
fn invalid(path: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_string(),
        message: message.into(),
    }
}

/// A parsed and validated notifier configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Global defaults.
    pub global: GlobalConfig,
    /// The root of the routing tree.
    pub route: Route,
    /// The receivers, by unique name.
    pub receivers: Vec<Receiver>,
}

/// The `global` section.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalConfig {
    /// Default SMTP server of email configs.
    pub smtp_smarthost: Option<SmartHost>,
    /// Default sender address of email configs.
    pub smtp_from: Option<String>,
    /// Default SMTP user name of email configs.
    pub smtp_auth_username: Option<String>,
    /// Default SMTP password of email configs.
    pub smtp_auth_password: Option<Secret>,
    /// Default of email configs' `require_tls`.
    pub smtp_require_tls: bool,
    /// Alertmanager's time after which an alert that was sent without an
    /// end time is declared resolved. Parsed for compatibility; Strata's
    /// evaluator always states resolution explicitly (see
    /// [`super::Alert::ends_at_ms`]), so the dispatcher does not apply it.
    pub resolve_timeout: Duration,
}

impl Default for GlobalConfig {
    fn default() -> Self {
        Self {
            smtp_smarthost: None,
            smtp_from: None,
            smtp_auth_username: None,
            smtp_auth_password: None,
            smtp_require_tls: true,
            resolve_timeout: Duration::from_secs(5 * 60),
        }
    }
}

/// A password: shown as `<secret>` by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// An SMTP server address, `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmartHost {
    /// Host name or IP address (without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl SmartHost {
    /// Parses `host:port` or `[v6]:port`; the port is required, as in
    /// Alertmanager.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("address {s:?}: missing port"))?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(format!("address {s:?}: missing host"));
        }
        let port = port
            .parse()
            .map_err(|_| format!("address {s:?}: invalid port {port:?}"))?;
        Ok(Self {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for SmartHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// How a route groups alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// `group_by: ['...']`: every distinct label set is its own group.
    All,
    /// The named labels (an empty set: one group for the route).
    Labels(BTreeSet<String>),
}

impl GroupBy {
    /// The group labels of an alert: its labels among the grouping ones
    /// (absent labels are left out).
    pub fn group_labels(&self, labels: &LabelSet) -> LabelSet {
        match self {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => labels
                .iter()
                .filter(|(k, _)| names.contains(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// A node of the routing tree, with its options resolved (inherited from
/// the parent when not set, Alertmanager's defaults at the root).
#[derive(Debug, Clone)]
pub struct Route {
    /// The receiver of alerts that end at this node.
    pub receiver: String,
    /// How alerts are grouped.
    pub group_by: GroupBy,
    /// How long a new group waits before its first notification.
    pub group_wait: Duration,
    /// How long a group waits between notifications about changes.
    pub group_interval: Duration,
    /// How long before an unchanged group is notified again.
    pub repeat_interval: Duration,
    /// What an alert must satisfy to enter this node, sorted as in
    /// Alertmanager (name, value, operator).
    pub matchers: Vec<Matcher>,
    /// Whether matching goes on with the next siblings after a match.
    pub continue_matching: bool,
    /// Child routes, in order.
    pub routes: Vec<Route>,
    id: String,
    key: String,
}

impl Route {
    /// Alertmanager's unique route identifier: the parent's, `/`, the
    /// matchers, `/`, the index among the siblings (`{}` for the root).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Alertmanager's route key, the prefix of group keys: the parent's
    /// key, `/`, the matchers (`{}` for the root). Not unique in general.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The routes an alert with these labels goes to: Alertmanager's
    /// depth-first, left-to-right search where a matching child stops the
    /// search among its siblings unless it has `continue`, and a node
    /// none of whose children match is itself the match. Empty when this
    /// node's matchers fail.
    pub fn matching(&self, labels: &LabelSet) -> Vec<&Route> {
        if !matchers::all_match(&self.matchers, labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in &self.routes {
            let found = child.matching(labels);
            let matched = !found.is_empty();
            all.extend(found);
            if matched && !child.continue_matching {
                break;
            }
        }
        if all.is_empty() {
            all.push(self);
        }
        all
    }

    /// The route with this [`Route::id`], in this subtree.
    pub fn find(&self, id: &str) -> Option<&Route> {
        if self.id == id {
            return Some(self);
        }
        self.routes.iter().find_map(|r| r.find(id))
    }

    /// Every node of the subtree, depth-first.
    pub fn walk(&self) -> Vec<&Route> {
        let mut out = vec![self];
        for child in &self.routes {
            out.extend(child.walk());
        }
        out
    }
}

/// A named set of integrations.
#[derive(Debug, Clone, PartialEq)]
pub struct Receiver {
    /// Unique name.
    pub name: String,
    /// Webhooks.
    pub webhook_configs: Vec<WebhookConfig>,
    /// Email recipients.
    pub email_configs: Vec<EmailConfig>,
}

/// The kind of an integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntegrationKind {
    /// A `webhook_configs` entry.
    Webhook,
    /// An `email_configs` entry.
    Email,
}

/// One integration of a receiver: its kind and index in the receiver's
/// list of that kind (Alertmanager's integration name and index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IntegrationId {
    /// Webhook or email.
    pub kind: IntegrationKind,
    /// Position in `webhook_configs` or `email_configs`.
    pub index: usize,
}

impl fmt::Display for IntegrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            IntegrationKind::Webhook => "webhook",
            IntegrationKind::Email => "email",
        };
        write!(f, "{kind}[{}]", self.index)
    }
}

impl Receiver {
    /// Every integration with its `send_resolved`, webhooks first.
    pub fn integrations(&self) -> Vec<(IntegrationId, bool)> {
        let webhooks = self.webhook_configs.iter().enumerate().map(|(index, c)| {
            let id = IntegrationId {
                kind: IntegrationKind::Webhook,
                index,
            };
            (id, c.send_resolved)
        });
        let emails = self.email_configs.iter().enumerate().map(|(index, c)| {
            let id = IntegrationId {
                kind: IntegrationKind::Email,
                index,
            };
            (id, c.send_resolved)
        });
        webhooks.chain(emails).collect()
    }

    /// The `send_resolved` of one integration, `None` if there is no such
    /// integration.
    pub fn send_resolved(&self, id: IntegrationId) -> Option<bool> {
        match id.kind {
            IntegrationKind::Webhook => self.webhook_configs.get(id.index).map(|c| c.send_resolved),
            IntegrationKind::Email => self.email_configs.get(id.index).map(|c| c.send_resolved),
        }
    }
}

/// A `webhook_configs` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    /// The URL posted to.
    pub url: String,
    /// Whether resolved alerts are sent (default true).
    pub send_resolved: bool,
    /// At most this many alerts per message; 0: no limit.
    pub max_alerts: u64,
    /// Timeout of one HTTP request; `None`: the deliverer's default.
    pub timeout: Option<Duration>,
}

/// An `email_configs` entry, with the global defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailConfig {
    /// Recipients, comma-separated addresses.
    pub to: String,
    /// Sender address.
    pub from: String,
    /// SMTP server.
    pub smarthost: SmartHost,
    /// SMTP user name; no authentication when `None`.
    pub auth_username: Option<String>,
    /// SMTP password.
    pub auth_password: Option<Secret>,
    /// Whether the connection must be encrypted: STARTTLS, or implicit
    /// TLS on port 465. When false, plain SMTP.
    pub require_tls: bool,
    /// Whether resolved alerts are sent (default false).
    pub send_resolved: bool,
    /// `headers: {Subject: …}`: a fixed subject instead of the default
    /// summary.
    pub subject: Option<String>,
}

const TOP_KEYS: &[&str] = &["global", "route", "receivers"];
const GLOBAL_KEYS: &[&str] = &[
    "smtp_smarthost",
    "smtp_from",
    "smtp_auth_username",
    "smtp_auth_password",
    "smtp_require_tls",
    "resolve_timeout",
];
const ROUTE_KEYS: &[&str] = &[
    "receiver",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "matchers",
    "match",
    "match_re",
    "continue",
    "routes",
];
const RECEIVER_KEYS: &[&str] = &["name", "webhook_configs", "email_configs"];
const WEBHOOK_KEYS: &[&str] = &["url", "send_resolved", "max_alerts", "timeout"];
const EMAIL_KEYS: &[&str] = &[
    "to",
    "from",
    "smarthost",
    "auth_username",
    "auth_password",
    "require_tls",
    "send_resolved",
    "headers",
];
const EMAIL_HEADER_KEYS: &[&str] = &["Subject"];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: RawGlobal,
    route: Option<RawRoute>,
    #[serde(default)]
    receivers: Vec<RawReceiver>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGlobal {
    smtp_smarthost: Option<String>,
    smtp_from: Option<String>,
    smtp_auth_username: Option<String>,
    smtp_auth_password: Option<String>,
    smtp_require_tls: Option<bool>,
    #[serde(default, deserialize_with = "opt_scalar")]
    resolve_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    receiver: Option<String>,
    group_by: Option<Vec<String>>,
    #[serde(default, deserialize_with = "opt_scalar")]
    group_wait: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar")]
    group_interval: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar")]
    repeat_interval: Option<String>,
    #[serde(default)]
    matchers: Vec<String>,
    #[serde(default, rename = "match", deserialize_with = "scalar_map")]
    match_eq: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "scalar_map")]
    match_re: BTreeMap<String, String>,
    #[serde(default, rename = "continue")]
    continue_matching: bool,
    #[serde(default)]
    routes: Vec<RawRoute>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReceiver {
    name: String,
    #[serde(default)]
    webhook_configs: Vec<RawWebhook>,
    #[serde(default)]
    email_configs: Vec<RawEmail>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    url: String,
    send_resolved: Option<bool>,
    max_alerts: Option<u64>,
    #[serde(default, deserialize_with = "opt_scalar")]
    timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    to: Option<String>,
    from: Option<String>,
    smarthost: Option<String>,
    auth_username: Option<String>,
    auth_password: Option<String>,
    require_tls: Option<bool>,
    send_resolved: Option<bool>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// A YAML scalar as text, as Go's YAML decoder gives a string field
/// (`repeat_interval: 0`, `match: {code: 500}`).
fn scalar_text<E: serde::de::Error>(value: Value) -> Result<String, E> {
    match value {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(E::custom(format!("expected a string, found {other:?}"))),
    }
}

/// An optional scalar as text.
fn opt_scalar<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<Value>::deserialize(d)?
        .filter(|v| !v.is_null())
        .map(scalar_text)
        .transpose()
}

/// A map of scalars as text.
fn scalar_map<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    BTreeMap::<String, Value>::deserialize(d)?
        .into_iter()
        .map(|(k, v)| Ok((k, scalar_text(v)?)))
        .collect()
}

impl Config {
    /// Parses and validates a configuration in Alertmanager's format.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let value: Value = serde_yaml::from_str(text)?;
        check_supported_keys(&value)?;
        let raw: RawConfig = serde_yaml::from_value(value)?;
        Self::from_raw(raw)
    }

    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&text)
    }

    /// The configuration behind the `--webhook URL` shortcut: one receiver
    /// `webhook` posting every alert to `url` (resolved ones too), every
    /// label set its own group (`group_by: ['...']`) so that each message
    /// is about one alert and goes out as soon as that alert changes,
    /// `group_wait` 0s, `group_interval` 2s, `repeat_interval` 4h.
    pub fn single_webhook(url: &str) -> Result<Self, ConfigError> {
        Self::from_raw(RawConfig {
            route: Some(shortcut_route("webhook")),
            receivers: vec![RawReceiver {
                name: "webhook".into(),
                webhook_configs: vec![RawWebhook {
                    url: url.to_string(),
                    ..RawWebhook::default()
                }],
                ..RawReceiver::default()
            }],
            ..RawConfig::default()
        })
    }

    /// The same shortcut for email: one receiver `email` mailing `to`
    /// (comma-separated) through `smarthost` (`host:port`) from `from`,
    /// with the timers and grouping of [`Config::single_webhook`] and
    /// Alertmanager's email default of not sending resolutions.
    pub fn single_email(
        to: &str,
        from: &str,
        smarthost: &str,
        require_tls: bool,
    ) -> Result<Self, ConfigError> {
        Self::from_raw(RawConfig {
            route: Some(shortcut_route("email")),
            receivers: vec![RawReceiver {
                name: "email".into(),
                email_configs: vec![RawEmail {
                    to: Some(to.to_string()),
                    from: Some(from.to_string()),
                    smarthost: Some(smarthost.to_string()),
                    require_tls: Some(require_tls),
                    ..RawEmail::default()
                }],
                ..RawReceiver::default()
            }],
            ..RawConfig::default()
        })
    }

    /// The receiver with this name.
    pub fn receiver(&self, name: &str) -> Option<&Receiver> {
        self.receivers.iter().find(|r| r.name == name)
    }

    /// Validates a raw configuration and compiles its routing tree.
    fn from_raw(raw: RawConfig) -> Result<Self, ConfigError> {
        let global = build_global(&raw.global)?;
        let mut names = HashSet::new();
        let mut receivers = Vec::with_capacity(raw.receivers.len());
        for (i, r) in raw.receivers.iter().enumerate() {
            let path = format!("receivers[{i}]");
            if r.name.is_empty() {
                return Err(invalid(&path, "missing name in receiver"));
            }
            if !names.insert(r.name.clone()) {
                return Err(invalid(
                    &path,
                    format!("notification config name {:?} is not unique", r.name),
                ));
            }
            receivers.push(build_receiver(r, &global, &path)?);
        }
        let raw_route = raw
            .route
            .as_ref()
            .ok_or_else(|| invalid("route", "no route provided in config"))?;
        let route = build_root(raw_route)?;
        check_receivers_defined(&route, &receivers, "route")?;
        Ok(Self {
            global,
            route,
            receivers,
        })
    }
}

/// The root route of the CLI shortcuts.
fn shortcut_route(receiver: &str) -> RawRoute {
    RawRoute {
        receiver: Some(receiver.to_string()),
        group_by: Some(vec!["...".into()]),
        group_wait: Some("0s".into()),
        group_interval: Some("2s".into()),
        repeat_interval: Some("4h".into()),
        ..RawRoute::default()
    }
}

/// Rejects keys outside the supported subset, naming the key and where
/// it is.
fn check_supported_keys(root: &Value) -> Result<(), ConfigError> {
    check_keys(root, "top level", TOP_KEYS)?;
    if let Some(global) = root.get("global") {
        check_keys(global, "global", GLOBAL_KEYS)?;
    }
    if let Some(route) = root.get("route") {
        check_route_keys(route, "route")?;
    }
    if let Some(Value::Sequence(receivers)) = root.get("receivers") {
        for (i, r) in receivers.iter().enumerate() {
            let path = format!("receivers[{i}]");
            check_keys(r, &path, RECEIVER_KEYS)?;
            check_list_keys(
                r.get("webhook_configs"),
                &format!("{path}.webhook_configs"),
                WEBHOOK_KEYS,
            )?;
            check_list_keys(
                r.get("email_configs"),
                &format!("{path}.email_configs"),
                EMAIL_KEYS,
            )?;
            if let Some(Value::Sequence(emails)) = r.get("email_configs") {
                for (j, e) in emails.iter().enumerate() {
                    if let Some(Value::Mapping(headers)) = e.get("headers") {
                        check_header_keys(headers, &format!("{path}.email_configs[{j}].headers"))?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Checks a route and its children.
fn check_route_keys(route: &Value, path: &str) -> Result<(), ConfigError> {
    check_keys(route, path, ROUTE_KEYS)?;
    if let Some(Value::Sequence(children)) = route.get("routes") {
        for (i, child) in children.iter().enumerate() {
            check_route_keys(child, &format!("{path}.routes[{i}]"))?;
        }
    }
    Ok(())
}

/// Checks every mapping of a list.
fn check_list_keys(list: Option<&Value>, path: &str, allowed: &[&str]) -> Result<(), ConfigError> {
    if let Some(Value::Sequence(items)) = list {
        for (i, item) in items.iter().enumerate() {
            check_keys(item, &format!("{path}[{i}]"), allowed)?;
        }
    }
    Ok(())
}

/// Checks the keys of one mapping (other values are left to the typed
/// parse, which reports wrong types).
fn check_keys(value: &Value, path: &str, allowed: &[&str]) -> Result<(), ConfigError> {
    let Value::Mapping(map) = value else {
        return Ok(());
    };
    for key in map.keys() {
        let name = match key {
            Value::String(s) => s.clone(),
            other => serde_yaml::to_string(other)
                .unwrap_or_default()
                .trim()
                .to_string(),
        };
        if !allowed.contains(&name.as_str()) {
            return Err(ConfigError::UnsupportedKey {
                path: path.to_string(),
                key: name,
                supported: allowed.join(", "),
            });
        }
    }
    Ok(())
}

/// Email header names are case-insensitive; only `Subject` is supported.
fn check_header_keys(headers: &serde_yaml::Mapping, path: &str) -> Result<(), ConfigError> {
    for key in headers.keys() {
        let name = key.as_str().unwrap_or_default();
        if !EMAIL_HEADER_KEYS
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
        {
            return Err(ConfigError::UnsupportedKey {
                path: path.to_string(),
                key: name.to_string(),
                supported: EMAIL_HEADER_KEYS.join(", "),
            });
        }
    }
    Ok(())
}

/// Validates the `global` section.
fn build_global(raw: &RawGlobal) -> Result<GlobalConfig, ConfigError> {
    let defaults = GlobalConfig::default();
    let smtp_smarthost = raw
        .smtp_smarthost
        .as_deref()
        .map(|s| SmartHost::parse(s).map_err(|e| invalid("global.smtp_smarthost", e)))
        .transpose()?;
    if let Some(from) = &raw.smtp_from {
        parse_mailbox(from, "global.smtp_from")?;
    }
    let resolve_timeout = match &raw.resolve_timeout {
        Some(s) => parse_duration(s).map_err(|e| invalid("global.resolve_timeout", e))?,
        None => defaults.resolve_timeout,
    };
    Ok(GlobalConfig {
        smtp_smarthost,
        smtp_from: raw.smtp_from.clone(),
        smtp_auth_username: raw.smtp_auth_username.clone(),
        smtp_auth_password: raw.smtp_auth_password.clone().map(Secret),
        smtp_require_tls: raw.smtp_require_tls.unwrap_or(defaults.smtp_require_tls),
        resolve_timeout,
    })
}

/// Validates one receiver, applying the global defaults.
fn build_receiver(
    raw: &RawReceiver,
    global: &GlobalConfig,
    path: &str,
) -> Result<Receiver, ConfigError> {
    let webhook_configs = raw
        .webhook_configs
        .iter()
        .enumerate()
        .map(|(i, w)| build_webhook(w, &format!("{path}.webhook_configs[{i}]")))
        .collect::<Result<_, _>>()?;
    let email_configs = raw
        .email_configs
        .iter()
        .enumerate()
        .map(|(i, e)| build_email(e, global, &format!("{path}.email_configs[{i}]")))
        .collect::<Result<_, _>>()?;
    Ok(Receiver {
        name: raw.name.clone(),
        webhook_configs,
        email_configs,
    })
}

/// Validates a webhook config: an absolute http(s) URL.
fn build_webhook(raw: &RawWebhook, path: &str) -> Result<WebhookConfig, ConfigError> {
    reject_template(&raw.url, &format!("{path}.url"))?;
    let url = reqwest::Url::parse(&raw.url).map_err(|e| {
        invalid(
            &format!("{path}.url"),
            format!("invalid URL {:?}: {e}", raw.url),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            &format!("{path}.url"),
            format!("unsupported scheme {:?}", url.scheme()),
        ));
    }
    let timeout = raw
        .timeout
        .as_deref()
        .map(|s| parse_duration(s).map_err(|e| invalid(&format!("{path}.timeout"), e)))
        .transpose()?
        .filter(|d| !d.is_zero());
    Ok(WebhookConfig {
        url: raw.url.clone(),
        send_resolved: raw.send_resolved.unwrap_or(true),
        max_alerts: raw.max_alerts.unwrap_or(0),
        timeout,
    })
}

/// Validates an email config, applying the global SMTP defaults.
fn build_email(
    raw: &RawEmail,
    global: &GlobalConfig,
    path: &str,
) -> Result<EmailConfig, ConfigError> {
    let to = raw
        .to
        .clone()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| invalid(path, "missing to address in email config"))?;
    reject_template(&to, &format!("{path}.to"))?;
    to.parse::<Mailboxes>().map_err(|e| {
        invalid(
            &format!("{path}.to"),
            format!("invalid address list {to:?}: {e}"),
        )
    })?;
    let from = raw
        .from
        .clone()
        .or_else(|| global.smtp_from.clone())
        .ok_or_else(|| invalid(path, "no global SMTP from set"))?;
    parse_mailbox(&from, &format!("{path}.from"))?;
    let smarthost = match &raw.smarthost {
        Some(s) => SmartHost::parse(s).map_err(|e| invalid(&format!("{path}.smarthost"), e))?,
        None => global
            .smtp_smarthost
            .clone()
            .ok_or_else(|| invalid(path, "no global SMTP smarthost set"))?,
    };
    let mut subject = None;
    for (name, value) in &raw.headers {
        // Only `Subject` passes the key check.
        reject_template(value, &format!("{path}.headers.{name}"))?;
        subject = Some(value.clone());
    }
    Ok(EmailConfig {
        to,
        from,
        smarthost,
        auth_username: raw
            .auth_username
            .clone()
            .or_else(|| global.smtp_auth_username.clone()),
        auth_password: raw
            .auth_password
            .clone()
            .map(Secret)
            .or_else(|| global.smtp_auth_password.clone()),
        require_tls: raw.require_tls.unwrap_or(global.smtp_require_tls),
        send_resolved: raw.send_resolved.unwrap_or(false),
        subject,
    })
}

/// Parses one address.
fn parse_mailbox(s: &str, path: &str) -> Result<Mailbox, ConfigError> {
    reject_template(s, path)?;
    s.parse::<Mailbox>()
        .map_err(|e| invalid(path, format!("invalid address {s:?}: {e}")))
}

/// Go templates are not supported: values are used literally.
fn reject_template(s: &str, path: &str) -> Result<(), ConfigError> {
    if s.contains("{{") {
        return Err(invalid(
            path,
            "templates are not supported; use a literal value",
        ));
    }
    Ok(())
}

/// The options a route hands down to its children.
struct Inherited {
    receiver: Option<String>,
    group_by: GroupBy,
    group_wait: Duration,
    group_interval: Duration,
    repeat_interval: Duration,
}

/// Compiles the root route: it needs a receiver and has no matchers nor
/// `continue`; Alertmanager's defaults apply to unset timers.
fn build_root(raw: &RawRoute) -> Result<Route, ConfigError> {
    if raw.receiver.as_deref().unwrap_or("").is_empty() {
        return Err(invalid(
            "route",
            "root route must specify a default receiver",
        ));
    }
    if !raw.matchers.is_empty() || !raw.match_eq.is_empty() || !raw.match_re.is_empty() {
        return Err(invalid("route", "root route must not have any matchers"));
    }
    if raw.continue_matching {
        return Err(invalid("route", "cannot have continue in root route"));
    }
    let defaults = Inherited {
        receiver: None,
        group_by: GroupBy::Labels(BTreeSet::new()),
        group_wait: Duration::from_secs(30),
        group_interval: Duration::from_secs(5 * 60),
        repeat_interval: Duration::from_secs(4 * 60 * 60),
    };
    build_route(raw, &defaults, None, "route")
}

/// Compiles a route below `parent` (`None` for the root) at `path`; the
/// parent's `(id, key)` and this route's index make its identifiers.
fn build_route(
    raw: &RawRoute,
    inherited: &Inherited,
    parent: Option<(&str, &str, usize)>,
    path: &str,
) -> Result<Route, ConfigError> {
    let group_by = match &raw.group_by {
        Some(names) => parse_group_by(names, &format!("{path}.group_by"))?,
        None => inherited.group_by.clone(),
    };
    let timer =
        |value: &Option<String>, name: &str, default: Duration| -> Result<Duration, ConfigError> {
            match value {
                Some(s) => parse_duration(s).map_err(|e| invalid(&format!("{path}.{name}"), e)),
                None => Ok(default),
            }
        };
    let group_wait = timer(&raw.group_wait, "group_wait", inherited.group_wait)?;
    let group_interval = timer(
        &raw.group_interval,
        "group_interval",
        inherited.group_interval,
    )?;
    let repeat_interval = timer(
        &raw.repeat_interval,
        "repeat_interval",
        inherited.repeat_interval,
    )?;
    if group_interval.is_zero() {
        return Err(invalid(path, "group_interval cannot be zero"));
    }
    if repeat_interval.is_zero() {
        return Err(invalid(path, "repeat_interval cannot be zero"));
    }
    let receiver = raw
        .receiver
        .clone()
        .filter(|r| !r.is_empty())
        .or_else(|| inherited.receiver.clone())
        .unwrap_or_default();
    let matchers = build_matchers(raw, path)?;
    let printed = matchers::format_matchers(&matchers);
    let (id, key) = match parent {
        None => (printed.clone(), printed),
        Some((pid, pkey, index)) => (
            format!("{pid}/{printed}/{index}"),
            format!("{pkey}/{printed}"),
        ),
    };
    let next = Inherited {
        receiver: Some(receiver.clone()),
        group_by: group_by.clone(),
        group_wait,
        group_interval,
        repeat_interval,
    };
    let routes = raw
        .routes
        .iter()
        .enumerate()
        .map(|(i, child)| {
            build_route(
                child,
                &next,
                Some((&id, &key, i)),
                &format!("{path}.routes[{i}]"),
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(Route {
        receiver,
        group_by,
        group_wait,
        group_interval,
        repeat_interval,
        matchers,
        continue_matching: raw.continue_matching,
        routes,
        id,
        key,
    })
}

/// The matchers of a route: legacy `match` and `match_re`, then
/// `matchers`, sorted as Alertmanager sorts them.
fn build_matchers(raw: &RawRoute, path: &str) -> Result<Vec<Matcher>, ConfigError> {
    let mut out = Vec::new();
    for (name, value) in &raw.match_eq {
        check_label_name(name, &format!("{path}.match"))?;
        out.push(
            Matcher::new(name, MatchOp::Equal, value)
                .map_err(|e| invalid(&format!("{path}.match"), e.to_string()))?,
        );
    }
    for (name, value) in &raw.match_re {
        check_label_name(name, &format!("{path}.match_re"))?;
        out.push(
            Matcher::new(name, MatchOp::Regex, value)
                .map_err(|e| invalid(&format!("{path}.match_re"), e.to_string()))?,
        );
    }
    for (i, text) in raw.matchers.iter().enumerate() {
        let parsed = matchers::parse_matchers(text)
            .map_err(|e| invalid(&format!("{path}.matchers[{i}]"), e.to_string()))?;
        out.extend(parsed);
    }
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    Ok(out)
}

/// Parses `group_by`: label names, or exactly `['...']`.
fn parse_group_by(names: &[String], path: &str) -> Result<GroupBy, ConfigError> {
    if names.iter().any(|n| n == "...") {
        if names.len() > 1 {
            return Err(invalid(
                path,
                "cannot have wildcard group_by (`...`) and other labels at the same time",
            ));
        }
        return Ok(GroupBy::All);
    }
    let mut set = BTreeSet::new();
    for name in names {
        check_label_name(name, path)?;
        if !set.insert(name.clone()) {
            return Err(invalid(
                path,
                format!("duplicated label {name:?} in group_by"),
            ));
        }
    }
    Ok(GroupBy::Labels(set))
}

/// Prometheus's label name syntax.
static LABEL_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[a-zA-Z_][a-zA-Z0-9_]*$").expect("static regex"));

/// Rejects names that are not valid label names.
fn check_label_name(name: &str, path: &str) -> Result<(), ConfigError> {
    if LABEL_NAME.is_match(name) {
        Ok(())
    } else {
        Err(invalid(path, format!("invalid label name {name:?}")))
    }
}

/// Every route's receiver must be defined.
fn check_receivers_defined(
    route: &Route,
    receivers: &[Receiver],
    path: &str,
) -> Result<(), ConfigError> {
    if !receivers.iter().any(|r| r.name == route.receiver) {
        return Err(ConfigError::UndefinedReceiver {
            path: path.to_string(),
            receiver: route.receiver.clone(),
        });
    }
    for (i, child) in route.routes.iter().enumerate() {
        check_receivers_defined(child, receivers, &format!("{path}.routes[{i}]"))?;
    }
    Ok(())
}

/// Prometheus's duration syntax.
static DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
        .expect("static regex")
});

/// Parses a duration in Prometheus's syntax (`model.ParseDuration`):
/// units `y` (365d), `w`, `d`, `h`, `m`, `s`, `ms` in that order, e.g.
/// `1h30m`; `0` alone is zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let caps = DURATION
        .captures(s)
        .filter(|_| !s.is_empty())
        .ok_or_else(|| format!("not a valid duration string: {s:?}"))?;
    const UNITS_MS: [u64; 7] = [
        365 * 86_400_000,
        7 * 86_400_000,
        86_400_000,
        3_600_000,
        60_000,
        1_000,
        1,
    ];
    let mut total: u64 = 0;
    for (i, unit) in UNITS_MS.iter().enumerate() {
        if let Some(m) = caps.get(i + 1) {
            let n: u64 = m
                .as_str()
                .parse()
                .map_err(|_| format!("duration out of range: {s:?}"))?;
            total = n
                .checked_mul(*unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| format!("duration out of range: {s:?}"))?;
        }
    }
    Ok(Duration::from_millis(total))
}

#[cfg(test)]
mod tests;
