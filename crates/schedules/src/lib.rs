//! Schedules (EventBridge Scheduler): schedule groups and schedules that
//! invoke a Lambda function (or send to an SQS queue) on a `rate`, `cron`
//! or `at` expression, in a time zone.
//!
//! ```text
//!  API (gateway) ──> Schedules ── commit ──> event store (kind "schedule", "schedule-group")
//!                        │ wake
//!                        ▼
//!                   timer task ── enqueue_invocations_with(invocation, schedule with its
//!                                 last fired slot) ──> one transaction
//! ```
//!
//! # Firing
//!
//! One timer task sleeps until the next slot falls due (or a schedule
//! changes), then fires it: the async invocation and the schedule's new
//! *last fired slot* commit in one transaction, and a slot at or before
//! the last fired one never fires again, so a slot fires once, also across
//! restarts and crashes. Every change (create, update, delete, disable)
//! takes the same lock as a firing, so once DeleteSchedule or an update to
//! `DISABLED` returns, the schedule does not fire again.
//!
//! A firing is an async invocation of the target function (trigger
//! `schedule`, a new request id, the target's `Input` as the event, or `{}`
//! when there is none); retries and failures are the async invocation
//! path's. A function that does not exist is accepted at creation, as
//! Scheduler does, and fails at delivery. An SQS target gets the same body
//! as a message; the send and the slot commit separately (sent first, so a
//! crash between them can send a slot twice, never lose it).
//!
//! # Missed slots
//!
//! Slots that fall due while the server is down (see [`policy`]):
//!
//! - recurring schedules fire the most recent missed slot once, if still
//!   enabled and the slot is within StartDate/EndDate; older missed slots
//!   are skipped;
//! - a missed `at()` slot fires once after the start;
//! - slots before a schedule was created or last updated never fire (an
//!   update re-arms the schedule; a `rate` without StartDate fires at once
//!   and then every period from then), except that a one-time schedule
//!   created less than a minute after its time still fires (Scheduler
//!   works to the minute).
//!
//! Time zones and daylight saving time are handled as [`expression`]
//! documents. A FLEXIBLE time window delays each slot by a pseudo-random
//! amount within the window, derived from the schedule and the slot, so
//! it is the same after a restart.

pub mod cron;
pub mod expression;
pub mod model;
pub mod policy;
mod timer;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::{Mutex, Notify};
use updraft_queues::Queues;
use updraft_store::EventWrite;
use updraft_types::Account;

pub use model::{
    GroupInput, Schedule, ScheduleError, ScheduleGroup, ScheduleInput, State, DEFAULT_GROUP,
};

use model::{FlexibleMode, StoredGroup, StoredSchedule};
use policy::Timing;

/// The event store kind of schedules (key `GROUP/NAME`).
const SCHEDULE_KIND: &str = "schedule";
/// The event store kind of schedule groups (key `NAME`).
const GROUP_KIND: &str = "schedule-group";

/// ListSchedules and ListScheduleGroups filters and paging.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub name_prefix: Option<String>,
    /// ListSchedules only.
    pub group: Option<String>,
    /// ListSchedules only.
    pub state: Option<State>,
    /// 1-100; default 100.
    pub max_results: Option<usize>,
    pub next_token: Option<String>,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

/// Schedules and schedule groups, and the timer that fires them.
pub struct Schedules {
    queues: Arc<Queues>,
    account: Account,
    /// Asked before each delivery whether the schedule's role may act on
    /// its target; `None` delivers without asking.
    roles: Option<Arc<dyn updraft_types::RoleCheck>>,
    inner: Mutex<Inner>,
    /// Wakes the timer when a schedule changes.
    wake: Notify,
    /// Failed attempts at the slot being fired, by schedule.
    #[allow(clippy::type_complexity)]
    attempts: std::sync::Mutex<std::collections::HashMap<(String, String), (DateTime<Utc>, u32)>>,
}

struct Inner {
    /// By `(group, name)`.
    schedules: BTreeMap<(String, String), Entry>,
    groups: BTreeMap<String, StoredGroup>,
}

/// A schedule and its compiled timing.
struct Entry {
    stored: StoredSchedule,
    timing: Timing,
}

impl Entry {
    fn new(stored: StoredSchedule) -> Result<Entry, String> {
        let s = &stored.schedule;
        let window = match s.flexible_time_window.mode {
            FlexibleMode::Off => Duration::zero(),
            FlexibleMode::Flexible => Duration::minutes(
                s.flexible_time_window
                    .maximum_window_in_minutes
                    .unwrap_or(0),
            ),
        };
        let timing = Timing {
            expression: expression::Expression::parse(&s.schedule_expression)?,
            tz: expression::parse_time_zone(&s.schedule_expression_timezone)?,
            start: s.start_date.map(from_epoch_seconds),
            end: s.end_date.map(from_epoch_seconds),
            armed: from_epoch_seconds(s.last_modification_date),
            window,
            seed: s.arn.clone(),
        };
        Ok(Entry { stored, timing })
    }

