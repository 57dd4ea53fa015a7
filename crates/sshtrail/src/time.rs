//! RFC 3339 timestamps as UTC nanoseconds (docs/FORMAT.md section 4).
//!
//! Time is an integer inside and text only at the edges: readers keep the
//! original text for writers that copy the log, and the parsed value for
//! everything that computes with time.

/// Nanoseconds since 1970-01-01T00:00:00Z. `i128` because years 0000-9999
/// do not fit in an `i64` of nanoseconds.
pub type Nanos = i128;

/// Nanoseconds in one second.
pub const NANOS_PER_SEC: Nanos = 1_000_000_000;

/// A timestamp that does not parse: the byte offset of the problem inside the
/// timestamp text, and what was wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at byte {offset} of the time)")]
pub struct TimeError {
    /// 0-based offset into the timestamp text.
    pub offset: usize,
    /// What was expected and what was found.
    pub message: String,
}

/// A duration for people: `0.250s`, `4m47s`, `1h02m03s` (never negative).
///
/// ```
/// use sshtrail::time::{human_duration, NANOS_PER_SEC};
/// assert_eq!(human_duration(287 * NANOS_PER_SEC), "4m47s");
/// ```
pub fn human_duration(nanos: Nanos) -> String {
    let ms = nanos.max(0) / 1_000_000;
    let s = ms / 1000;
    match s {
        0..=59 => format!("{}.{:03}s", s, ms % 1000),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m{:02}s", s / 3600, s / 60 % 60, s % 60),
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.F]Z` or with a `±HH:MM` offset into UTC
/// nanoseconds. `T`/`t` and `Z`/`z` are accepted; `allow_space` also accepts
/// a space for `T` (jsonl only: in the hex layouts a space separates fields).
/// Seconds may be 60 (a leap second counts as the first second of the next
/// minute). 1 to 9 fraction digits.
///
/// ```
/// use sshtrail::time::parse_rfc3339;
/// assert_eq!(parse_rfc3339(b"1970-01-01T00:00:01.5Z", false).unwrap(), 1_500_000_000);
/// assert_eq!(parse_rfc3339(b"1970-01-01T01:00:00+01:00", false).unwrap(), 0);
/// assert!(parse_rfc3339(b"2023-13-01T00:00:00Z", false).is_err());
/// ```
pub fn parse_rfc3339(s: &[u8], allow_space: bool) -> Result<Nanos, TimeError> {
    let local = parse_date_time(s, allow_space)?;
    parse_tail(s, local)
}

/// Length of `YYYY-MM-DDTHH:MM:SS`, the part before the fraction and zone.
const DATE_TIME_LEN: usize = 19;

/// Parses `YYYY-MM-DDTHH:MM:SS` (the first 19 bytes) into seconds since the
/// epoch, as if the zone were UTC.
fn parse_date_time(s: &[u8], allow_space: bool) -> Result<i64, TimeError> {
    let mut p = TimeCursor { s, i: 0 };
    let year = p.digits(4, "year")?;
    p.expect(b'-')?;
    let month = p.ranged(1, 12, "month")?;
    p.expect(b'-')?;
    let day_at = p.i;
    let day = p.digits(2, "day")?;
    if day < 1 || day > days_in_month(year, month) {
        return Err(TimeError {
            offset: day_at,
            message: format!("bad timestamp: day {day:02} does not exist in {year:04}-{month:02}"),
        });
    }
    match p.peek() {
        Some(b'T' | b't') => p.i += 1,
        Some(b' ') if allow_space => p.i += 1,
        other => return Err(p.unexpected("'T' between date and time", other)),
    }
    let hour = p.ranged(0, 23, "hour")?;
    p.expect(b':')?;
    let minute = p.ranged(0, 59, "minute")?;
    p.expect(b':')?;
    let second = p.ranged(0, 60, "second")?;
    let days = days_from_civil(i64::from(year), month, day);
    Ok(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second))
}

