//! Alertmanager's webhook payload, version 4, and one POST of it.
//!
//! ```json
//! {"version":"4","groupKey":"{}:{alertname=\"X\"}","truncatedAlerts":0,
//!  "status":"firing","receiver":"team-x","groupLabels":{…},
//!  "commonLabels":{…},"commonAnnotations":{…},"externalURL":"…",
//!  "alerts":[{"status":"firing","labels":{…},"annotations":{…},
//!             "startsAt":"2024-05-01T12:00:00Z","endsAt":"0001-01-01T00:00:00Z",
//!             "generatorURL":"…","fingerprint":"1a2b3c4d5e6f7a8b"}]}
//! ```
//!
//! As in Alertmanager (`notify/webhook/webhook.go`, `template.Data`): the
//! alerts are truncated to `max_alerts` first and everything else —
//! status, common labels and annotations — describes the alerts sent; the
//! receiver name is regex-quoted (`regexp.QuoteMeta`); firing alerts carry
//! Go's zero time as `endsAt`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::WebhookConfig;
use super::deliver::{SendError, reqwest_error, response_error};
use super::dispatch::{Notification, status_of};
use super::{Alert, ZERO_TIME, rfc3339_ms};

/// The header carrying the notification id, so that a receiver can drop
/// a retry of a message it already accepted.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// The webhook message (version 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Always `"4"`.
    pub version: String,
    /// The group key.
    #[serde(rename = "groupKey")]
    pub group_key: String,
    /// How many alerts `max_alerts` left out.
    #[serde(rename = "truncatedAlerts")]
    pub truncated_alerts: u64,
    /// `firing` if any alert sent is firing, else `resolved`.
    pub status: String,
    /// The receiver name, regex-quoted.
    pub receiver: String,
    /// The group's labels.
    #[serde(rename = "groupLabels")]
    pub group_labels: BTreeMap<String, String>,
    /// Labels all alerts sent share.
    #[serde(rename = "commonLabels")]
    pub common_labels: BTreeMap<String, String>,
    /// Annotations all alerts sent share.
    #[serde(rename = "commonAnnotations")]
    pub common_annotations: BTreeMap<String, String>,
    /// The URL of the sender.
    #[serde(rename = "externalURL")]
    pub external_url: String,
    /// The alerts.
    pub alerts: Vec<MessageAlert>,
}

/// One alert of a webhook message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAlert {
    /// `firing` or `resolved`.
    pub status: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339 start time.
    #[serde(rename = "startsAt")]
    pub starts_at: String,
    /// RFC 3339 end time; `0001-01-01T00:00:00Z` while firing.
    #[serde(rename = "endsAt")]
    pub ends_at: String,
    /// Link to the source.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// 16 hex digits.
    pub fingerprint: String,
}

/// The message an integration with this config is sent for a
/// notification.
pub fn message(notification: &Notification, config: &WebhookConfig, external_url: &str) -> Message {
    let mut alerts = notification.alerts_for(config.send_resolved);
    let limit = usize::try_from(config.max_alerts).unwrap_or(usize::MAX);
    let truncated = if config.max_alerts > 0 && alerts.len() > limit {
        let dropped = alerts.len() - limit;
        alerts.truncate(limit);
        dropped as u64
    } else {
        0
    };
    Message {
        version: "4".into(),
        group_key: notification.group_key.clone(),
        truncated_alerts: truncated,
        status: status_of(&alerts).as_str().into(),
        receiver: quote_meta(&notification.receiver),
        group_labels: notification.group_labels.clone(),
        common_labels: common(alerts.iter().map(|a| &a.labels)),
        common_annotations: common(alerts.iter().map(|a| &a.annotations)),
        external_url: external_url.to_string(),
        alerts: alerts.iter().map(message_alert).collect(),
    }
}

/// One alert in the payload's form.
fn message_alert(alert: &Alert) -> MessageAlert {
    MessageAlert {
        status: alert.status().as_str().into(),
        labels: alert.labels.clone(),
        annotations: alert.annotations.clone(),
        starts_at: rfc3339_ms(alert.starts_at_ms),
        ends_at: alert
            .ends_at_ms
            .map_or_else(|| ZERO_TIME.to_string(), rfc3339_ms),
        generator_url: alert.generator_url.clone(),
        fingerprint: alert.fingerprint_hex(),
    }
}

/// The pairs every map has (empty for no maps).
pub(crate) fn common<'a>(
    mut maps: impl Iterator<Item = &'a BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let Some(first) = maps.next() else {
        return BTreeMap::new();
    };
    let mut common = first.clone();
    for map in maps {
        common.retain(|k, v| map.get(k) == Some(v));
    }
    common
}