    fn last_fired(&self) -> Option<DateTime<Utc>> {
        self.stored
            .last_fired_ms
            .and_then(DateTime::from_timestamp_millis)
    }
}

impl Schedules {
    /// Loads schedules and groups from the queues' store (creating the
    /// `default` group the first time); delivers without checking roles.
    pub fn open(queues: Arc<Queues>, account: Account) -> Result<Arc<Schedules>, String> {
        Schedules::open_with_roles(queues, account, None)
    }

    /// [`Schedules::open`], delivering each slot only when `roles` says
    /// the schedule's `RoleArn`, assumed by Scheduler, may act on the
    /// target (`lambda:InvokeFunction`, `sqs:SendMessage`), as Scheduler
    /// does on AWS.
    pub fn open_with_roles(
        queues: Arc<Queues>,
        account: Account,
        roles: Option<Arc<dyn updraft_types::RoleCheck>>,
    ) -> Result<Arc<Schedules>, String> {
        let store = queues.store().clone();
        let mut groups = BTreeMap::new();
        for (key, value) in store.resources(GROUP_KIND).map_err(|e| e.to_string())? {
            let group: StoredGroup =
                serde_json::from_str(&value).map_err(|e| format!("schedule group {key}: {e}"))?;
            groups.insert(key, group);
        }
        if !groups.contains_key(DEFAULT_GROUP) {
            let group = new_group(&account, DEFAULT_GROUP, Vec::new());
            store
                .apply(&[put_group(&group)])
                .map_err(|e| e.to_string())?;
            groups.insert(DEFAULT_GROUP.to_string(), group);
        }
        let mut schedules = BTreeMap::new();
        for (key, value) in store.resources(SCHEDULE_KIND).map_err(|e| e.to_string())? {
            let stored: StoredSchedule =
                serde_json::from_str(&value).map_err(|e| format!("schedule {key}: {e}"))?;
            let id = (
                stored.schedule.group_name.clone(),
                stored.schedule.name.clone(),
            );
            schedules.insert(
                id,
                Entry::new(stored).map_err(|e| format!("schedule {key}: {e}"))?,
            );
        }
        Ok(Arc::new(Schedules {
            queues,
            account,
            roles,
            inner: Mutex::new(Inner { schedules, groups }),
            wake: Notify::new(),
            attempts: Default::default(),
        }))
    }

    /// Creates a schedule; answers its ARN.
    pub async fn create_schedule(
        &self,
        name: &str,
        input: ScheduleInput,
    ) -> Result<String, ScheduleError> {
        let valid = model::validate(name, input).map_err(ScheduleError::Validation)?;
        let mut inner = self.inner.lock().await;
        check_group(&inner, &valid.group)?;
        let id = (valid.group.clone(), name.to_string());
        if inner.schedules.contains_key(&id) {
            return Err(ScheduleError::Conflict(format!(
                "Schedule {name} already exists."
            )));
        }
        let now = now_epoch_seconds();
        let stored = StoredSchedule {
            schedule: self.build(name, valid, now, now),
            last_fired_ms: None,
        };
        self.save(&mut inner, id, stored).await
    }

    /// Replaces a schedule (every field, as UpdateSchedule does); keeps its
    /// creation date and last fired slot. Answers its ARN.
    pub async fn update_schedule(
        &self,
        name: &str,
        input: ScheduleInput,
    ) -> Result<String, ScheduleError> {
        let valid = model::validate(name, input).map_err(ScheduleError::Validation)?;
        let mut inner = self.inner.lock().await;
        check_group(&inner, &valid.group)?;
        let id = (valid.group.clone(), name.to_string());
        let Some(old) = inner.schedules.get(&id) else {
            return Err(schedule_not_found(name));
        };
        let created = old.stored.schedule.creation_date;
        let stored = StoredSchedule {
            schedule: self.build(name, valid, created, now_epoch_seconds()),
            last_fired_ms: old.stored.last_fired_ms,
        };
        self.save(&mut inner, id, stored).await
    }

    pub async fn get_schedule(
        &self,
        name: &str,
        group: Option<&str>,
    ) -> Result<Schedule, ScheduleError> {
        let id = schedule_id(name, group)?;
        let inner = self.inner.lock().await;
        check_group(&inner, &id.0)?;
        inner
            .schedules
            .get(&id)
            .map(|e| e.stored.schedule.clone())
            .ok_or_else(|| schedule_not_found(name))
    }

