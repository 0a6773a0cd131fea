//! Alertmanager's dispatcher with injected time.
//!
//! No wall clock is read here: every call takes `now_ms` (Unix
//! milliseconds), so the behaviour is deterministic and the whole state
//! ([`DispatcherState`]) can be checkpointed and restored.
//!
//! What happens, as in Alertmanager (`dispatch/dispatch.go`,
//! `notify/dedup_stage.go`):
//!
//! - **Routing.** An inserted alert goes to every route the tree's
//!   depth-first search returns ([`super::config::Route::matching`], with `continue`).
//! - **Grouping.** Per route, alerts are aggregated by the values of the
//!   route's `group_by` labels. A group's key is Alertmanager's:
//!   `{route key}:{group labels}`, e.g. `{}:{alertname="X"}`.
//! - **Timers.** A new group is flushed `group_wait` after it was created
//!   (at once if the alert that created it started more than `group_wait`
//!   ago), then every `group_interval`. [`Dispatcher::next_deadline`] says
//!   when [`Dispatcher::tick`] must be called next.
//! - **Deduplication.** At a flush, each integration of the receiver is
//!   compared with its notification-log entry (`DedupStage.needsUpdate`):
//!   firing alerts it was not told about → notify; no firing alert left →
//!   notify if its last notification had firing alerts; new resolved
//!   alerts → notify only if it has `send_resolved`; otherwise only once
//!   `repeat_interval` has passed since the last notification. An
//!   integration without `send_resolved` whose group has only resolved
//!   alerts is logged without a message, as Alertmanager does.
//! - **Clean-up.** Once a flush needed no message, or its notification was
//!   acknowledged, the resolved alerts it covered are removed from the
//!   group (unless they changed since); an empty group is deleted. So an
//!   alert resolved before `group_wait` ends is never notified, and a
//!   resolution is sent once.
//! - **Duplicates.** Updates of an alert (same fingerprint) are merged
//!   like Alertmanager's store does: overlapping activity keeps the
//!   earliest start; a stale update (a firing update of an activity that
//!   was since resolved, or a resolution of an earlier activity) is
//!   ignored.
//!
//! # Acknowledgement
//!
//! Alertmanager logs a notification only after the integration accepted
//! it; a failed send is retried until the next flush and, if it still
//! failed, the next flush (one `group_interval` later) computes the same
//! need again and resends. Here, [`Dispatcher::tick`] returns
//! [`Notification`]s and changes nothing in the log; the log and the
//! removal of resolved alerts happen only in [`Dispatcher::delivered`]
//! (every integration accepted) or [`Dispatcher::delivered_to`] (some
//! did). A notification that is never acknowledged is therefore produced
//! again at the group's next flush — with the same [`Notification::id`]
//! if nothing changed, since the id is derived from the group, the
//! targeted integrations, their last logged notification and the alerts'
//! fingerprints and statuses, not from the flush time. A receiver that
//! honours the `Idempotency-Key` header drops such a resend if it had in
//! fact accepted the first one. Only the latest notification of a group
//! can be acknowledged: a newer flush supersedes older ones (their late
//! acknowledgements are ignored and return false), which keeps the state
//! bounded and the log monotonic; a notification left unacknowledged for
//! a whole `repeat_interval` is dropped. Deliveries should be bounded by the
//! group's `group_interval` (given in the notification), as Alertmanager
//! bounds them.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::{Config, IntegrationId, IntegrationKind};
use super::{Alert, AlertStatus, alert_order, format_label_set};
use crate::LabelSet;

/// One message to send: the alerts of a group for a receiver's
/// integrations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Stable idempotency key (32 hex digits): the same for a resend of an
    /// unacknowledged notification with the same content, different for
    /// any other notification.
    pub id: String,
    /// The receiver's name.
    pub receiver: String,
    /// Alertmanager's group key, e.g. `{}/{team="db"}:{alertname="X"}`.
    pub group_key: String,
    /// The group's labels (values of the route's `group_by` labels).
    pub group_labels: LabelSet,
    /// The group's alerts in Alertmanager's order; firing ones have no end
    /// time, resolved ones their resolution time.
    pub alerts: Vec<Alert>,
    /// The integrations of the receiver that need this message.
    pub integrations: Vec<IntegrationId>,
    /// When the group was flushed (the `now_ms` of the tick).
    pub flushed_at_ms: i64,
    /// The group's `group_interval`: the time after which the group is
    /// flushed again and an unacknowledged notification is superseded.
    pub group_interval_ms: i64,
}