/// Parses the fraction and zone after the first 19 bytes.
fn parse_tail(s: &[u8], local_secs: i64) -> Result<Nanos, TimeError> {
    let mut p = TimeCursor {
        s,
        i: DATE_TIME_LEN,
    };
    let mut frac: i128 = 0;
    if p.peek() == Some(b'.') {
        p.i += 1;
        let start = p.i;
        while let Some(c @ b'0'..=b'9') = p.peek() {
            if p.i - start == 9 {
                return Err(p.unexpected("at most 9 fraction digits", Some(c)));
            }
            frac = frac * 10 + i128::from(c - b'0');
            p.i += 1;
        }
        let n = p.i - start;
        if n == 0 {
            return Err(p.unexpected("a fraction digit after '.'", p.peek()));
        }
        frac *= 10i128.pow(9 - n as u32);
    }
    let offset_secs: i64 = match p.peek() {
        Some(b'Z' | b'z') => {
            p.i += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            p.i += 1;
            let h = p.ranged(0, 23, "offset hour")?;
            p.expect(b':')?;
            let m = p.ranged(0, 59, "offset minute")?;
            let secs = i64::from(h * 3600 + m * 60);
            if sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        other => return Err(p.unexpected("'Z' or a '+HH:MM' offset", other)),
    };
    if p.i != s.len() {
        return Err(p.unexpected("the end of the timestamp", p.peek()));
    }
    Ok(i128::from(local_secs - offset_secs) * NANOS_PER_SEC + frac)
}

/// Remembers the date and time of day (to the second) of the last timestamp
/// parsed, so that the many events of one second parse only their fraction
/// and zone. One cache per reader: `allow_space` must not change.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeCache {
    key: [u8; DATE_TIME_LEN],
    local_secs: i64,
    valid: bool,
}

impl TimeCache {
    /// Same result as [`parse_rfc3339`].
    ///
    /// ```
    /// use sshtrail::time::{parse_rfc3339, TimeCache};
    /// let mut cache = TimeCache::default();
    /// for ts in ["2023-06-07T17:32:29.5Z", "2023-06-07T17:32:29.25+01:00", "2023-06-07T17:32:29Z"] {
    ///     assert_eq!(cache.parse(ts.as_bytes(), false), parse_rfc3339(ts.as_bytes(), false));
    /// }
    /// ```
    #[inline]
    pub fn parse(&mut self, s: &[u8], allow_space: bool) -> Result<Nanos, TimeError> {
        if let Some(prefix) = s.get(..DATE_TIME_LEN) {
            if self.valid && prefix == self.key {
                return parse_tail(s, self.local_secs);
            }
            let local = parse_date_time(s, allow_space)?;
            self.key.copy_from_slice(prefix);
            self.local_secs = local;
            self.valid = true;
            return parse_tail(s, local);
        }
        parse_rfc3339(s, allow_space)
    }
}

/// Formats UTC nanoseconds as RFC 3339 with 6 fraction digits
/// (microseconds; nanoseconds below are cut off, so that times keep their
/// order), e.g. `2023-06-07T17:32:29.512344Z`: the one precision of every
/// time that sshtrail derives (transcripts, SIEM records, commands, grep,
/// inspect, reports). Evidence outputs copy the log's own text instead.
///
/// ```
/// use sshtrail::time::format_rfc3339;
/// assert_eq!(format_rfc3339(1_686_159_149_512_344_999), "2023-06-07T17:32:29.512344Z");
/// assert_eq!(format_rfc3339(1_686_159_149_000_000_000), "2023-06-07T17:32:29.000000Z");
/// ```
pub fn format_rfc3339(nanos: Nanos) -> String {
    let mut out = String::with_capacity(RFC3339_LEN);
    write_rfc3339(nanos, &mut out);
    out
}

/// The length of [`format_rfc3339`]'s text for years 0 to 9999.
const RFC3339_LEN: usize = 27;

