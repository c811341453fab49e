//! Dates in conditions: ISO 8601 in the lenient forms IAM accepts
//! (`2019-07-01`, `2019-07-01T13:20:15Z`, `2016-12-13T21:20:37.593194+00:00`,
//! `2016-12-13t2:00`, a bare year) or seconds since the epoch.
//!
//! [`parse`] is both the write-time check (a value it refuses makes the
//! document fail "legacy parsing", as IAM reports it) and the reader used
//! at evaluation time, for policy values and request values alike. Years
//! range over what IAM accepts (−292275054 to 292278993), so the civil
//! date arithmetic is done here rather than with a calendar library.

/// An instant: seconds since 1970-01-01T00:00:00Z and nanoseconds.
pub(crate) type Instant = (i64, u32);

/// Reads a date condition value; `None` if IAM would refuse it.
pub(crate) fn parse(value: &str) -> Option<Instant> {
    if value.contains(['t', 'T', '-']) {
        iso8601(value)
    } else {
        let secs: u64 = parse_uint(value)?;
        let secs = i64::try_from(secs).ok()?;
        Some((secs, 0))
    }
}

/// Digits only (at least one), as an unsigned number.
fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An optionally signed integer.
fn parse_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let v = i64::try_from(parse_uint(digits)?).ok()?;
    Some(if neg { -v } else { v })
}

fn in_range(s: &str, lo: i64, hi: i64) -> Option<i64> {
    parse_int(s).filter(|v| (lo..=hi).contains(v))
}

fn iso8601(s: &str) -> Option<Instant> {
    let (date, time) = match s.split_once(['t', 'T']) {
        Some((d, t)) => (d, t),
        None => (s, ""),
    };
    let (negative, date) = match date.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, date),
    };
    let mut parts = date.split('-');
    let year = in_range(parts.next()?, 0, 292_278_993)?;
    let year = if negative {
        if year > 292_275_054 {
            return None;
        }
        -year
    } else {
        year
    };
    let month = match parts.next() {
        Some(m) => in_range(m, 1, 12)?,
        None => 1,
    };
    let day = match parts.next() {
        Some(d) => in_range(d, 1, 31)?,
        None => 1,
    };
    if parts.next().is_some() {
        return None;
    }
    let (secs_of_day, nanos, offset) = time_of_day(time)?;
    let days = days_from_civil(year, month, day);
    let secs = days
        .checked_mul(86_400)?
        .checked_add(secs_of_day)?
        .checked_sub(offset)?;
    Some((secs, nanos))
}

/// `hh[:mm[:ss[.fraction]]][z|±hh[:mm]]` → (seconds of the day, nanoseconds,
/// zone offset in seconds). Every part may be missing.
fn time_of_day(time: &str) -> Option<(i64, u32, i64)> {
    if time.is_empty() {
        return Some((0, 0, 0));
    }
    // The zone designator, if any, follows the seconds or the minutes.
    let (clock, offset) = match time.find(['z', 'Z', '+', '-']) {
        Some(at) => (&time[..at], zone(&time[at..])?),
        None => (time, 0),
    };
    let mut parts = clock.split(':');
    let hours = match parts.next() {
        Some("") | None => 0,
        Some(h) => in_range(h, 0, 23)?,
    };
    let minutes = match parts.next() {
        Some(m) => in_range(m, 0, 59)?,
        None => 0,
    };
    let (seconds, nanos) = match parts.next() {
        Some(s) => {
            let (whole, fraction) = match s.split_once('.') {
                Some((w, f)) => (w, Some(f)),
                None => (s, None),
            };
            let whole = in_range(whole, 0, 59)?;
            let nanos = match fraction {
                Some(f) => {
                    let value = in_range(f, 0, 999_999_999)?;
                    let digits = f.trim_start_matches(['+', '-']).len();
                    fraction_nanos(value, digits)
                }
                None => 0,
            };
            (whole, nanos)
        }
        None => (0, 0),
    };
    if parts.next().is_some() {
        return None;
    }
    Some((hours * 3600 + minutes * 60 + seconds, nanos, offset))
}

/// `.5` is half a second: scale a fraction of `digits` digits to nanoseconds.
fn fraction_nanos(value: i64, digits: usize) -> u32 {
    let mut v = value;
    let mut d = digits;
    while d < 9 {
        v *= 10;
        d += 1;
    }
    while d > 9 {
        v /= 10;
        d -= 1;
    }
    u32::try_from(v).unwrap_or(0)
}

/// `Z`, `+hh`, `+hh:mm`, `-hh`, `-hh:mm` → offset east of UTC in seconds.
fn zone(z: &str) -> Option<i64> {
    if z.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let sign = if z.starts_with('-') { -1 } else { 1 };
    let body = &z[1..];
    let (h, m) = match body.split_once(':') {
        Some((h, m)) => (h, Some(m)),
        None => (body, None),
    };
    if h.len() != 2 {
        return None;
    }
    let hours = in_range(h, 0, 23)?;
    let minutes = match m {
        Some(m) if m.len() == 2 => in_range(m, 0, 59)?,
        Some(_) => return None,
        None => 0,
    };
    Some(sign * (hours * 3600 + minutes * 60))
}

/// Days from 1970-01-01 to the given proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_iam_accepts() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(parse("2017-07-01T00:00:00Z"), Some((1_498_867_200, 0)));
        assert_eq!(parse("2017-07-01"), Some((1_498_867_200, 0)));
        assert_eq!(parse("2017-07-01T02:00:00+02:00"), Some((1_498_867_200, 0)));
        assert_eq!(parse("2017-06-30T22:00:00-02:00"), Some((1_498_867_200, 0)));
        assert_eq!(
            parse("2016-12-13T21:20:37.593194+00:00"),
            Some((1_481_664_037, 593_194_000))
        );
        assert_eq!(parse("1498867200"), Some((1_498_867_200, 0)));
        assert!(parse("01T").is_some());
        assert!(parse("2016-12-13t2:00:00.593194+23").is_some());
        assert!(parse("-292275054").is_some());
        assert!(parse("9223372036854775807").is_some());
    }

    #[test]
    fn forms_iam_refuses() {
        for bad in [
            "sdfdsf",
            "234-13",
            "2016-12-13t2:00:00.593194+1",
            "2016-12-13t2:00:00.1999999999+10:59",
            "9223372036854775808",
            "2016-12-32",
            "2016-12-13T24:00",
            "2016-12-13-01",
            "",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn order_follows_time() {
        let a = parse("2017-07-01T00:00:00Z");
        let b = parse("2017-07-01T00:00:00.5Z");
        let c = parse("2017-07-01T00:00:01Z");
        assert!(a < b && b < c);
    }
}
