//! Which slot fires, and when: the once-per-slot guard, the flexible time
//! window and the missed-slot policy, as pure functions of a schedule's
//! timing and the current instant (so tests inject the clock).
//!
//! A slot is eligible when it is after the last fired slot, at or after
//! the moment the schedule was created or last changed (its *armed*
//! instant), and, for `rate` and `cron`, between StartDate and EndDate.
//! It fires at the slot plus its flexible-window delay. When several
//! eligible slots are due at once (the server was down), only the latest
//! fires; the older ones are skipped.

use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::expression::Expression;

/// How long after its time a one-time schedule may be created and still
/// fire.
pub const AT_GRACE: Duration = Duration::minutes(1);

/// Everything that decides a schedule's slots.
#[derive(Debug, Clone)]
pub struct Timing {
    pub expression: Expression,
    pub tz: Tz,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// When the schedule was created or last changed.
    pub armed: DateTime<Utc>,
    /// The flexible time window; zero when the mode is OFF.
    pub window: Duration,
    /// Spreads slots within the window (the schedule's ARN).
    pub seed: String,
}

impl Timing {
    /// The slot to fire at `now`, if one is due.
    pub fn due(
        &self,
        last_fired: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let lower = self.lower_bound(last_fired);
        // Every slot more than a window before `now` is due; the latest
        // due slot is therefore either recent, or the last slot of a sparse
        // expression, found by scanning from the lower bound.
        let recent = lower.max(now - self.window - Duration::days(1));
        self.latest_due(recent, now, now)
            .or_else(|| self.latest_due(lower, recent, now))
    }

    /// When a slot falls due after `now` (the time to look again).
    pub fn next_fire_time(
        &self,
        last_fired: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut after = self.lower_bound(last_fired).max(now - self.window);
        let mut earliest: Option<DateTime<Utc>> = None;
        while let Some(slot) = self.next_slot(after) {
            let fire = slot + self.delay(slot);
            if fire > now {
                earliest = Some(earliest.map_or(fire, |e| e.min(fire)));
            }
            if slot > now {
                break;
            }
            after = slot;
        }
        earliest
    }

    /// Whether no slot follows `slot` (the schedule is complete once it
    /// fires).
    pub fn is_last(&self, slot: DateTime<Utc>) -> bool {
        self.next_slot(slot).is_none()
    }

    /// The latest slot in `(after, until]` whose fire time is not after
    /// `now`.
    fn latest_due(
        &self,
        mut after: DateTime<Utc>,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let mut latest = None;
        while let Some(slot) = self.next_slot(after).filter(|s| *s <= until) {
            if slot + self.delay(slot) <= now {
                latest = Some(slot);
            }
            after = slot;
        }
        latest
    }

    /// The first eligible slot strictly after `after`, ignoring the guard.
    fn next_slot(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let slot = self
            .expression
            .next_after(after, self.rate_anchor(), self.tz)?;
        match self.expression {
            Expression::At(_) => Some(slot),
            _ => Some(slot).filter(|s| self.end.is_none_or(|end| *s <= end)),
        }
    }

    /// Slots are strictly after this instant.
    fn lower_bound(&self, last_fired: Option<DateTime<Utc>>) -> DateTime<Utc> {
        let before = |t: DateTime<Utc>| t - Duration::milliseconds(1);
        let lower = match (self.expression.is_one_time(), self.start) {
            // Scheduler works to the minute: a one-time schedule created
            // within a minute after its time still fires.
            (true, _) => before(self.armed - AT_GRACE),
            (false, Some(start)) => before(self.armed.max(start)),
            (false, None) => before(self.armed),
        };
        last_fired.map_or(lower, |l| lower.max(l))
    }

    /// `rate` slots: from StartDate, or from when the schedule was armed
    /// (the next whole second).
    fn rate_anchor(&self) -> DateTime<Utc> {
        self.start.unwrap_or_else(|| {
            let secs = self.armed.timestamp() + i64::from(self.armed.timestamp_subsec_millis() > 0);
            DateTime::from_timestamp(secs, 0).unwrap_or(self.armed)
        })
    }