    /// Deletes a schedule; it never fires again once this returns.
    pub async fn delete_schedule(
        &self,
        name: &str,
        group: Option<&str>,
    ) -> Result<(), ScheduleError> {
        let id = schedule_id(name, group)?;
        let mut inner = self.inner.lock().await;
        check_group(&inner, &id.0)?;
        if !inner.schedules.contains_key(&id) {
            return Err(schedule_not_found(name));
        }
        self.queues
            .commit(vec![delete_schedule_write(&id)])
            .await
            .map_err(internal)?;
        inner.schedules.remove(&id);
        Ok(())
    }

    /// Schedules by group, then name.
    pub async fn list_schedules(
        &self,
        request: &ListRequest,
    ) -> Result<Page<Schedule>, ScheduleError> {
        let inner = self.inner.lock().await;
        if let Some(group) = &request.group {
            check_group(&inner, group)?;
        }
        let items = inner
            .schedules
            .values()
            .map(|e| &e.stored.schedule)
            .filter(|s| {
                request.group.as_ref().is_none_or(|g| *g == s.group_name)
                    && request.state.is_none_or(|st| st == s.state)
            });
        paginate(
            items,
            request,
            |s| format!("{}/{}", s.group_name, s.name),
            |s| &s.name,
        )
    }

    /// Creates a schedule group; answers its ARN.
    pub async fn create_group(
        &self,
        name: &str,
        input: GroupInput,
    ) -> Result<String, ScheduleError> {
        model::check_name("name", name).map_err(ScheduleError::Validation)?;
        let mut inner = self.inner.lock().await;
        if inner.groups.contains_key(name) {
            return Err(ScheduleError::Conflict(format!(
                "Schedule group {name} already exists."
            )));
        }
        let group = new_group(&self.account, name, input.tags);
        self.queues
            .commit(vec![put_group(&group)])
            .await
            .map_err(internal)?;
        let arn = group.group.arn.clone();
        inner.groups.insert(name.to_string(), group);
        Ok(arn)
    }

    pub async fn get_group(&self, name: &str) -> Result<ScheduleGroup, ScheduleError> {
        model::check_name("name", name).map_err(ScheduleError::Validation)?;
        let inner = self.inner.lock().await;
        inner
            .groups
            .get(name)
            .map(|g| g.group.clone())
            .ok_or_else(|| group_not_found(name))
    }

    /// Deletes a group and every schedule in it, in one transaction.
    pub async fn delete_group(&self, name: &str) -> Result<(), ScheduleError> {
        model::check_name("name", name).map_err(ScheduleError::Validation)?;
        if name == DEFAULT_GROUP {
            return Err(ScheduleError::Validation(
                "The default schedule group cannot be deleted.".into(),
            ));
        }
        let mut inner = self.inner.lock().await;
        check_group(&inner, name)?;
        let ids: Vec<(String, String)> = inner
            .schedules
            .keys()
            .filter(|(g, _)| g == name)
            .cloned()
            .collect();
        let mut writes: Vec<EventWrite> = ids.iter().map(delete_schedule_write).collect();
        writes.push(EventWrite::DeleteResource {
            kind: GROUP_KIND.into(),
            key: name.into(),
        });
        self.queues.commit(writes).await.map_err(internal)?;
        for id in ids {
            inner.schedules.remove(&id);
        }
        inner.groups.remove(name);
        Ok(())
    }

    /// Schedule groups by name.
    pub async fn list_groups(
        &self,
        request: &ListRequest,
    ) -> Result<Page<ScheduleGroup>, ScheduleError> {
        let inner = self.inner.lock().await;
        let items = inner.groups.values().map(|g| &g.group);
        paginate(items, request, |g| g.name.clone(), |g| &g.name)
    }

    fn build(
        &self,
        name: &str,
        valid: model::ValidSchedule,
        created: f64,
        modified: f64,
    ) -> Schedule {
        let input = valid.input;
        Schedule {
            action_after_completion: input.action_after_completion.unwrap_or_default(),
            arn: format!(
                "arn:aws:scheduler:{}:{}:schedule/{}/{name}",
                self.account.region, self.account.account_id, valid.group
            ),
            creation_date: created,
            description: input.description,
            end_date: input.end_date,
            flexible_time_window: input.flexible_time_window,
            group_name: valid.group,
            kms_key_arn: input.kms_key_arn,
            last_modification_date: modified,
            name: name.to_string(),
            schedule_expression: input.schedule_expression,
            schedule_expression_timezone: valid.time_zone,
            start_date: input.start_date,
            state: input.state.unwrap_or_default(),
            target: input.target,
        }
    }

