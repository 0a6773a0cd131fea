//! Email notifications over SMTP (`lettre`, tokio transport).
//!
//! The subject is Alertmanager's default (`__subject` in
//! `template/default.tmpl`): `[FIRING:2] <group label values>
//! (<other common label values>)`, or `[RESOLVED] …`; a `Subject` header in
//! the config replaces it. The body is plain text: a summary line, then
//! each firing and each resolved alert with its labels, annotations and
//! source, like Alertmanager's `__text_alert_list`.
//!
//! Connection security follows Alertmanager: with `require_tls`, port 465
//! uses implicit TLS and any other port requires STARTTLS (a server that
//! does not offer it is an error); without `require_tls`, plain SMTP.
//! Credentials are used when `auth_username` is set. The `Message-ID` is
//! derived from the notification id, so that retries are recognisably the
//! same message.

use std::fmt::Write as _;
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Mailboxes};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::config::EmailConfig;
use super::deliver::{SendError, error_chain};
use super::dispatch::{Notification, status_of};
use super::webhook::common;
use super::{Alert, AlertStatus, format_label_set, rfc3339_ms};

/// Alertmanager's default subject for these alerts (the ones the
/// integration is sent): status, firing count, the group label values and,
/// in parentheses, the values of the other labels all alerts share; names
/// sorted.
pub fn subject(notification: &Notification, alerts: &[Alert]) -> String {
    let status = status_of(alerts);
    let mut out = format!("[{}", status.as_str().to_uppercase());
    if status == AlertStatus::Firing {
        let firing = alerts
            .iter()
            .filter(|a| a.status() == AlertStatus::Firing)
            .count();
        let _ = write!(out, ":{firing}");
    }
    out.push_str("] ");
    let group_values: Vec<&str> = notification
        .group_labels
        .values()
        .map(String::as_str)
        .collect();
    out.push_str(&group_values.join(" "));
    let common_labels = common(alerts.iter().map(|a| &a.labels));
    if common_labels.len() > notification.group_labels.len() {
        let rest: Vec<&str> = common_labels
            .iter()
            .filter(|(k, _)| !notification.group_labels.contains_key(*k))
            .map(|(_, v)| v.as_str())
            .collect();
        let _ = write!(out, " ({})", rest.join(" "));
    }
    out.trim_end().to_string()
}

/// The plain-text body: a summary, then the firing and the resolved
/// alerts.
pub fn body(notification: &Notification, alerts: &[Alert], external_url: &str) -> String {
    let firing: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.status() == AlertStatus::Firing)
        .collect();
    let resolved: Vec<&Alert> = alerts
        .iter()
        .filter(|a| a.status() == AlertStatus::Resolved)
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} firing, {} resolved alert(s) for receiver {}.",
        firing.len(),
        resolved.len(),
        notification.receiver
    );
    let _ = writeln!(
        out,
        "Group: {}",
        format_label_set(&notification.group_labels)
    );
    for (title, list) in [("Firing", &firing), ("Resolved", &resolved)] {
        if list.is_empty() {
            continue;
        }
        let _ = write!(out, "\n{title} alerts:\n");
        for alert in list.iter() {
            write_alert(&mut out, alert);
        }
    }
    if !external_url.is_empty() {
        let _ = write!(out, "\nSent by {external_url}\n");
    }
    out
}

/// One alert of the body, like Alertmanager's `__text_alert_list`.
fn write_alert(out: &mut String, alert: &Alert) {
    out.push_str("\nLabels:\n");
    for (k, v) in &alert.labels {
        let _ = writeln!(out, " - {k} = {v}");
    }
    out.push_str("Annotations:\n");
    for (k, v) in &alert.annotations {
        let _ = writeln!(out, " - {k} = {v}");
    }
    let _ = writeln!(out, "Started: {}", rfc3339_ms(alert.starts_at_ms));
    if let Some(ended) = alert.ends_at_ms {
        let _ = writeln!(out, "Resolved: {}", rfc3339_ms(ended));
    }
    let _ = writeln!(out, "Source: {}", alert.generator_url);
}

/// The email for these alerts of a notification.
pub fn message(
    config: &EmailConfig,
    notification: &Notification,
    alerts: &[Alert],
    external_url: &str,
) -> Result<lettre::Message, SendError> {
    let from: Mailbox = config
        .from
        .parse()
        .map_err(|e| SendError::Invalid(format!("from address {:?}: {e}", config.from)))?;
    let to: Mailboxes = config
        .to
        .parse()
        .map_err(|e| SendError::Invalid(format!("to addresses {:?}: {e}", config.to)))?;
    let subject = config
        .subject
        .clone()
        .unwrap_or_else(|| subject(notification, alerts));
    // The Message-ID is the notification id: a retry is the same message.
    let mut builder = lettre::Message::builder()
        .from(from)
        .subject(subject)
        .message_id(Some(format!("<{}@strata>", notification.id)));
    for mailbox in to {
        builder = builder.to(mailbox);
    }
    builder
        .header(ContentType::TEXT_PLAIN)
        .body(body(notification, alerts, external_url))
        .map_err(|e| SendError::Invalid(error_chain(&e)))
}