impl Notification {
    /// `firing` if any alert is firing, `resolved` otherwise.
    pub fn status(&self) -> AlertStatus {
        status_of(&self.alerts)
    }

    /// The firing alerts.
    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.alerts
            .iter()
            .filter(|a| a.status() == AlertStatus::Firing)
    }

    /// The resolved alerts.
    pub fn resolved(&self) -> impl Iterator<Item = &Alert> {
        self.alerts
            .iter()
            .filter(|a| a.status() == AlertStatus::Resolved)
    }

    /// The alerts an integration is sent: all of them, or only the firing
    /// ones without `send_resolved`.
    pub fn alerts_for(&self, send_resolved: bool) -> Vec<Alert> {
        self.alerts
            .iter()
            .filter(|a| send_resolved || a.status() == AlertStatus::Firing)
            .cloned()
            .collect()
    }
}

/// `firing` if any of the alerts is firing.
pub(crate) fn status_of(alerts: &[Alert]) -> AlertStatus {
    if alerts.iter().any(|a| a.status() == AlertStatus::Firing) {
        AlertStatus::Firing
    } else {
        AlertStatus::Resolved
    }
}

/// Everything the dispatcher knows besides its configuration: the
/// aggregation groups with their alerts and timers, the notification log
/// and the notifications awaiting acknowledgement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DispatcherState {
    /// Groups by id: route id, `:`, group labels.
    groups: BTreeMap<String, Group>,
    /// Alertmanager's notification log, per group key, receiver and
    /// integration.
    #[serde(with = "pairs")]
    nflog: BTreeMap<NflogKey, NflogEntry>,
    /// Unacknowledged notifications by id (at most one per group).
    pending: BTreeMap<String, Pending>,
    /// Counter of alert versions, to tell whether an alert changed
    /// between a flush and its acknowledgement.
    next_version: u64,
    /// Alerts inserted (with their insertion time) while the dispatcher
    /// had no configuration; routed by [`Dispatcher::set_config`].
    #[serde(default)]
    unrouted: Vec<(Alert, i64)>,
}

/// An aggregation group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Group {
    route_id: String,
    group_key: String,
    labels: LabelSet,
    #[serde(with = "pairs")]
    alerts: BTreeMap<u64, StoredAlert>,
    next_flush_ms: i64,
}

/// An alert of a group and the version of its last change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StoredAlert {
    alert: Alert,
    version: u64,
}

/// Key of the notification log.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct NflogKey {
    group_key: String,
    receiver: String,
    integration: IntegrationId,
}

/// What an integration was last told about a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct NflogEntry {
    firing: BTreeSet<u64>,
    resolved: BTreeSet<u64>,
    /// When the notification was acknowledged (Alertmanager's entry
    /// timestamp, compared with `repeat_interval`).
    logged_at_ms: i64,
    /// The flush the notification came from, to ignore out-of-order
    /// acknowledgements.
    flushed_at_ms: i64,
    /// Entries expire after twice the repeat interval, as in Alertmanager.
    expires_at_ms: i64,
}

/// A notification awaiting acknowledgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pending {
    group_id: String,
    notification: Notification,
    /// Integrations that have not acknowledged yet.
    remaining: Vec<IntegrationId>,
    firing: BTreeSet<u64>,
    resolved: BTreeSet<u64>,
    /// (fingerprint, version) of the resolved alerts sent.
    resolved_versions: Vec<(u64, u64)>,
    repeat_interval_ms: i64,
}

/// Routes, groups and deduplicates alerts; see the module documentation.
///
/// Serializes as its [`DispatcherState`] alone: a deserialized dispatcher
/// has no configuration and is inert (it keeps alerts it is given and
/// flushes nothing) until [`Dispatcher::set_config`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Dispatcher {
    state: DispatcherState,
    #[serde(skip)]
    config: Option<Config>,
}

