//! A small RFC 3339 timestamp parser for the `created` fields of image
//! configurations and histories.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses an RFC 3339 timestamp such as `2015-04-08T18:52:59.123456789Z` or
/// `2024-01-02T03:04:05+02:00` into a [`SystemTime`].
///
/// Accepted: a four-digit year (dates before 1970 included, down to docker's
/// zero time `0001-01-01T00:00:00Z`), `T`, `t` or a space between date and
/// time, an optional fraction of a second (digits past the ninth are
/// ignored), and a `Z`/`z` or `±hh:mm` offset. A leap second (`:60`) reads
/// as the first second of the next minute.
///
/// Returns `None` for anything else, for an impossible date (`2023-02-29`),
/// and for an instant the platform's `SystemTime` cannot represent (on
/// Windows, dates before 1601).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = dockreg::models::parse_rfc3339("1970-01-01T00:01:00.5+00:01").unwrap();
/// assert_eq!(t, UNIX_EPOCH + Duration::from_millis(500));
/// assert!(dockreg::models::parse_rfc3339("yesterday").is_none());
/// ```
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }

    let mut i = 19;
    let mut nanos: u32 = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..9 {
            nanos *= 10;
        }
    }

    let offset_secs: i64 = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let oh = digits(b, i + 1, 2)?;
            let om = digits(b, i + 4, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = i64::from(oh * 3600 + om * 60);
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };

    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    let nanos = Duration::from_nanos(u64::from(nanos));
    if secs >= 0 {
        UNIX_EPOCH
            .checked_add(Duration::from_secs(secs as u64))?
            .checked_add(nanos)
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))?
            .checked_add(nanos)
    }
}

/// Writes `t` as RFC 3339 in UTC: `2020-07-28T00:19:37.054Z`, to the
/// millisecond, with no fraction when the milliseconds are zero
/// (`2026-12-01T11:05:00Z`). The inverse of [`parse_rfc3339`] for such
/// times.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let t = UNIX_EPOCH + Duration::from_millis(1_595_895_577_054);
/// assert_eq!(dockreg::models::format_rfc3339(t), "2020-07-28T00:19:37.054Z");
/// assert_eq!(dockreg::models::parse_rfc3339("2020-07-28T00:19:37.054Z"), Some(t));
/// ```
pub fn format_rfc3339(t: SystemTime) -> String {
    let (secs, millis) = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_millis()),
        Err(e) => {
            // Before 1970: whole seconds down, the rest as milliseconds up.
            let d = e.duration();
            let ms = d.subsec_millis();
            let secs = -(d.as_secs() as i64) - i64::from(ms > 0);
            (secs, if ms > 0 { 1000 - ms } else { 0 })
        }
    };
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let fraction = if millis > 0 {
        format!(".{millis:03}")
    } else {
        String::new()
    };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{fraction}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, the inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// `len` ASCII digits at `at`, as a number.
fn digits(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let part = b.get(at..at + len)?;
    part.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard
/// Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &str) -> (i64, u32) {
        let t = parse_rfc3339(s).unwrap_or_else(|| panic!("{s} should parse"));
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
            Err(e) => {
                let d = e.duration();
                if d.subsec_nanos() == 0 {
                    (-(d.as_secs() as i64), 0)
                } else {
                    (-(d.as_secs() as i64) - 1, 1_000_000_000 - d.subsec_nanos())
                }
            }
        }
    }

    #[test]
    fn parses_utc_and_fractions() {
        assert_eq!(secs("1970-01-01T00:00:00Z"), (0, 0));
        assert_eq!(secs("2015-04-08T18:52:59Z"), (1_428_519_179, 0));
        assert_eq!(
            secs("2026-11-23T17:19:11.370534263Z"),
            (1_795_454_351, 370_534_263)
        );
        assert_eq!(secs("2000-02-29t12:00:00.5z"), (951_825_600, 500_000_000));
        assert_eq!(secs("2000-02-29 12:00:00.123Z"), (951_825_600, 123_000_000));
        // Digits past nanoseconds are ignored.
        assert_eq!(secs("1970-01-01T00:00:01.1234567891Z"), (1, 123_456_789));
    }

    #[test]
    fn applies_offsets() {
        assert_eq!(secs("1970-01-01T01:00:00+01:00"), (0, 0));
        assert_eq!(secs("1969-12-31T19:00:00-05:00"), (0, 0));
        assert_eq!(
            secs("2024-01-02T03:04:05.25+05:30"),
            secs("2024-01-01T21:34:05.25Z")
        );
    }

    #[test]
    fn parses_dates_before_1970() {
        assert_eq!(secs("1969-12-31T23:59:59Z"), (-1, 0));
        assert_eq!(secs("1969-12-31T23:59:59.75Z"), (-1, 750_000_000));
        assert_eq!(secs("1900-01-01T00:00:00Z"), (-2_208_988_800, 0));
    }

    #[test]
    #[cfg(unix)]
    fn parses_docker_zero_time() {
        assert_eq!(secs("0001-01-01T00:00:00Z"), (-62_135_596_800, 0));
    }

    #[test]
    fn leap_second_rolls_over() {
        assert_eq!(secs("2016-12-31T23:59:60Z"), secs("2017-01-01T00:00:00Z"));
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            "",
            "yesterday",
            "2015-04-08",
            "2015-04-08T18:52:59",
            "2015-04-08T18:52:59ZZ",
            "2015-04-08T18:52:59+0100",
            "2015-04-08T18:52:59+01:00 ",
            " 2015-04-08T18:52:59Z",
            "2015-04-08T18:52:59.Z",
            "2015-4-08T18:52:59Z",
            "2015/04/08T18:52:59Z",
            "2015-04-08X18:52:59Z",
            "2015-13-08T18:52:59Z",
            "2015-00-08T18:52:59Z",
            "2015-04-31T18:52:59Z",
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2015-04-08T24:00:00Z",
            "2015-04-08T18:60:00Z",
            "2015-04-08T18:52:61Z",
            "2015-04-08T18:52:59+24:00",
            "2015-04-08T18:52:59+01:60",
            "+015-04-08T18:52:59Z",
            "2015-04-08T18:52:59.12é",
            "２015-04-08T18:52:59Z",
        ] {
            assert!(parse_rfc3339(bad).is_none(), "{bad:?} should not parse");
        }
        assert!(parse_rfc3339("2000-02-29T00:00:00Z").is_some());
    }

    #[test]
    fn formats_and_parses_back() {
        for ms in [
            0u64,
            1,
            999,
            1_000,
            951_782_400_000,
            1_595_895_577_054,
            253_402_300_799_999,
        ] {
            let t = UNIX_EPOCH + Duration::from_millis(ms);
            let text = format_rfc3339(t);
            assert_eq!(parse_rfc3339(&text), Some(t), "{text}");
        }
        assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        // 2000-02-29, a leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(format_rfc3339(leap), "2000-02-29T00:00:00Z");
        let before = UNIX_EPOCH - Duration::from_millis(1_500);
        assert_eq!(format_rfc3339(before), "1969-12-31T23:59:58.500Z");
        assert_eq!(parse_rfc3339("1969-12-31T23:59:58.500Z"), Some(before));
    }
}
