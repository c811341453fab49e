//! AWS's six-field cron: `cron(minutes hours day-of-month month day-of-week year)`.
//!
//! Fields and what each accepts, as EventBridge Scheduler documents them:
//!
//! ```text
//!  minutes       0-59        , - * /
//!  hours         0-23        , - * /
//!  day-of-month  1-31        , - * / ? L W      (L, LW, 15W)
//!  month         1-12        , - * /            (JAN-DEC)
//!  day-of-week   1-7         , - * / ? L #      (SUN-SAT; 1 is SUN; L, 6L, 2#3)
//!  year          1970-2199   , - * /
//! ```
//!
//! Exactly one of day-of-month and day-of-week is `?`. A [`Cron`] matches
//! wall-clock times (naive local date-times); mapping them to instants in a
//! time zone is [`crate::expression`]'s job.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};

/// The first and last years a cron expression may name.
pub const MIN_YEAR: i32 = 1970;
pub const MAX_YEAR: i32 = 2199;

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A parsed cron expression (the six fields inside `cron(...)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    months: Vec<bool>,
    /// Indexed by `year - MIN_YEAR`.
    years: Vec<bool>,
    days: Days,
}

/// Which days match: by day of the month or by day of the week.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Days {
    OfMonth(Vec<DomItem>),
    OfWeek(Vec<DowItem>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DomItem {
    /// Plain days (from `*`, numbers, ranges and steps), index 1-31.
    Set(Vec<bool>),
    /// `L`: the last day of the month.
    Last,
    /// `LW`: the last weekday (Monday-Friday) of the month.
    LastWeekday,
    /// `15W`: the weekday nearest the 15th, within the month.
    NearestWeekday(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DowItem {
    /// Plain days of the week, index 1-7 (1 is Sunday).
    Set(Vec<bool>),
    /// `6L`: the last such day of the month (`L` alone is the last day of
    /// the week, Saturday, and parses as a plain set).
    LastOfMonth(u32),
    /// `2#3`: the third Monday of the month.
    Nth(u32, u32),
}

impl Cron {
    /// Parses the text inside `cron(...)`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [min, hour, dom, month, dow, year] = fields.as_slice() else {
            return Err(format!(
                "a cron expression has six fields (minutes hours day-of-month month day-of-week year), not {}",
                fields.len()
            ));
        };
        let days = match (*dom == "?", *dow == "?") {
            (true, false) => Days::OfWeek(
                dow.split(',')
                    .map(parse_dow_item)
                    .collect::<Result<_, _>>()?,
            ),
            (false, true) => Days::OfMonth(
                dom.split(',')
                    .map(parse_dom_item)
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err("exactly one of day-of-month and day-of-week must be '?'".to_string()),
        };
        Ok(Cron {
            minutes: parse_set(min, "minutes", 0, 59, &[])?,
            hours: parse_set(hour, "hours", 0, 23, &[])?,
            months: parse_set(month, "month", 1, 12, &MONTHS)?,
            years: parse_set(year, "year", MIN_YEAR as u32, MAX_YEAR as u32, &[])?
                [MIN_YEAR as usize..]
                .to_vec(),
            days,
        })
    }

    /// The first matching wall-clock minute strictly after `after`, or
    /// `None` when no year up to [`MAX_YEAR`] has one.
    pub fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let start = after.with_second(0)?.with_nanosecond(0)? + Duration::minutes(1);
        let mut date = start.date();
        let mut time = start.time();
        loop {
            let year = date.year();
            if year > MAX_YEAR {
                return None;
            }
            if year < MIN_YEAR || !self.years[(year - MIN_YEAR) as usize] {
                date = NaiveDate::from_ymd_opt(year + 1, 1, 1)?;
                time = NaiveTime::MIN;
                continue;
            }
            if !self.months[date.month() as usize] {
                date = first_of_next_month(date)?;
                time = NaiveTime::MIN;
                continue;
            }
            if !self.day_matches(date) {
                date = date.succ_opt()?;
                time = NaiveTime::MIN;
                continue;
            }
            if let Some(t) = self.time_at_or_after(time) {
                return Some(date.and_time(t));
            }
            date = date.succ_opt()?;
            time = NaiveTime::MIN;
        }
    }

    /// The first matching hour:minute of a day at or after `from`.
    fn time_at_or_after(&self, from: NaiveTime) -> Option<NaiveTime> {
        for h in from.hour()..24 {
            if !self.hours[h as usize] {
                continue;
            }
            let first = if h == from.hour() { from.minute() } else { 0 };
            if let Some(m) = (first..60).find(|m| self.minutes[*m as usize]) {
                return NaiveTime::from_hms_opt(h, m, 0);
            }
        }
        None
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        match &self.days {
            Days::OfMonth(items) => items.iter().any(|i| dom_matches(i, date)),
            Days::OfWeek(items) => items.iter().any(|i| dow_matches(i, date)),
        }
    }
}