/// Appends [`format_rfc3339`]'s text to `out`, without a new String: times
/// are written once per record, line or hit, and `format!`'s machinery
/// was a good part of writing them.
///
/// ```
/// use sshtrail::time::write_rfc3339;
/// let mut s = String::from("at ");
/// write_rfc3339(1_686_159_149_512_344_999, &mut s);
/// assert_eq!(s, "at 2023-06-07T17:32:29.512344Z");
/// ```
pub fn write_rfc3339(nanos: Nanos, out: &mut String) {
    let secs = nanos.div_euclid(NANOS_PER_SEC);
    let frac = nanos.rem_euclid(NANOS_PER_SEC) / 1_000;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days as i64);
    if !(0..=9999).contains(&y) {
        // Four digits do not hold the year: `format!` pads and signs it.
        let text = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:06}Z",
            rem / 3600,
            rem / 60 % 60,
            rem % 60
        );
        out.push_str(&text);
        return;
    }
    let mut b = *b"0000-00-00T00:00:00.000000Z";
    let digits = |b: &mut [u8], mut v: i64| {
        for c in b.iter_mut().rev() {
            *c = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    digits(&mut b[0..4], y);
    digits(&mut b[5..7], m);
    digits(&mut b[8..10], d);
    // Below a day's seconds and a second's microseconds: they fit.
    let (rem, frac) = (rem as i64, frac as i64);
    digits(&mut b[11..13], rem / 3600);
    digits(&mut b[14..16], rem / 60 % 60);
    digits(&mut b[17..19], rem % 60);
    digits(&mut b[20..26], frac);
    // Only ASCII digits were written over ASCII text.
    out.push_str(std::str::from_utf8(&b).unwrap_or_default());
}

/// An RFC 3339 text (a log's, the connection metadata's) written as
/// [`format_rfc3339`] writes its instant: `2023-06-07T19:32:29.5+02:00`
/// gives `2023-06-07T17:32:29.500000Z`. A text that does not parse is
/// given as it is.
///
/// ```
/// use sshtrail::time::reformat_rfc3339;
/// assert_eq!(reformat_rfc3339("2023-06-07T19:32:29.5+02:00"), "2023-06-07T17:32:29.500000Z");
/// assert_eq!(reformat_rfc3339("yesterday"), "yesterday");
/// ```
pub fn reformat_rfc3339(text: &str) -> String {
    parse_rfc3339(text.as_bytes(), true).map_or_else(|_| text.to_string(), format_rfc3339)
}

struct TimeCursor<'s> {
    s: &'s [u8],
    i: usize,
}

impl TimeCursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn unexpected(&self, expected: &str, found: Option<u8>) -> TimeError {
        let found = match found {
            None => "the end of the timestamp".to_string(),
            Some(c) => crate::error::describe(Some(c)),
        };
        TimeError {
            offset: self.i,
            message: format!("bad timestamp: expected {expected}, found {found}"),
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), TimeError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{}'", c as char), self.peek()))
        }
    }

    /// Reads `n` digits; `what` names them in the error message, which is
    /// only built when there is an error.
    fn digits(&mut self, n: usize, what: &str) -> Result<u32, TimeError> {
        let mut v = 0u32;
        for _ in 0..n {
            match self.peek() {
                Some(c @ b'0'..=b'9') => {
                    v = v * 10 + u32::from(c - b'0');
                    self.i += 1;
                }
                other => return Err(self.unexpected(&format!("a {n}-digit {what}"), other)),
            }
        }
        Ok(v)
    }

    /// Two digits in `lo..=hi`; `what` names the field in errors.
    fn ranged(&mut self, lo: u32, hi: u32, what: &'static str) -> Result<u32, TimeError> {
        let at = self.i;
        let v = self.digits(2, what)?;
        if v < lo || v > hi {
            return Err(TimeError {
                offset: at,
                message: format!("bad timestamp: {what} {v:02} is out of range {lo:02}-{hi:02}"),
            });
        }
        Ok(v)
    }
}