    /// How long after its slot a slot fires: a stable pseudo-random point
    /// in the window, the same after a restart.
    fn delay(&self, slot: DateTime<Utc>) -> Duration {
        let window = self.window.num_seconds();
        if window <= 0 {
            return Duration::zero();
        }
        let mut h = DefaultHasher::new();
        (&self.seed, slot.timestamp()).hash(&mut h);
        Duration::seconds((h.finish() % window as u64) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn timing(expr: &str, armed: &str) -> Timing {
        Timing {
            expression: Expression::parse(expr).unwrap(),
            tz: Tz::UTC,
            start: None,
            end: None,
            armed: utc(armed),
            window: Duration::zero(),
            seed: "arn".into(),
        }
    }

    #[test]
    fn a_slot_fires_once() {
        let t = timing("cron(0 * * * ? *)", "2026-11-26T20:30:00Z");
        let now = utc("2026-11-26T21:00:00Z");
        assert_eq!(t.due(None, now), Some(now));
        assert_eq!(t.due(Some(now), now), None);
        assert_eq!(t.due(Some(now), utc("2026-11-26T21:59:59Z")), None);
        assert_eq!(
            t.next_fire_time(Some(now), now),
            Some(utc("2026-11-26T22:00:00Z"))
        );
    }

    #[test]
    fn only_the_latest_missed_slot_fires() {
        let t = timing("cron(0 * * * ? *)", "2026-11-26T00:30:00Z");
        // Fired at 02:00, then down until 07:10: 03:00 to 07:00 were missed.
        let last = Some(utc("2026-11-26T02:00:00Z"));
        let now = utc("2026-11-26T07:10:00Z");
        assert_eq!(t.due(last, now), Some(utc("2026-11-26T07:00:00Z")));
        let fired = t.due(last, now);
        assert_eq!(t.due(fired, now), None);
    }

    #[test]
    fn a_missed_sparse_slot_fires_after_a_long_outage() {
        let t = timing("cron(0 0 1 1 ? *)", "2025-06-01T00:00:00Z");
        let now = utc("2026-03-01T00:00:00Z");
        assert_eq!(t.due(None, now), Some(utc("2026-01-01T00:00:00Z")));
    }

    #[test]
    fn a_missed_one_time_slot_fires_once() {
        let t = timing("at(2026-11-26T21:00:00)", "2026-11-26T20:00:00Z");
        let now = utc("2026-11-27T09:00:00Z");
        let slot = utc("2026-11-26T21:00:00Z");
        assert_eq!(t.due(None, now), Some(slot));
        assert_eq!(t.due(Some(slot), now), None);
        assert_eq!(t.next_fire_time(Some(slot), now), None);
        assert!(t.is_last(slot));
    }

    #[test]
    fn slots_before_the_schedule_was_armed_never_fire() {
        let t = timing("at(2026-11-26T21:00:00)", "2026-11-26T22:00:00Z");
        assert_eq!(t.due(None, utc("2026-11-26T23:00:00Z")), None);
        // Within the minute: it still fires.
        let late = timing("at(2026-11-26T21:00:00)", "2026-11-26T21:00:40Z");
        assert_eq!(
            late.due(None, utc("2026-11-26T21:00:41Z")),
            Some(utc("2026-11-26T21:00:00Z"))
        );
        let c = timing("cron(0 * * * ? *)", "2026-11-26T21:00:01Z");
        assert_eq!(c.due(None, utc("2026-11-26T21:30:00Z")), None);
    }

    #[test]
    fn rate_starts_at_creation_or_at_the_start_date() {
        let mut t = timing("rate(10 minutes)", "2026-11-26T21:00:00.250Z");
        assert_eq!(
            t.next_fire_time(None, utc("2026-11-26T21:00:00.300Z")),
            Some(utc("2026-11-26T21:00:01Z"))
        );
        let first = utc("2026-11-26T21:00:01Z");
        assert_eq!(
            t.next_fire_time(Some(first), first),
            Some(utc("2026-11-26T21:10:01Z"))
        );
        t.start = Some(utc("2026-11-26T22:00:00Z"));
        assert_eq!(
            t.next_fire_time(None, utc("2026-11-26T21:00:01Z")),
            Some(utc("2026-11-26T22:00:00Z"))
        );
    }

    #[test]
    fn the_end_date_bounds_slots_and_completes_the_schedule() {
        let mut t = timing("cron(0 * * * ? *)", "2026-11-26T20:30:00Z");
        t.end = Some(utc("2026-11-26T22:30:00Z"));
        let last = utc("2026-11-26T22:00:00Z");
        assert!(t.is_last(last));
        assert_eq!(t.next_fire_time(Some(last), last), None);
        assert_eq!(t.due(Some(last), utc("2026-11-27T05:00:00Z")), None);
        // Down past the end: its last slot still fires once.
        assert_eq!(
            t.due(
                Some(utc("2026-11-26T21:00:00Z")),
                utc("2026-11-27T05:00:00Z")
            ),
            Some(last)
        );
    }

    #[test]
    fn the_flexible_window_delays_each_slot_within_the_window() {
        let mut t = timing("cron(0 * * * ? *)", "2026-11-26T20:30:00Z");
        t.window = Duration::minutes(15);
        let slot = utc("2026-11-26T21:00:00Z");
        let fire = t.next_fire_time(None, utc("2026-11-26T20:59:00Z")).unwrap();
        assert!(
            fire >= slot && fire < slot + Duration::minutes(15),
            "{fire}"
        );
        assert_eq!(t.due(None, fire - Duration::seconds(1)), None);
        assert_eq!(t.due(None, fire), Some(slot));
        // The same point after a restart.
        assert_eq!(
            t.clone().next_fire_time(None, utc("2026-11-26T20:59:00Z")),
            Some(fire)
        );
    }
}
