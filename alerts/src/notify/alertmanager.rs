//! Posting alerts to an external Alertmanager, the way Prometheus does
//! (`notifier/notifier.go`): `POST {url}/api/v2/alerts` with a JSON list
//! of `{labels, annotations, startsAt, endsAt, generatorURL}`.
//!
//! A firing alert is sent with `endsAt` = now + a validity horizon chosen
//! by the caller (Prometheus uses four times the larger of the evaluation
//! interval and the resend delay): if the sender stops re-sending it, the
//! Alertmanager resolves it by itself then. A resolved alert is sent with
//! its resolution time. Like Prometheus, one post is one attempt: the
//! caller re-sends on its next cycle.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::deliver::{SendError, reqwest_error, response_error};
use super::{Alert, rfc3339_ms};

/// One alert in the Alertmanager API v2 format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostableAlert {
    /// Identifying labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// RFC 3339 start.
    #[serde(rename = "startsAt")]
    pub starts_at: String,
    /// RFC 3339 end: the resolution time, or now + validity while firing.
    #[serde(rename = "endsAt")]
    pub ends_at: String,
    /// Link to the source.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
}

/// The API form of alerts at `now_ms`.
pub fn postable_alerts(alerts: &[Alert], now_ms: i64, validity: Duration) -> Vec<PostableAlert> {
    let validity_ms = i64::try_from(validity.as_millis()).unwrap_or(i64::MAX);
    alerts
        .iter()
        .map(|a| PostableAlert {
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            starts_at: rfc3339_ms(a.starts_at_ms),
            ends_at: rfc3339_ms(
                a.ends_at_ms
                    .unwrap_or_else(|| now_ms.saturating_add(validity_ms)),
            ),
            generator_url: a.generator_url.clone(),
        })
        .collect()
}

/// A client of one Alertmanager.
#[derive(Debug, Clone)]
pub struct AlertmanagerClient {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
}

impl AlertmanagerClient {
    /// A client of the Alertmanager at `base_url` (e.g.
    /// `http://alertmanager:9093`, a path prefix allowed), with a 10 s
    /// request timeout as Prometheus's default. An invalid URL is reported
    /// by [`AlertmanagerClient::validate`] and by every post.
    pub fn new(base_url: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base_url: base_url.to_string(),
            timeout: Duration::from_secs(10),
        }
    }

    /// The same client using this HTTP client.
    pub fn with_http(mut self, http: reqwest::Client) -> Self {
        self.http = http;
        self
    }

    /// The same client with another request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The URL posted to: `{base_url}/api/v2/alerts`.
    pub fn endpoint(&self) -> String {
        format!("{}/api/v2/alerts", self.base_url.trim_end_matches('/'))
    }

    /// Checks that the base URL is an absolute http(s) URL.
    pub fn validate(&self) -> Result<(), SendError> {
        let url = reqwest::Url::parse(&self.base_url).map_err(|e| {
            SendError::Invalid(format!("Alertmanager URL {:?}: {e}", self.base_url))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SendError::Invalid(format!(
                "Alertmanager URL {:?}: not http(s)",
                self.base_url
            )));
        }
        Ok(())
    }

    /// Posts alerts once (nothing is sent for an empty list). Errors carry
    /// the HTTP status and the start of the body, or the transport error.
    pub async fn post(
        &self,
        alerts: &[Alert],
        now_ms: i64,
        validity: Duration,
    ) -> Result<(), SendError> {
        self.validate()?;
        if alerts.is_empty() {
            return Ok(());
        }
        let body = postable_alerts(alerts, now_ms, validity);
        let response = self
            .http
            .post(self.endpoint())
            .timeout(self.timeout)
            .header(
                reqwest::header::USER_AGENT,
                concat!("strata/", env!("CARGO_PKG_VERSION")),
            )
            .json(&body)
            .send()
            .await
            .map_err(reqwest_error)?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(response_error(response).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firing_alerts_end_after_the_validity_horizon() {
        let labels: BTreeMap<String, String> = [("alertname".to_string(), "X".to_string())].into();
        let firing = Alert {
            labels: labels.clone(),
            annotations: BTreeMap::new(),
            starts_at_ms: 1_714_564_800_000,
            ends_at_ms: None,
            generator_url: "http://strata/g".into(),
        };
        let resolved = Alert {
            ends_at_ms: Some(1_714_564_830_000),
            ..firing.clone()
        };
        let body = postable_alerts(
            &[firing, resolved],
            1_714_564_860_000,
            Duration::from_secs(240),
        );
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"[{"labels":{"alertname":"X"},"annotations":{},"startsAt":"2024-05-01T12:00:00Z","#,
                r#""endsAt":"2024-05-01T12:05:00Z","generatorURL":"http://strata/g"},"#,
                r#"{"labels":{"alertname":"X"},"annotations":{},"startsAt":"2024-05-01T12:00:00Z","#,
                r#""endsAt":"2024-05-01T12:00:30Z","generatorURL":"http://strata/g"}]"#
            )
        );
    }

    #[test]
    fn endpoint_is_the_v2_api() {
        let c = AlertmanagerClient::new("http://am:9093/");
        assert_eq!(c.endpoint(), "http://am:9093/api/v2/alerts");
        assert!(c.validate().is_ok());
        let c = AlertmanagerClient::new("http://am:9093/prefix");
        assert_eq!(c.endpoint(), "http://am:9093/prefix/api/v2/alerts");
        assert!(AlertmanagerClient::new("am:9093").validate().is_err());
        assert!(AlertmanagerClient::new("").validate().is_err());
    }
}