fn dom_matches(item: &DomItem, date: NaiveDate) -> bool {
    let last = last_day_of_month(date);
    match item {
        DomItem::Set(days) => days[date.day() as usize],
        DomItem::Last => date.day() == last,
        DomItem::LastWeekday => {
            let mut d = date.with_day(last).expect("last day exists");
            while is_weekend(d) {
                d = d.pred_opt().expect("within the month");
            }
            d == date
        }
        DomItem::NearestWeekday(n) => {
            let Some(target) = date.with_day((*n).min(last)) else {
                return false;
            };
            let nearest = match target.weekday() {
                Weekday::Sat if target.day() == 1 => target + Duration::days(2),
                Weekday::Sat => target - Duration::days(1),
                Weekday::Sun if target.day() == last => target - Duration::days(2),
                Weekday::Sun => target + Duration::days(1),
                _ => target,
            };
            nearest == date
        }
    }
}

fn dow_matches(item: &DowItem, date: NaiveDate) -> bool {
    let dow = date.weekday().number_from_sunday();
    match item {
        DowItem::Set(days) => days[dow as usize],
        DowItem::LastOfMonth(d) => *d == dow && date.day() + 7 > last_day_of_month(date),
        DowItem::Nth(d, n) => *d == dow && (date.day() - 1) / 7 + 1 == *n,
    }
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn first_of_next_month(date: NaiveDate) -> Option<NaiveDate> {
    if date.month() == 12 {
        NaiveDate::from_ymd_opt(date.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(date.year(), date.month() + 1, 1)
    }
}

fn last_day_of_month(date: NaiveDate) -> u32 {
    first_of_next_month(date)
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day())
}

fn parse_dom_item(item: &str) -> Result<DomItem, String> {
    match item {
        "L" => return Ok(DomItem::Last),
        "LW" => return Ok(DomItem::LastWeekday),
        _ => {}
    }
    if let Some(n) = item.strip_suffix('W') {
        let n = parse_number(n, "day-of-month", 1, 31, &[])?;
        return Ok(DomItem::NearestWeekday(n));
    }
    Ok(DomItem::Set(parse_set(item, "day-of-month", 1, 31, &[])?))
}

fn parse_dow_item(item: &str) -> Result<DowItem, String> {
    if item == "L" {
        let mut saturday = vec![false; 8];
        saturday[7] = true;
        return Ok(DowItem::Set(saturday));
    }
    if let Some(d) = item.strip_suffix('L') {
        return Ok(DowItem::LastOfMonth(parse_number(
            d,
            "day-of-week",
            1,
            7,
            &DAYS,
        )?));
    }
    if let Some((d, n)) = item.split_once('#') {
        let d = parse_number(d, "day-of-week", 1, 7, &DAYS)?;
        let n = parse_number(n, "day-of-week '#'", 1, 5, &[])?;
        return Ok(DowItem::Nth(d, n));
    }
    Ok(DowItem::Set(parse_set(item, "day-of-week", 1, 7, &DAYS)?))
}

/// Parses a comma-separated list of `*`, `N`, `N-M` with an optional
/// `/STEP`, into membership flags indexed by value (`0..=max`).
fn parse_set(
    field: &str,
    what: &str,
    min: u32,
    max: u32,
    names: &[&str],
) -> Result<Vec<bool>, String> {
    let mut set = vec![false; max as usize + 1];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .ok()
                    .filter(|s| *s >= 1)
                    .ok_or_else(|| format!("invalid step '{s}' in the {what} field"))?;
                (r, step)
            }
            None => (item, 1),
        };
        let (from, to) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a = parse_number(a, what, min, max, names)?;
            let b = parse_number(b, what, min, max, names)?;
            if a > b {
                return Err(format!("invalid range '{range}' in the {what} field"));
            }
            (a, b)
        } else {
            let a = parse_number(range, what, min, max, names)?;
            // `5/10` runs from 5 to the end of the range.
            (a, if item.contains('/') { max } else { a })
        };
        for v in (from..=to).step_by(step as usize) {
            set[v as usize] = true;
        }
    }
    Ok(set)
}