    /// Stores a schedule, then makes it the one the timer sees; answers
    /// its ARN.
    async fn save(
        &self,
        inner: &mut Inner,
        id: (String, String),
        stored: StoredSchedule,
    ) -> Result<String, ScheduleError> {
        let entry = Entry::new(stored).map_err(ScheduleError::Validation)?;
        self.queues
            .commit(vec![put_schedule_write(&entry.stored)])
            .await
            .map_err(internal)?;
        let arn = entry.stored.schedule.arn.clone();
        inner.schedules.insert(id, entry);
        self.wake.notify_one();
        Ok(arn)
    }
}

/// Applies a list request's prefix, token and size to items in key order.
fn paginate<'a, T: Clone + 'a>(
    items: impl Iterator<Item = &'a T>,
    request: &ListRequest,
    key: impl Fn(&T) -> String,
    name: impl Fn(&T) -> &String,
) -> Result<Page<T>, ScheduleError> {
    let max = request.max_results.unwrap_or(100);
    if !(1..=100).contains(&max) {
        return Err(ScheduleError::Validation(format!(
            "1 validation error detected: Value '{max}' at 'maxResults' failed to satisfy constraint: \
             Member must have value between 1 and 100"
        )));
    }
    let prefix = request.name_prefix.as_deref().unwrap_or("");
    let mut page: Vec<T> = items
        .filter(|i| name(i).starts_with(prefix))
        .filter(|i| request.next_token.as_ref().is_none_or(|t| key(i) > *t))
        .take(max + 1)
        .cloned()
        .collect();
    let next_token = if page.len() > max {
        page.truncate(max);
        page.last().map(&key)
    } else {
        None
    };
    Ok(Page {
        items: page,
        next_token,
    })
}

fn schedule_id(name: &str, group: Option<&str>) -> Result<(String, String), ScheduleError> {
    let group = group.unwrap_or(DEFAULT_GROUP);
    model::check_name("name", name).map_err(ScheduleError::Validation)?;
    model::check_name("groupName", group).map_err(ScheduleError::Validation)?;
    Ok((group.to_string(), name.to_string()))
}

fn check_group(inner: &Inner, group: &str) -> Result<(), ScheduleError> {
    if inner.groups.contains_key(group) {
        Ok(())
    } else {
        Err(group_not_found(group))
    }
}

fn schedule_not_found(name: &str) -> ScheduleError {
    ScheduleError::NotFound(format!("Schedule {name} does not exist."))
}

fn group_not_found(name: &str) -> ScheduleError {
    ScheduleError::NotFound(format!("Schedule group {name} does not exist."))
}

fn internal(e: updraft_queues::QueueError) -> ScheduleError {
    tracing::error!(error = %e, "schedule store write failed");
    ScheduleError::Internal("An internal error occurred; see the server log.".into())
}

fn new_group(account: &Account, name: &str, tags: Vec<model::Tag>) -> StoredGroup {
    let now = now_epoch_seconds();
    StoredGroup {
        group: ScheduleGroup {
            arn: format!(
                "arn:aws:scheduler:{}:{}:schedule-group/{name}",
                account.region, account.account_id
            ),
            creation_date: now,
            last_modification_date: now,
            name: name.to_string(),
            state: "ACTIVE".into(),
        },
        tags,
    }
}

fn put_group(group: &StoredGroup) -> EventWrite {
    EventWrite::PutResource {
        kind: GROUP_KIND.into(),
        key: group.group.name.clone(),
        value: serde_json::to_string(group).expect("plain struct serializes"),
    }
}

fn put_schedule_write(stored: &StoredSchedule) -> EventWrite {
    EventWrite::PutResource {
        kind: SCHEDULE_KIND.into(),
        key: format!("{}/{}", stored.schedule.group_name, stored.schedule.name),
        value: serde_json::to_string(stored).expect("plain struct serializes"),
    }
}

fn delete_schedule_write(id: &(String, String)) -> EventWrite {
    EventWrite::DeleteResource {
        kind: SCHEDULE_KIND.into(),
        key: format!("{}/{}", id.0, id.1),
    }
}

/// Now, as epoch seconds with millisecond precision (how the API renders
/// dates).
fn now_epoch_seconds() -> f64 {
    Utc::now().timestamp_millis() as f64 / 1000.0
}

fn from_epoch_seconds(secs: f64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis((secs * 1000.0).round() as i64).unwrap_or_default()
}
