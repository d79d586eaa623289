//! HTTP-dates (RFC 9110, section 5.6.7), as `Retry-After` and `Date` carry
//! them, to seconds since the Unix epoch. No allocation, no clock.
//!
//! A recipient must accept all three forms:
//!
//! - IMF-fixdate, the one senders use: `Sun, 06 Nov 1994 08:49:37 GMT`;
//! - the obsolete RFC 850 form: `Sunday, 06-Nov-94 08:49:37 GMT`;
//! - the obsolete asctime form: `Sun Nov  6 08:49:37 1994`.
//!
//! The day name is not checked against the date (RFC 9110 lets a recipient
//! ignore it); a two-digit year is read as the nearest year ending in those
//! digits that is not far in the future, taken here as 1970 to 2069.

/// Seconds since 1970-01-01T00:00:00Z of an HTTP-date, or `None` when
/// `value` is not one (or is before 1970).
pub(crate) fn parse(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    let comma = value.iter().position(|&b| b == b',');
    let (day, month, year, time) = match comma {
        // IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
        Some(3) => {
            let rest = value.get(4..)?;
            let mut parts = rest.split(|&b| b == b' ').filter(|p| !p.is_empty());
            let day = parts.next()?;
            let month = parts.next()?;
            let year = parts.next()?;
            let time = parts.next()?;
            if parts.next()? != b"GMT" || parts.next().is_some() || year.len() != 4 {
                return None;
            }
            (number(day)?, month_number(month)?, number(year)?, time)
        }
        // RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT`.
        Some(_) => {
            let rest = value.get(comma? + 1..)?;
            let mut parts = rest.split(|&b| b == b' ').filter(|p| !p.is_empty());
            let date = parts.next()?;
            let time = parts.next()?;
            if parts.next()? != b"GMT" || parts.next().is_some() {
                return None;
            }
            let mut dmy = date.split(|&b| b == b'-');
            let day = number(dmy.next()?)?;
            let month = month_number(dmy.next()?)?;
            let yy = dmy.next()?;
            if dmy.next().is_some() || yy.len() != 2 {
                return None;
            }
            let yy = number(yy)?;
            let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
            (day, month, year, time)
        }
        // asctime: `Sun Nov  6 08:49:37 1994`.
        None => {
            let mut parts = value.split(|&b| b == b' ').filter(|p| !p.is_empty());
            let _day_name = parts.next()?;
            let month = month_number(parts.next()?)?;
            let day = number(parts.next()?)?;
            let time = parts.next()?;
            let year = parts.next()?;
            if parts.next().is_some() || year.len() != 4 {
                return None;
            }
            (day, month, number(year)?, time)
        }
    };
    let mut hms = time.split(|&b| b == b':');
    let (h, m, s) = (hms.next()?, hms.next()?, hms.next()?);
    if hms.next().is_some() || h.len() != 2 || m.len() != 2 || s.len() != 2 {
        return None;
    }
    let (h, m, s) = (number(h)?, number(m)?, number(s)?);
    // 60 is a leap second, which the format allows.
    if h > 23 || m > 59 || s > 60 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_since_epoch(year, month, day)?;
    Some(days * 86_400 + h * 3_600 + m * 60 + s)
}

/// A run of ASCII digits (at most 4) as a number.
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 4 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// `Jan` to `Dec` (case-sensitive, as the grammar says) as 1 to 12.
fn month_number(name: &[u8]) -> Option<u64> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let at = MONTHS.iter().position(|&m| m == name)?;
    Some(at as u64 + 1)
}