fn is_leap(y: u32) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Nanos {
        parse_rfc3339(s.as_bytes(), true).unwrap()
    }

    fn err(s: &str) -> TimeError {
        parse_rfc3339(s.as_bytes(), false).unwrap_err()
    }

    #[test]
    fn epoch_and_known_instants() {
        assert_eq!(ok("1970-01-01T00:00:00Z"), 0);
        assert_eq!(ok("2023-06-07T17:32:29.512344Z"), 1_686_159_149_512_344_000);
        assert_eq!(ok("2023-06-07t17:32:29.512344z"), 1_686_159_149_512_344_000);
        assert_eq!(ok("2023-06-07 17:32:29.512344Z"), 1_686_159_149_512_344_000);
        assert_eq!(
            ok("2023-06-07T19:32:29.512344+02:00"),
            1_686_159_149_512_344_000
        );
        assert_eq!(
            ok("2023-06-07T15:02:29.512344-02:30"),
            1_686_159_149_512_344_000
        );
    }

    #[test]
    fn fractions_of_any_length() {
        assert_eq!(ok("1970-01-01T00:00:00.1Z"), 100_000_000);
        assert_eq!(ok("1970-01-01T00:00:00.123456789Z"), 123_456_789);
        assert_eq!(err("1970-01-01T00:00:00.1234567891Z").offset, 29);
        assert_eq!(err("1970-01-01T00:00:00.Z").offset, 20);
    }

    #[test]
    fn extremes_and_leap_seconds() {
        assert_eq!(ok("0000-01-01T00:00:00Z"), -62_167_219_200 * NANOS_PER_SEC);
        assert_eq!(
            ok("9999-12-31T23:59:59.999999999Z"),
            253_402_300_799_999_999_999
        );
        assert_eq!(ok("2016-12-31T23:59:60Z"), ok("2017-01-01T00:00:00Z"));
        assert_eq!(
            ok("2024-02-29T00:00:00Z") + 86_400 * NANOS_PER_SEC,
            ok("2024-03-01T00:00:00Z")
        );
    }

    #[test]
    fn errors_point_at_the_bad_part() {
        assert_eq!(err("2023-13-07T15:12:30Z").offset, 5);
        assert_eq!(err("2023-02-29T15:12:30Z").offset, 8);
        assert_eq!(err("2023-06-07 15:12:30Z").offset, 10);
        assert_eq!(err("2023-06-07T24:00:00Z").offset, 11);
        assert_eq!(err("2023-06-07T15:12:30").offset, 19);
        assert_eq!(err("2023-06-07T15:12:30Zx").offset, 20);
        assert_eq!(err("2023-06-07T15:12:30+2:00").offset, 21);
        assert_eq!(err("").offset, 0);
        assert!(err("2023-13-07T15:12:30Z").message.contains("month 13"));
    }

    #[test]
    fn the_cache_gives_the_same_answers() {
        let mut cache = TimeCache::default();
        for s in [
            "2023-06-07T17:32:29.1Z",
            "2023-06-07T17:32:29.2Z",
            "2023-06-07T17:32:29+02:00",
            "2023-06-07T17:32:29.x",
            "2023-06-07T17:32:30Z",
            "2023-02-29T17:32:30Z",
            "2023-02-29T17:32:30Z",
            "2023-06-07",
            "",
        ] {
            assert_eq!(
                cache.parse(s.as_bytes(), false),
                parse_rfc3339(s.as_bytes(), false),
                "{s}"
            );
        }
    }

    #[test]
    fn format_round_trips() {
        for s in [
            "1970-01-01T00:00:00.000000Z",
            "0000-01-01T00:00:00.000001Z",
            "9999-12-31T23:59:59.999999Z",
            "1969-12-31T23:59:59.500000Z",
        ] {
            assert_eq!(format_rfc3339(ok(s)), s);
        }
        // Six digits: the nanoseconds below a microsecond are cut off
        // (issue 12), before 1970 too, so that times keep their order.
        for (s, six) in [
            (
                "0000-01-01T00:00:00.000000001Z",
                "0000-01-01T00:00:00.000000Z",
            ),
            (
                "9999-12-31T23:59:59.999999999Z",
                "9999-12-31T23:59:59.999999Z",
            ),
            (
                "1969-12-31T23:59:59.999999999Z",
                "1969-12-31T23:59:59.999999Z",
            ),
        ] {
            assert_eq!(format_rfc3339(ok(s)), six);
        }
    }
}