/// The configuration an unconfigured dispatcher reports: one receiver
/// without integrations.
static UNCONFIGURED: std::sync::LazyLock<Config> = std::sync::LazyLock::new(|| {
    Config::from_yaml("route: {receiver: 'null'}\nreceivers: [{name: 'null'}]\n")
        .expect("static configuration")
});

impl Dispatcher {
    /// A dispatcher with no alerts and an empty notification log.
    pub fn new(config: Config) -> Self {
        Self {
            config: Some(config),
            state: DispatcherState::default(),
        }
    }

    /// A dispatcher resuming from a checkpointed state under a (possibly
    /// changed) configuration; see [`Dispatcher::set_config`].
    pub fn restore(config: Config, state: DispatcherState) -> Self {
        let mut dispatcher = Self {
            config: None,
            state,
        };
        dispatcher.set_config(config);
        dispatcher
    }

    /// Sets the configuration, after deserializing or on a reload. Groups
    /// whose alerts the new configuration still routes the same way keep
    /// their alerts and timers; the alerts of other groups are routed anew
    /// as of their old group's next flush, as Alertmanager re-routes its
    /// alerts on a reload. The notification log is kept either way, so
    /// nothing already notified is notified again; notifications awaiting
    /// acknowledgement stay acknowledgeable if their receiver and
    /// integrations still exist.
    pub fn set_config(&mut self, config: Config) {
        self.config = Some(config);
        let ids: Vec<String> = self.state.groups.keys().cloned().collect();
        let mut rerouted = Vec::new();
        for id in ids {
            let group = &self.state.groups[&id];
            let unchanged = group
                .alerts
                .values()
                .all(|s| self.group_ids(&s.alert.labels).contains(&id));
            if !unchanged && let Some(group) = self.state.groups.remove(&id) {
                let at = group.next_flush_ms;
                rerouted.extend(group.alerts.into_values().map(|s| (s.alert, at)));
            }
        }
        rerouted.append(&mut self.state.unrouted);
        if let Some(config) = &self.config {
            self.state.pending.retain(|_, p| {
                config
                    .receiver(&p.notification.receiver)
                    .is_some_and(|r| p.remaining.iter().all(|i| r.send_resolved(*i).is_some()))
            });
        }
        for (alert, at) in rerouted {
            self.insert(vec![alert], at);
        }
    }

    /// The configuration (one without integrations until
    /// [`Dispatcher::set_config`] after deserializing).
    pub fn config(&self) -> &Config {
        self.config.as_ref().unwrap_or(&UNCONFIGURED)
    }

    /// The state to checkpoint.
    pub fn state(&self) -> &DispatcherState {
        &self.state
    }

    /// Consumes the dispatcher, returning its state.
    pub fn into_state(self) -> DispatcherState {
        self.state
    }

    /// Number of aggregation groups.
    pub fn group_count(&self) -> usize {
        self.state.groups.len()
    }

    /// Number of alerts over all groups (an alert in two groups counts
    /// twice).
    pub fn alert_count(&self) -> usize {
        self.state.groups.values().map(|g| g.alerts.len()).sum()
    }

    /// The notifications awaiting acknowledgement, e.g. to deliver again
    /// at once after a restart.
    pub fn pending(&self) -> Vec<&Notification> {
        self.state
            .pending
            .values()
            .map(|p| &p.notification)
            .collect()
    }

    /// The ids of the groups an alert with these labels belongs to.
    fn group_ids(&self, labels: &LabelSet) -> Vec<String> {
        let Some(config) = &self.config else {
            return Vec::new();
        };
        config
            .route
            .matching(labels)
            .into_iter()
            .map(|r| {
                format!(
                    "{}:{}",
                    r.id(),
                    format_label_set(&r.group_by.group_labels(labels))
                )
            })
            .collect()
    }

