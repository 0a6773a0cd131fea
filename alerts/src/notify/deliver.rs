//! Delivery of one [`Notification`] to every integration of its receiver,
//! with retries.
//!
//! Each integration is retried on its own, concurrently with the others,
//! with exponential backoff and jitter (`backon`; Alertmanager's defaults:
//! 500 ms initial delay, factor 1.5, at most 60 s) until it succeeds, a
//! permanent error occurs, or the total retry time runs out. Retried:
//! timeouts, connection and other transport errors, HTTP 5xx and 429,
//! transient SMTP errors. Not retried: other HTTP statuses (the error
//! carries the status and the start of the body), permanent SMTP errors
//! (5xx replies), invalid messages. Every failed attempt is logged at
//! `warn`. Webhook posts carry the notification id as `Idempotency-Key`.
//!
//! The total retry time is the caller's [`DeliverOptions::max_retry_time`],
//! capped at the notification's `group_interval` as Alertmanager caps it:
//! by then the group's next flush has produced the notification again.
//! The caller acknowledges the result to the dispatcher: all integrations
//! ([`super::Dispatcher::delivered`]) on `Ok`, the ones in
//! [`DeliveryError::acknowledged`] ([`super::Dispatcher::delivered_to`]) on
//! `Err`.
//!
//! [`Deliverer`] bundles an HTTP client with the options, and also posts
//! to an external Alertmanager with the same retries
//! ([`Deliverer::post_alertmanager`]).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use tokio::time::Instant;

use super::alertmanager::AlertmanagerClient;
use super::config::{IntegrationId, IntegrationKind, Receiver};
use super::dispatch::Notification;
use super::{Alert, email, webhook};

/// Why one send attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The server answered with a status other than 2xx.
    #[error("HTTP status {status}: {body}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The attempt (or the whole delivery) ran out of time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The connection could not be established.
    #[error("connection failed: {0}")]
    Connect(String),
    /// Another transport error.
    #[error("request failed: {0}")]
    Transport(String),
    /// The SMTP server or the SMTP client reported an error.
    #[error("SMTP: {message}")]
    Smtp {
        /// What went wrong.
        message: String,
        /// A permanent (5xx) reply: retrying will not help.
        permanent: bool,
    },
    /// The message or the target is invalid: retrying will not help.
    #[error("invalid: {0}")]
    Invalid(String),
}

impl SendError {
    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            SendError::Status { status, .. } => *status == 429 || (500..600).contains(status),
            SendError::Timeout(_) | SendError::Connect(_) | SendError::Transport(_) => true,
            SendError::Smtp { permanent, .. } => !permanent,
            SendError::Invalid(_) => false,
        }
    }
}

/// An error and its sources, `: `-separated.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

/// Classifies a `reqwest` error.
pub(crate) fn reqwest_error(error: reqwest::Error) -> SendError {
    let (timeout, connect, builder) = (error.is_timeout(), error.is_connect(), error.is_builder());
    let text = error_chain(&error.without_url());
    if timeout {
        SendError::Timeout(text)
    } else if connect {
        SendError::Connect(text)
    } else if builder {
        SendError::Invalid(text)
    } else {
        SendError::Transport(text)
    }
}

/// Bytes of a failed response's body kept in the error.
const BODY_EXCERPT_BYTES: usize = 512;

/// The error for a non-2xx response: its status and the start of its
/// body (at most [`BODY_EXCERPT_BYTES`] read).
pub(crate) async fn response_error(mut response: reqwest::Response) -> SendError {
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while body.len() < BODY_EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    body.truncate(BODY_EXCERPT_BYTES);
    let body = String::from_utf8_lossy(&body).trim().to_string();
    SendError::Status { status, body }
}

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct DeliverOptions {
    /// The `externalURL` of webhook payloads and the link in emails.
    pub external_url: String,
    /// Bound of the whole delivery of one integration, attempts and
    /// waits included (further capped at the notification's
    /// `group_interval`).
    pub max_retry_time: Duration,
    /// First delay between attempts.
    pub min_backoff: Duration,
    /// Largest delay between attempts.
    pub max_backoff: Duration,
    /// Timeout of one attempt when the integration sets none.
    pub attempt_timeout: Duration,
}