/// The SMTP transport for a config.
fn transport(
    config: &EmailConfig,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
    let host = config.smarthost.host.as_str();
    let builder = if !config.require_tls {
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
    } else if config.smarthost.port == 465 {
        AsyncSmtpTransport::<Tokio1Executor>::relay(host)
            .map_err(|e| SendError::Invalid(error_chain(&e)))?
    } else {
        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
            .map_err(|e| SendError::Invalid(error_chain(&e)))?
    };
    let mut builder = builder.port(config.smarthost.port).timeout(Some(timeout));
    if let Some(user) = &config.auth_username {
        let password = config
            .auth_password
            .as_ref()
            .map(|p| p.expose().to_string())
            .unwrap_or_default();
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

/// Sends one message once. SMTP 5xx replies are permanent errors; other
/// failures (connection, timeout, TLS, 4xx replies) may be retried.
pub async fn send(
    config: &EmailConfig,
    message: lettre::Message,
    timeout: Duration,
) -> Result<(), SendError> {
    let transport = transport(config, timeout)?;
    let sent = tokio::time::timeout(timeout, transport.send(message)).await;
    match sent {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) if e.is_timeout() => Err(SendError::Timeout(error_chain(&e))),
        Ok(Err(e)) => Err(SendError::Smtp {
            message: error_chain(&e),
            permanent: e.is_permanent(),
        }),
        Err(_) => Err(SendError::Timeout(format!(
            "no answer from {} within {timeout:?}",
            config.smarthost
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::config::{IntegrationId, IntegrationKind, SmartHost};

    use crate::label_set as ls;

    fn alert(instance: &str, ends_at_ms: Option<i64>) -> Alert {
        Alert {
            labels: ls(&[
                ("alertname", "DiskFull"),
                ("instance", instance),
                ("team", "db"),
            ]),
            annotations: ls(&[("summary", "disk almost full")]),
            starts_at_ms: 1_714_564_800_000,
            ends_at_ms,
            generator_url: "http://strata/x".into(),
        }
    }

    fn notification(alerts: Vec<Alert>) -> Notification {
        Notification {
            id: "id".into(),
            receiver: "db-team".into(),
            group_key: r#"{}:{alertname="DiskFull"}"#.into(),
            group_labels: ls(&[("alertname", "DiskFull")]),
            alerts,
            integrations: vec![IntegrationId {
                kind: IntegrationKind::Email,
                index: 0,
            }],
            flushed_at_ms: 0,
            group_interval_ms: 300_000,
        }
    }

    #[test]
    fn subjects_like_alertmanager() {
        let two = vec![alert("a", None), alert("b", None)];
        let n = notification(two.clone());
        assert_eq!(subject(&n, &two), "[FIRING:2] DiskFull (db)");
        let one = vec![alert("a", None), alert("b", Some(1))];
        assert_eq!(
            subject(&notification(one.clone()), &one),
            "[FIRING:1] DiskFull (db)"
        );
        let single = vec![alert("a", None)];
        assert_eq!(
            subject(&notification(single.clone()), &single),
            "[FIRING:1] DiskFull (a db)"
        );
        let resolved = vec![alert("a", Some(1)), alert("b", Some(2))];
        assert_eq!(
            subject(&notification(resolved.clone()), &resolved),
            "[RESOLVED] DiskFull (db)"
        );
        let mut all_grouped = notification(single.clone());
        all_grouped.group_labels = single[0].labels.clone();
        assert_eq!(subject(&all_grouped, &single), "[FIRING:1] DiskFull a db");
    }

    #[test]
    fn body_lists_firing_then_resolved() {
        let alerts = vec![alert("a", None), alert("b", Some(1_714_564_900_000))];
        let text = body(&notification(alerts.clone()), &alerts, "http://strata");
        assert!(text.starts_with("1 firing, 1 resolved alert(s) for receiver db-team.\n"));
        let firing = text.find("Firing alerts:").unwrap();
        let resolved = text.find("Resolved alerts:").unwrap();
        assert!(firing < resolved);
        assert!(text.contains(" - instance = a\n"));
        assert!(text.contains(" - summary = disk almost full\n"));
        assert!(text.contains("Resolved: 2024-05-01T12:01:40Z\n"));
        assert!(text.ends_with("Sent by http://strata\n"));
    }

    #[test]
    fn message_has_subject_and_recipients() {
        let config = EmailConfig {
            to: "a@example.com, B <b@example.com>".into(),
            from: "strata@example.com".into(),
            smarthost: SmartHost {
                host: "127.0.0.1".into(),
                port: 25,
            },
            auth_username: None,
            auth_password: None,
            require_tls: false,
            send_resolved: false,
            subject: None,
        };
        let alerts = vec![alert("a", None)];
        let msg = message(&config, &notification(alerts.clone()), &alerts, "").unwrap();
        let text = String::from_utf8(msg.formatted()).unwrap();
        assert!(
            text.contains("Subject: [FIRING:1] DiskFull (a db)\r\n"),
            "{text}"
        );
        assert!(
            text.contains("To: a@example.com, B <b@example.com>\r\n"),
            "{text}"
        );
        assert!(text.contains("Message-ID: <id@strata>\r\n"), "{text}");
        let fixed = EmailConfig {
            subject: Some("Strata alert".into()),
            ..config
        };
        let msg = message(&fixed, &notification(alerts.clone()), &alerts, "").unwrap();
        assert!(
            String::from_utf8(msg.formatted())
                .unwrap()
                .contains("Subject: Strata alert\r\n")
        );
    }
}