    /// Routes alerts into their groups at `now_ms`, creating groups as
    /// needed and merging updates of alerts already there.
    pub fn insert(&mut self, alerts: Vec<Alert>, now_ms: i64) {
        let Some(config) = &self.config else {
            self.state
                .unrouted
                .extend(alerts.into_iter().map(|a| (a, now_ms)));
            return;
        };
        for alert in alerts {
            let fingerprint = alert.fingerprint();
            for route in config.route.matching(&alert.labels) {
                let labels = route.group_by.group_labels(&alert.labels);
                let printed = format_label_set(&labels);
                let id = format!("{}:{printed}", route.id());
                let group = self.state.groups.entry(id).or_insert_with(|| {
                    let wait = millis(route.group_wait);
                    // An alert older than group_wait is flushed at once.
                    let old = alert.starts_at_ms.saturating_add(wait) < now_ms;
                    Group {
                        route_id: route.id().to_string(),
                        group_key: format!("{}:{printed}", route.key()),
                        labels,
                        alerts: BTreeMap::new(),
                        next_flush_ms: if old {
                            now_ms
                        } else {
                            now_ms.saturating_add(wait)
                        },
                    }
                });
                let merged = match group.alerts.get(&fingerprint) {
                    None => Some(alert.clone()),
                    Some(stored) => {
                        merge(&stored.alert, alert.clone()).filter(|m| *m != stored.alert)
                    }
                };
                if let Some(merged) = merged {
                    self.state.next_version += 1;
                    let version = self.state.next_version;
                    group.alerts.insert(
                        fingerprint,
                        StoredAlert {
                            alert: merged,
                            version,
                        },
                    );
                }
            }
        }
    }

    /// When [`Dispatcher::tick`] must next be called: the earliest flush
    /// time of any group, `None` without groups.
    pub fn next_deadline(&self) -> Option<i64> {
        self.config.as_ref()?;
        self.state.groups.values().map(|g| g.next_flush_ms).min()
    }

    /// Flushes every group that is due at `now_ms` and returns the
    /// notifications to deliver, in flush order. Each flushed group is
    /// next due `group_interval` after `now_ms`.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Notification> {
        let Some(config) = self.config.as_ref() else {
            return Vec::new();
        };
        let mut due: Vec<(i64, String)> = self
            .state
            .groups
            .iter()
            .filter(|(_, g)| g.next_flush_ms <= now_ms)
            .map(|(id, g)| (g.next_flush_ms, id.clone()))
            .collect();
        due.sort();
        let mut out = Vec::new();
        for (_, id) in due {
            out.extend(flush(config, &mut self.state, &id, now_ms));
            let interval = self
                .state
                .groups
                .get(&id)
                .and_then(|g| config.route.find(&g.route_id))
                .map(|r| millis(r.group_interval));
            match interval {
                Some(interval) if !self.state.groups[&id].alerts.is_empty() => {
                    if let Some(g) = self.state.groups.get_mut(&id) {
                        g.next_flush_ms = now_ms.saturating_add(interval);
                    }
                }
                _ => {
                    self.state.groups.remove(&id);
                }
            }
        }
        self.state.nflog.retain(|_, e| e.expires_at_ms > now_ms);
        // A notification nobody acknowledged for a whole repeat interval is
        // stale (its group, if it still exists, has superseded it).
        self.state.pending.retain(|_, p| {
            p.notification
                .flushed_at_ms
                .saturating_add(p.repeat_interval_ms)
                >= now_ms
        });
        out
    }

    /// Records that every integration of the notification accepted it at
    /// `now_ms`: logs it and removes the resolved alerts it carried from
    /// the group. False if the id is unknown (already acknowledged, or
    /// superseded by a newer flush of its group).
    pub fn delivered(&mut self, notification_id: &str, now_ms: i64) -> bool {
        let Some(pending) = self.state.pending.get(notification_id) else {
            return false;
        };
        let all = pending.remaining.clone();
        self.delivered_to(notification_id, &all, now_ms)
    }

    /// Records that some integrations accepted the notification (the
    /// others failed): those are logged, so the next flush resends only
    /// to the others. Once all have accepted, this is
    /// [`Dispatcher::delivered`]. False if the id is unknown.
    pub fn delivered_to(
        &mut self,
        notification_id: &str,
        integrations: &[IntegrationId],
        now_ms: i64,
    ) -> bool {
        let state = &mut self.state;
        let Some(pending) = state.pending.get_mut(notification_id) else {
            return false;
        };
        let acknowledged: Vec<IntegrationId> = pending
            .remaining
            .iter()
            .filter(|i| integrations.contains(i))
            .copied()
            .collect();
        pending.remaining.retain(|i| !integrations.contains(i));
        for integration in acknowledged {
            let key = NflogKey {
                group_key: pending.notification.group_key.clone(),
                receiver: pending.notification.receiver.clone(),
                integration,
            };
            let flushed = pending.notification.flushed_at_ms;
            if state
                .nflog
                .get(&key)
                .is_some_and(|e| e.flushed_at_ms > flushed)
            {
                continue;
            }
            let entry = NflogEntry {
                firing: pending.firing.clone(),
                resolved: pending.resolved.clone(),
                logged_at_ms: now_ms,
                flushed_at_ms: flushed,
                expires_at_ms: now_ms.saturating_add(pending.repeat_interval_ms.saturating_mul(2)),
            };
            state.nflog.insert(key, entry);
        }
        if !pending.remaining.is_empty() {
            return true;
        }
        let Some(pending) = state.pending.remove(notification_id) else {
            return true;
        };
        if let Some(group) = state.groups.get_mut(&pending.group_id) {
            for (fingerprint, version) in &pending.resolved_versions {
                if group
                    .alerts
                    .get(fingerprint)
                    .is_some_and(|s| s.version == *version)
                {
                    group.alerts.remove(fingerprint);
                }
            }
            if group.alerts.is_empty() {
                state.groups.remove(&pending.group_id);
            }
        }
        true
    }
}