fn is_leap(year: u64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the date, by counting whole years and months:
/// simple, and the years an HTTP-date can hold are few.
fn days_since_epoch(year: u64, month: u64, day: u64) -> Option<u64> {
    if year < 1970 {
        return None;
    }
    let years = year - 1970;
    // Leap years in 1970..year: those divisible by 4, less by 100, plus by 400.
    let before = |y: u64| (y - 1) / 4 - (y - 1) / 100 + (y - 1) / 400;
    let leap_days = before(year) - before(1970);
    let months: u64 = (1..month).map(|m| days_in_month(year, m)).sum();
    Some(years * 365 + leap_days + months + day - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms_of_rfc_9110s_example_are_the_same_instant() {
        // 784111777 is 1994-11-06T08:49:37Z.
        for form in [
            &b"Sun, 06 Nov 1994 08:49:37 GMT"[..],
            b"Sunday, 06-Nov-94 08:49:37 GMT",
            b"Sun Nov  6 08:49:37 1994",
            b"  Sun, 06 Nov 1994 08:49:37 GMT ",
        ] {
            assert_eq!(parse(form), Some(784_111_777), "{form:?}");
        }
    }

    #[test]
    fn dates_around_leap_days_and_epochs() {
        assert_eq!(parse(b"Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse(b"Thu, 29 Feb 2024 12:00:00 GMT"), Some(1_709_208_000));
        assert_eq!(parse(b"Fri, 01 Mar 2024 00:00:00 GMT"), Some(1_709_251_200));
        assert_eq!(parse(b"Wed, 01 Mar 2100 00:00:00 GMT"), Some(4_107_542_400));
        assert_eq!(parse(b"Tue, 29 Feb 2000 00:00:00 GMT"), Some(951_782_400));
        assert_eq!(parse(b"Sun, 29 Nov 2026 01:27:26 GMT"), Some(1_795_915_646));
        assert_eq!(parse(b"Friday, 31-Dec-99 23:59:59 GMT"), Some(946_684_799));
        assert_eq!(
            parse(b"Saturday, 01-Jan-00 00:00:00 GMT"),
            Some(946_684_800)
        );
    }

    #[test]
    fn two_digit_years_are_1970_to_2069() {
        assert_eq!(parse(b"Thursday, 01-Jan-70 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse(b"Sunday, 29-Nov-26 01:27:26 GMT"),
            parse(b"Sun, 29 Nov 2026 01:27:26 GMT")
        );
        assert_eq!(
            parse(b"Sunday, 29-Nov-26 01:27:26 GMT"),
            Some(1_795_915_646)
        );
        assert_eq!(
            parse(b"Tuesday, 31-Dec-69 23:59:59 GMT"),
            parse(b"Tue, 31 Dec 2069 23:59:59 GMT")
        );
        assert_eq!(
            parse(b"Tuesday, 31-Dec-69 23:59:59 GMT"),
            Some(3_155_759_999)
        );
    }

    #[test]
    fn a_leap_second_is_read_as_the_next_second() {
        // 2016-12-31T23:59:60Z, the last leap second, is 2017-01-01T00:00:00Z.
        assert_eq!(parse(b"Sat, 31 Dec 2016 23:59:60 GMT"), Some(1_483_228_800));
        assert_eq!(parse(b"Sat, 31 Dec 2016 23:59:59 GMT"), Some(1_483_228_799));
        assert_eq!(parse(b"Sat, 31 Dec 2016 23:59:61 GMT"), None);
    }

    #[test]
    fn what_is_not_an_http_date_is_none() {
        for bad in [
            &b""[..],
            b"120",
            b"Sun, 06 Nov 1994 08:49:37 UTC",
            b"Sun, 06 Nov 1994 08:49:37",
            b"Sun, 06 Nov 1994 08:49:37 GMT x",
            b"Sun, 06 nov 1994 08:49:37 GMT",
            b"Sun, 31 Nov 1994 08:49:37 GMT",
            b"Sun, 29 Feb 2023 08:49:37 GMT",
            b"Sun, 00 Nov 1994 08:49:37 GMT",
            b"Sun, 06 Nov 1994 24:00:00 GMT",
            b"Sun, 06 Nov 1994 8:49:37 GMT",
            b"Sun, 06 Nov 94 08:49:37 GMT",
            b"Sun, 06 Nov 1969 08:49:37 GMT",
            b"Sun, 06 Nov 99999 08:49:37 GMT",
            b"Sunday, 06-Nov-1994 08:49:37 GMT",
            b"Sun Nov  6 08:49:37",
            b"Sun Nov  6 08:49:37 94",
            b"\xFF\xFF, 06 Nov 1994 08:49:37 GMT",
            // Minutes or seconds of one digit.
            b"Sun, 06 Nov 1994 08:4:37 GMT",
            b"Sun, 06 Nov 1994 08:49:7 GMT",
            // Minutes and seconds out of range.
            b"Sun, 06 Nov 1994 08:60:37 GMT",
            b"Sun, 06 Nov 1994 08:49:61 GMT",
            // The RFC 850 form with another zone or more after it.
            b"Sunday, 06-Nov-94 08:49:37 UTC",
            b"Sunday, 06-Nov-94 08:49:37 GMT x",
            // The asctime form with more after the year.
            b"Sun Nov  6 08:49:37 1994 GMT",
            // Numbers of more than 4 digits, or with a non-digit in them,
            // even one just above `9` (`:` and `;`, read as 10 and 11 by
            // `c - b'0'`).
            b"Sun, 00006 Nov 1994 08:49:37 GMT",
            b"Sun, 99999999999999999999999 Nov 1994 08:49:37 GMT",
            b"Sun, 0: Nov 1994 08:49:37 GMT",
            b"Sun, 06 Nov 1994 0;:49:37 GMT",
            b"Sun, 06 Nov 1994 08:4+:37 GMT",
        ] {
            assert_eq!(parse(bad), None, "{:?}", core::str::from_utf8(bad));
        }
    }
}