/// Go's `regexp.QuoteMeta`: backslash before `\.+*?()|[]{}^$`.
pub fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Posts a message once: success on 2xx; an error carrying the status and
/// the start of the body otherwise (retryable for 5xx and 429). Sends the
/// `Idempotency-Key` header.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    idempotency_key: &str,
    message: &Message,
    timeout: Duration,
) -> Result<(), SendError> {
    let response = client
        .post(url)
        .timeout(timeout)
        .header(
            reqwest::header::USER_AGENT,
            concat!("strata/", env!("CARGO_PKG_VERSION")),
        )
        .header(IDEMPOTENCY_KEY_HEADER, idempotency_key)
        .json(message)
        .send()
        .await
        .map_err(reqwest_error)?;
    if response.status().is_success() {
        return Ok(());
    }
    Err(response_error(response).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::config::{IntegrationId, IntegrationKind};

    use crate::label_set as ls;

    fn notification() -> Notification {
        let firing = Alert {
            labels: ls(&[
                ("alertname", "HighLatency"),
                ("instance", "a:9090"),
                ("severity", "page"),
            ]),
            annotations: ls(&[("summary", "p99 > 1s"), ("runbook", "http://wiki/latency")]),
            starts_at_ms: 1_714_564_800_000,
            ends_at_ms: None,
            generator_url: "http://strata/graph?g0.expr=x".into(),
        };
        let resolved = Alert {
            labels: ls(&[
                ("alertname", "HighLatency"),
                ("instance", "b:9090"),
                ("severity", "page"),
            ]),
            annotations: ls(&[("summary", "p99 > 2s"), ("runbook", "http://wiki/latency")]),
            starts_at_ms: 1_714_564_740_500,
            ends_at_ms: Some(1_714_564_830_250),
            generator_url: "http://strata/graph?g0.expr=y".into(),
        };
        Notification {
            id: "00000000000000000000000000000001".into(),
            receiver: "team.x".into(),
            group_key: r#"{}:{alertname="HighLatency"}"#.into(),
            group_labels: ls(&[("alertname", "HighLatency")]),
            alerts: vec![firing, resolved],
            integrations: vec![IntegrationId {
                kind: IntegrationKind::Webhook,
                index: 0,
            }],
            flushed_at_ms: 1_714_564_860_000,
            group_interval_ms: 300_000,
        }
    }

    fn config(send_resolved: bool, max_alerts: u64) -> WebhookConfig {
        WebhookConfig {
            url: "http://127.0.0.1:1/hook".into(),
            send_resolved,
            max_alerts,
            timeout: None,
        }
    }

    #[test]
    fn golden_version_4_payload() {
        let msg = message(&notification(), &config(true, 0), "http://strata:9093");
        let json = serde_json::to_string(&msg).unwrap();
        // Fingerprints computed independently (FNV-1a 64 in Python).
        let (fp_a, fp_b) = ("53979f064692b6b8", "7cfc28d26262c8bd");
        let expected = format!(
            concat!(
                r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"HighLatency\"}}","truncatedAlerts":0,"#,
                r#""status":"firing","receiver":"team\\.x","groupLabels":{{"alertname":"HighLatency"}},"#,
                r#""commonLabels":{{"alertname":"HighLatency","severity":"page"}},"#,
                r#""commonAnnotations":{{"runbook":"http://wiki/latency"}},"externalURL":"http://strata:9093","#,
                r#""alerts":[{{"status":"firing","labels":{{"alertname":"HighLatency","instance":"a:9090","severity":"page"}},"#,
                r#""annotations":{{"runbook":"http://wiki/latency","summary":"p99 > 1s"}},"startsAt":"2024-05-01T12:00:00Z","#,
                r#""endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://strata/graph?g0.expr=x","fingerprint":"{}"}},"#,
                r#"{{"status":"resolved","labels":{{"alertname":"HighLatency","instance":"b:9090","severity":"page"}},"#,
                r#""annotations":{{"runbook":"http://wiki/latency","summary":"p99 > 2s"}},"startsAt":"2024-05-01T11:59:00.5Z","#,
                r#""endsAt":"2024-05-01T12:00:30.25Z","generatorURL":"http://strata/graph?g0.expr=y","fingerprint":"{}"}}]}}"#
            ),
            fp_a, fp_b
        );
        assert_eq!(json, expected);
        let back: Message = serde_json::from_str(&json).unwrap();
        assert_eq!(back, msg);
    }

    fn msg_fp(pairs: &[(&str, &str)]) -> u64 {
        crate::notify::label_set_fingerprint(&ls(pairs))
    }

    #[test]
    fn fingerprints_are_alertmanagers() {
        // Cross-checked against the FNV-1a definition, not just our own
        // function: a one-label set hashes name, 0xff, value, 0xff.
        let mut h: u64 = 14_695_981_039_346_656_037;
        for b in b"alertname\xffX\xff" {
            h ^= u64::from(*b);
            h = h.wrapping_mul(1_099_511_628_211);
        }
        assert_eq!(msg_fp(&[("alertname", "X")]), h);
    }

    #[test]
    fn without_send_resolved_only_firing_alerts_go_out() {
        let msg = message(&notification(), &config(false, 0), "");
        assert_eq!(msg.alerts.len(), 1);
        assert_eq!(msg.status, "firing");
        assert_eq!(
            msg.common_annotations.get("summary").map(String::as_str),
            Some("p99 > 1s")
        );
        assert_eq!(
            msg.common_labels.get("instance").map(String::as_str),
            Some("a:9090")
        );
    }

    #[test]
    fn max_alerts_truncates_before_summarising() {
        let msg = message(&notification(), &config(true, 1), "");
        assert_eq!(msg.truncated_alerts, 1);
        assert_eq!(msg.alerts.len(), 1);
        assert_eq!(
            msg.common_labels.get("instance").map(String::as_str),
            Some("a:9090")
        );
        let all_resolved = Notification {
            alerts: vec![notification().alerts[1].clone()],
            ..notification()
        };
        assert_eq!(
            message(&all_resolved, &config(true, 0), "").status,
            "resolved"
        );
    }

    #[test]
    fn receiver_names_are_regex_quoted() {
        assert_eq!(quote_meta("team-x"), "team-x");
        assert_eq!(
            quote_meta("a.b+c(d)[e]{f}^$|?*\\"),
            r"a\.b\+c\(d\)\[e\]\{f\}\^\$\|\?\*\\"
        );
    }
}