/// Flushes one group: decides per integration whether it needs a
/// message, and returns the notification if any does.
fn flush(
    config: &Config,
    state: &mut DispatcherState,
    group_id: &str,
    now_ms: i64,
) -> Option<Notification> {
    let group = state.groups.get(group_id)?;
    let route = config.route.find(&group.route_id)?;
    let receiver = config.receiver(&route.receiver)?;
    let mut alerts: Vec<&StoredAlert> = group.alerts.values().collect();
    alerts.sort_by(|a, b| alert_order(&a.alert, &b.alert));
    let (mut firing, mut resolved) = (BTreeSet::new(), BTreeSet::new());
    for s in &alerts {
        match s.alert.status() {
            AlertStatus::Firing => firing.insert(s.alert.fingerprint()),
            AlertStatus::Resolved => resolved.insert(s.alert.fingerprint()),
        };
    }
    let repeat_ms = millis(route.repeat_interval);
    let mut targets = Vec::new();
    for (integration, send_resolved) in receiver.integrations() {
        let key = NflogKey {
            group_key: group.group_key.clone(),
            receiver: receiver.name.clone(),
            integration,
        };
        let entry = state.nflog.get(&key).filter(|e| e.expires_at_ms > now_ms);
        if !needs_update(entry, &firing, &resolved, send_resolved, repeat_ms, now_ms) {
            continue;
        }
        if !send_resolved && firing.is_empty() {
            // Nothing to send, but the log must forget the firing
            // alerts (Alertmanager's RetryStage reports success).
            let entry = NflogEntry {
                firing: BTreeSet::new(),
                resolved: resolved.clone(),
                logged_at_ms: now_ms,
                flushed_at_ms: now_ms,
                expires_at_ms: now_ms.saturating_add(repeat_ms.saturating_mul(2)),
            };
            state.nflog.insert(key, entry);
        } else {
            targets.push((integration, entry.map(|e| e.logged_at_ms)));
        }
    }
    if targets.is_empty() {
        // A flush that needed no message succeeded: drop the resolved
        // alerts, as Alertmanager does after notify() returns true.
        let group = state.groups.get_mut(group_id)?;
        group
            .alerts
            .retain(|_, s| s.alert.status() == AlertStatus::Firing);
        return None;
    }
    let id = notification_id(group_id, &receiver.name, &targets, &alerts);
    let notification = Notification {
        id: id.clone(),
        receiver: receiver.name.clone(),
        group_key: group.group_key.clone(),
        group_labels: group.labels.clone(),
        alerts: alerts.iter().map(|s| s.alert.clone()).collect(),
        integrations: targets.iter().map(|(i, _)| *i).collect(),
        flushed_at_ms: now_ms,
        group_interval_ms: millis(route.group_interval),
    };
    let pending = Pending {
        group_id: group_id.to_string(),
        notification: notification.clone(),
        remaining: notification.integrations.clone(),
        firing,
        resolved,
        resolved_versions: alerts
            .iter()
            .filter(|s| s.alert.status() == AlertStatus::Resolved)
            .map(|s| (s.alert.fingerprint(), s.version))
            .collect(),
        repeat_interval_ms: repeat_ms,
    };
    state.pending.retain(|_, p| p.group_id != group_id);
    state.pending.insert(id, pending);
    Some(notification)
}