impl Default for DeliverOptions {
    fn default() -> Self {
        Self {
            external_url: String::new(),
            max_retry_time: Duration::from_secs(5 * 60),
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

/// A delivery that did not fully succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// Some integrations of the receiver did not accept the notification.
    Integrations {
        /// The notification.
        notification_id: String,
        /// Its receiver.
        receiver: String,
        /// The integrations that accepted it.
        acknowledged: Vec<IntegrationId>,
        /// The integrations that did not, with their last error.
        failed: Vec<(IntegrationId, SendError)>,
    },
    /// A single target (an external Alertmanager) failed, or the delivery
    /// could not be attempted.
    Send(SendError),
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryError::Integrations {
                notification_id,
                receiver,
                failed,
                ..
            } => {
                write!(
                    f,
                    "notification {notification_id} to receiver {receiver:?} failed"
                )?;
                for (integration, error) in failed {
                    write!(f, "; {integration}: {error}")?;
                }
                Ok(())
            }
            DeliveryError::Send(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DeliveryError {}

impl DeliveryError {
    /// An error that retrying will not fix, e.g. a missing receiver.
    pub fn permanent(message: impl Into<String>) -> Self {
        DeliveryError::Send(SendError::Invalid(message.into()))
    }

    /// The integrations that accepted the notification despite the error
    /// (for [`super::Dispatcher::delivered_to`]).
    pub fn acknowledged(&self) -> &[IntegrationId] {
        match self {
            DeliveryError::Integrations { acknowledged, .. } => acknowledged,
            DeliveryError::Send(_) => &[],
        }
    }

    /// Whether any failure was permanent (not worth resending as is).
    pub fn is_permanent(&self) -> bool {
        match self {
            DeliveryError::Integrations { failed, .. } => {
                failed.iter().any(|(_, e)| !e.is_retryable())
            }
            DeliveryError::Send(e) => !e.is_retryable(),
        }
    }
}

/// Sends a notification to each of its integrations of `receiver` (the
/// one it names), retrying as described in the module documentation.
/// `Ok` when every integration accepted it.
pub async fn deliver(
    http: &reqwest::Client,
    receiver: &Receiver,
    notification: &Notification,
    options: &DeliverOptions,
) -> Result<(), DeliveryError> {
    let mut budget = options.max_retry_time;
    if let Ok(interval) = u64::try_from(notification.group_interval_ms)
        && interval > 0
    {
        budget = budget.min(Duration::from_millis(interval));
    }
    let deadline = Instant::now() + budget;
    let sends = notification
        .integrations
        .iter()
        .map(|&integration| async move {
            let result =
                send_integration(http, receiver, integration, notification, options, deadline)
                    .await;
            (integration, result)
        });
    let results = futures::future::join_all(sends).await;
    let mut acknowledged = Vec::new();
    let mut failed = Vec::new();
    for (integration, result) in results {
        match result {
            Ok(()) => acknowledged.push(integration),
            Err(e) => {
                tracing::warn!(
                    notification = %notification.id,
                    receiver = %notification.receiver,
                    %integration,
                    error = %e,
                    "notification not delivered"
                );
                failed.push((integration, e));
            }
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(DeliveryError::Integrations {
        notification_id: notification.id.clone(),
        receiver: notification.receiver.clone(),
        acknowledged,
        failed,
    })
}

/// A reusable deliverer: an HTTP client and the retry settings.
#[derive(Debug, Clone)]
pub struct Deliverer {
    http: reqwest::Client,
    options: DeliverOptions,
}

impl Deliverer {
    /// Default settings with this bound on the retry time of one
    /// delivery.
    pub fn new(max_retry_time: Duration) -> Self {
        Self::with_options(
            reqwest::Client::new(),
            DeliverOptions {
                max_retry_time,
                ..DeliverOptions::default()
            },
        )
    }

    /// A deliverer with its own HTTP client and settings.
    pub fn with_options(http: reqwest::Client, options: DeliverOptions) -> Self {
        Self { http, options }
    }

    /// The settings.
    pub fn options(&self) -> &DeliverOptions {
        &self.options
    }

    /// [`deliver`] with these settings and this external URL.
    pub async fn deliver(
        &self,
        receiver: &Receiver,
        notification: &Notification,
        external_url: &str,
    ) -> Result<(), DeliveryError> {
        let options = DeliverOptions {
            external_url: external_url.to_string(),
            ..self.options.clone()
        };
        deliver(&self.http, receiver, notification, &options).await
    }

    /// Posts alerts to an external Alertmanager with the same retries as
    /// notifications; firing alerts are valid for `validity` from now.
    pub async fn post_alertmanager(
        &self,
        client: &AlertmanagerClient,
        alerts: &[Alert],
        validity: Duration,
    ) -> Result<(), DeliveryError> {
        let ctx = AttemptContext {
            what: format!("alertmanager {}", client.endpoint()),
            options: &self.options,
            deadline: Instant::now() + self.options.max_retry_time,
        };
        ctx.retry(|_| client.post(alerts, wall_clock_ms(), validity))
            .await
            .map_err(DeliveryError::Send)
    }
}

/// The wall clock in Unix milliseconds (posting to an Alertmanager states
/// validity in real time).
fn wall_clock_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// Sends to one integration, with retries.
async fn send_integration(
    http: &reqwest::Client,
    receiver: &Receiver,
    integration: IntegrationId,
    notification: &Notification,
    options: &DeliverOptions,
    deadline: Instant,
) -> Result<(), SendError> {
    let ctx = AttemptContext {
        what: format!(
            "notification {} ({}) to {}/{integration}",
            notification.id, notification.group_key, notification.receiver
        ),
        options,
        deadline,
    };
    match integration.kind {
        IntegrationKind::Webhook => {
            let config = receiver
                .webhook_configs
                .get(integration.index)
                .ok_or_else(|| SendError::Invalid(format!("receiver has no {integration}")))?;
            let message = webhook::message(notification, config, &options.external_url);
            let timeout = config.timeout.unwrap_or(options.attempt_timeout);
            ctx.retry(|remaining| {
                webhook::post(
                    http,
                    &config.url,
                    &notification.id,
                    &message,
                    timeout.min(remaining),
                )
            })
            .await
        }
        IntegrationKind::Email => {
            let config = receiver
                .email_configs
                .get(integration.index)
                .ok_or_else(|| SendError::Invalid(format!("receiver has no {integration}")))?;
            let alerts = notification.alerts_for(config.send_resolved);
            if alerts.is_empty() {
                // Nothing to tell (the dispatcher does not target such an
                // integration); Alertmanager counts this as success.
                return Ok(());
            }
            let message = email::message(config, notification, &alerts, &options.external_url)?;
            ctx.retry(|remaining| {
                email::send(
                    config,
                    message.clone(),
                    options.attempt_timeout.min(remaining),
                )
            })
            .await
        }
    }
}

/// What the attempts of one delivery share.
struct AttemptContext<'a> {
    /// What is sent where, for logs.
    what: String,
    options: &'a DeliverOptions,
    deadline: Instant,
}

impl AttemptContext<'_> {
    /// Runs `attempt` (given the time left) until it succeeds, fails
    /// permanently, or the deadline leaves no room for another wait.
    async fn retry<F, Fut>(&self, mut attempt: F) -> Result<(), SendError>
    where
        F: FnMut(Duration) -> Fut,
        Fut: Future<Output = Result<(), SendError>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.options.min_backoff)
            .with_max_delay(self.options.max_backoff)
            .with_factor(1.5)
            .with_jitter()
            .without_max_times();
        let counter = std::sync::atomic::AtomicU32::new(0);
        let deadline = self.deadline;
        let once = || {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let fut = attempt(remaining);
            let number = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            async move {
                let result = match tokio::time::timeout(remaining, fut).await {
                    Ok(result) => result,
                    Err(_) => Err(SendError::Timeout("delivery retry time exhausted".into())),
                };
                if let Err(e) = &result {
                    self.log_failure(number, e);
                }
                result
            }
        };
        once.retry(backoff)
            .sleep(tokio::time::sleep)
            .when(SendError::is_retryable)
            .adjust(move |_, delay| delay.filter(|d| Instant::now() + *d < deadline))
            .await
    }

    /// Logs a failed attempt.
    fn log_failure(&self, attempt: u32, error: &SendError) {
        tracing::warn!(
            delivery = %self.what,
            attempt,
            retryable = error.is_retryable(),
            error = %error,
            "delivery attempt failed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_errors_are_retried() {
        let status = |status: u16| SendError::Status {
            status,
            body: String::new(),
        };
        assert!(status(500).is_retryable());
        assert!(status(503).is_retryable());
        assert!(status(429).is_retryable());
        assert!(!status(400).is_retryable());
        assert!(!status(404).is_retryable());
        assert!(!status(301).is_retryable());
        assert!(SendError::Timeout(String::new()).is_retryable());
        assert!(SendError::Connect(String::new()).is_retryable());
        assert!(SendError::Transport(String::new()).is_retryable());
        assert!(!SendError::Invalid(String::new()).is_retryable());
        let smtp = |permanent| SendError::Smtp {
            message: String::new(),
            permanent,
        };
        assert!(smtp(false).is_retryable());
        assert!(!smtp(true).is_retryable());
    }

    #[test]
    fn errors_say_what_failed() {
        let e = DeliveryError::Integrations {
            notification_id: "abc".into(),
            receiver: "team".into(),
            acknowledged: vec![],
            failed: vec![(
                IntegrationId {
                    kind: IntegrationKind::Webhook,
                    index: 1,
                },
                SendError::Status {
                    status: 400,
                    body: "bad payload".into(),
                },
            )],
        };
        assert_eq!(
            e.to_string(),
            r#"notification abc to receiver "team" failed; webhook[1]: HTTP status 400: bad payload"#
        );
        assert!(e.is_permanent());
        assert!(DeliveryError::permanent("no receiver").is_permanent());
        assert_eq!(
            DeliveryError::permanent("no receiver").to_string(),
            "invalid: no receiver"
        );
    }
}