/// A number within `min..=max`, or a name from `names` (its position
/// plus `min`).
fn parse_number(text: &str, what: &str, min: u32, max: u32, names: &[&str]) -> Result<u32, String> {
    let upper = text.to_ascii_uppercase();
    if let Some(i) = names.iter().position(|n| *n == upper) {
        return Ok(min + i as u32);
    }
    text.parse::<u32>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| format!("invalid value '{text}' in the {what} field (allowed: {min}-{max})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    fn next(expr: &str, after: &str) -> String {
        Cron::parse(expr)
            .unwrap()
            .next_after(at(after))
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|| "none".into())
    }

    fn sequence(expr: &str, after: &str, n: usize) -> Vec<String> {
        let cron = Cron::parse(expr).unwrap();
        let mut t = at(after);
        (0..n)
            .map(|_| {
                t = cron.next_after(t).unwrap();
                t.format("%Y-%m-%d %H:%M").to_string()
            })
            .collect()
    }

    #[test]
    fn every_minute_and_steps() {
        assert_eq!(next("* * * * ? *", "2026-11-26 21:00"), "2026-11-26 21:01");
        assert_eq!(
            sequence("0/15 * * * ? *", "2026-11-26 21:00", 3),
            ["2026-11-26 21:15", "2026-11-26 21:30", "2026-11-26 21:45"]
        );
        assert_eq!(
            sequence("*/20 9-10 * * ? *", "2026-11-26 10:40", 2),
            ["2026-11-27 09:00", "2026-11-27 09:20"]
        );
        assert_eq!(
            next("5,10 8 * * ? *", "2026-11-26 08:05"),
            "2026-11-26 08:10"
        );
    }

    #[test]
    fn seconds_of_the_start_instant_are_ignored() {
        let cron = Cron::parse("* * * * ? *").unwrap();
        let t = at("2026-11-26 21:00") + Duration::seconds(30);
        assert_eq!(cron.next_after(t), Some(at("2026-11-26 21:01")));
    }

    #[test]
    fn names_and_day_of_week_numbering() {
        // 1 is Sunday: 2026-11-29 is a Sunday.
        assert_eq!(next("0 12 ? * 1 *", "2026-11-26 00:00"), "2026-11-29 12:00");
        assert_eq!(
            next("0 12 ? * SUN *", "2026-11-26 00:00"),
            "2026-11-29 12:00"
        );
        assert_eq!(
            sequence("0 18 ? * MON-FRI *", "2026-11-27 19:00", 2),
            ["2026-11-30 18:00", "2026-12-01 18:00"]
        );
        assert_eq!(
            next("0 0 1 jan,JUL ? *", "2026-11-26 00:00"),
            "2027-01-01 00:00"
        );
    }

    #[test]
    fn last_day_of_month_and_last_weekday() {
        assert_eq!(
            sequence("0 0 L * ? *", "2028-01-31 00:00", 2),
            ["2028-02-29 00:00", "2028-03-31 00:00"]
        );
        // Last weekday of January 2027: the 31st is a Sunday, so Friday the 29th.
        assert_eq!(next("0 0 LW 1 ? *", "2026-12-01 00:00"), "2027-01-29 00:00");
        // `L` in day-of-week is Saturday.
        assert_eq!(next("0 0 ? * L *", "2026-11-26 00:00"), "2026-11-28 00:00");
        // Last Friday of the month.
        assert_eq!(next("0 0 ? * 6L *", "2026-11-01 00:00"), "2026-11-27 00:00");
    }

    #[test]
    fn nearest_weekday() {
        // 2026-11-15 is a Sunday: the nearest weekday is Monday the 16th.
        assert_eq!(
            next("0 9 15W * ? *", "2026-11-01 00:00"),
            "2026-11-16 09:00"
        );
        // 2026-08-01 is a Saturday: 1W does not leave the month, Monday the 3rd.
        assert_eq!(next("0 9 1W 8 ? *", "2026-01-01 00:00"), "2026-08-03 09:00");
        // 2026-05-30 is a Saturday: Friday the 29th.
        assert_eq!(
            next("0 9 30W 5 ? *", "2026-01-01 00:00"),
            "2026-05-29 09:00"
        );
    }

    #[test]
    fn nth_day_of_week() {
        // The second Tuesday of December 2026 is the 8th.
        assert_eq!(
            next("0 10 ? 12 3#2 *", "2026-11-26 00:00"),
            "2026-12-08 10:00"
        );
        // A fifth Monday only exists in some months; November 2026 has one.
        assert_eq!(
            next("0 0 ? * 2#5 *", "2026-11-26 00:00"),
            "2026-11-30 00:00"
        );
        // December 2026 has none: the next is 29 March 2027.
        assert_eq!(
            next("0 0 ? * 2#5 *", "2026-11-30 00:00"),
            "2027-03-29 00:00"
        );
    }

    #[test]
    fn years_bound_the_schedule() {
        assert_eq!(
            next("0 0 1 1 ? 2027", "2026-11-26 00:00"),
            "2027-01-01 00:00"
        );
        assert_eq!(next("0 0 1 1 ? 2027", "2027-01-01 00:00"), "none");
        assert_eq!(
            next("0 0 29 2 ? 2030-2199", "2026-11-26 00:00"),
            "2032-02-29 00:00"
        );
        assert_eq!(next("0 0 31 12 ? *", "2199-12-31 00:00"), "none");
    }

    #[test]
    fn invalid_expressions() {
        for bad in [
            "* * * * *",
            "* * * * * *",
            "* * ? * ? *",
            "60 * * * ? *",
            "* 24 * * ? *",
            "* * 0 * ? *",
            "* * 32 * ? *",
            "* * * 13 ? *",
            "* * * FOO ? *",
            "* * ? * 8 *",
            "* * ? * 2#6 *",
            "* * ? * 2#0 *",
            "* * * * ? 1969",
            "* * * * ? 2200",
            "5-1 * * * ? *",
            "*/0 * * * ? *",
            "a * * * ? *",
            "* * 32W * ? *",
            "* * ? * 9L *",
            "* * * * ? * *",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