/// Alertmanager's `DedupStage.needsUpdate` for one integration.
fn needs_update(
    entry: Option<&NflogEntry>,
    firing: &BTreeSet<u64>,
    resolved: &BTreeSet<u64>,
    send_resolved: bool,
    repeat_ms: i64,
    now_ms: i64,
) -> bool {
    let Some(entry) = entry else {
        // Never notified: only firing alerts are worth a first message.
        return !firing.is_empty();
    };
    if !firing.is_subset(&entry.firing) {
        // New firing alerts.
        return true;
    }
    if firing.is_empty() {
        // All resolved: tell the integration if it last heard of firing
        // alerts (regardless of send_resolved, to clear its log).
        return !entry.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&entry.resolved) {
        return true;
    }
    entry.logged_at_ms < now_ms.saturating_sub(repeat_ms)
}

/// Merges an update into the stored version of an alert; `None` when the
/// update is stale. Otherwise as Alertmanager's store: when the activity
/// ranges overlap, the update wins but keeps the earliest start (and the
/// latest end if both are resolved); when they do not, it replaces.
fn merge(old: &Alert, new: Alert) -> Option<Alert> {
    match (old.ends_at_ms, new.ends_at_ms) {
        // A firing update of an activity that has since been resolved.
        (Some(resolved_at), None) if new.starts_at_ms < resolved_at => return None,
        // The resolution of an activity before the current one.
        (None, Some(resolved_at)) if resolved_at < old.starts_at_ms => return None,
        _ => {}
    }
    let end = |a: &Alert| a.ends_at_ms.unwrap_or(i64::MAX);
    let overlap = (end(&new) > old.starts_at_ms && end(&new) < end(old))
        || (new.starts_at_ms > old.starts_at_ms && new.starts_at_ms < end(old));
    let mut merged = new;
    if overlap {
        merged.starts_at_ms = merged.starts_at_ms.min(old.starts_at_ms);
        if let (Some(o), Some(n)) = (old.ends_at_ms, merged.ends_at_ms) {
            merged.ends_at_ms = Some(o.max(n));
        }
    }
    Some(merged)
}

/// The idempotency key of a notification: a 128-bit xxh3 hash of the
/// group, the receiver, the targeted integrations with the time of their
/// last logged notification, and the alerts' fingerprints and statuses.
fn notification_id(
    group_id: &str,
    receiver: &str,
    targets: &[(IntegrationId, Option<i64>)],
    alerts: &[&StoredAlert],
) -> String {
    let mut buf = Vec::with_capacity(64 + alerts.len() * 9);
    buf.extend_from_slice(group_id.as_bytes());
    buf.push(0xff);
    buf.extend_from_slice(receiver.as_bytes());
    buf.push(0xff);
    for (integration, logged_at) in targets {
        buf.push(match integration.kind {
            IntegrationKind::Webhook => b'w',
            IntegrationKind::Email => b'e',
        });
        buf.extend_from_slice(&(integration.index as u64).to_le_bytes());
        buf.extend_from_slice(&logged_at.unwrap_or(i64::MIN).to_le_bytes());
    }
    buf.push(0xff);
    for s in alerts {
        buf.extend_from_slice(&s.alert.fingerprint().to_le_bytes());
        buf.push(match s.alert.status() {
            AlertStatus::Firing => b'f',
            AlertStatus::Resolved => b'r',
        });
    }
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&buf))
}

/// A duration in milliseconds, saturating.
fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Maps serialized as lists of `[key, value]` pairs, so that keys need
/// not be strings.
mod pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub(super) fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests;
