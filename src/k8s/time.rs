//! Pure: RFC 3339 UTC times (`2026-11-25T17:18:26Z`) to and from seconds since the Unix epoch,
//! as Kubernetes writes `metav1.Time` in JSON.

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2026-11-25T17:18:26Z` for `secs` since the epoch.
pub fn rfc3339(secs: i64) -> String {
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Seconds since the epoch of an RFC 3339 UTC time (`Z` suffix, optional `.` fraction of at
/// least one digit); `None` if not one, or if a field is out of range (`02-30`, `24:00:00`).
pub fn parse_rfc3339(t: &str) -> Option<i64> {
    const LAYOUT: &[u8; 19] = b"0000-00-00T00:00:00";
    let b = t.as_bytes();
    let (head, rest) = b.split_at_checked(LAYOUT.len())?;
    let frac = rest.strip_suffix(b"Z")?;
    let layout_ok = head.iter().zip(LAYOUT).all(|(&c, &l)| match l {
        b'0' => c.is_ascii_digit(),
        l => c == l,
    });
    let frac_ok = match frac.split_first() {
        None => true,
        Some((b'.', digits)) => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
        Some(_) => false,
    };
    if !layout_ok || !frac_ok {
        return None;
    }
    let num = |at: usize, len: usize| {
        head[at..at + len]
            .iter()
            .fold(0i64, |n, &c| n * 10 + i64::from(c - b'0'))
    };
    let (y, mo, d) = (num(0, 4), num(5, 2), num(8, 2));
    let (h, mi, s) = (num(11, 2), num(14, 2), num(17, 2));
    if !(1..=12).contains(&mo) || !(1..=days_in_month(y, mo)).contains(&d) {
        return None;
    }
    if h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some(days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + s)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if y % 4 == 0 && (y % 100 != 0 || y % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_is_not_utc() {
        for secs in [0, 951_782_400, 1_764_091_106, 4_102_444_800] {
            assert_eq!(parse_rfc3339(&rfc3339(secs)), Some(secs));
        }
        assert_eq!(rfc3339(1_764_091_106), "2025-11-25T17:18:26Z");
        assert_eq!(
            parse_rfc3339("2025-11-25T17:18:26.123456Z"),
            Some(1_764_091_106)
        );
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(1_709_164_800));
        assert_eq!(parse_rfc3339("2100-02-29T00:00:00Z"), None);
        for bad in [
            "",
            "2025-11-25 17:18:26Z",
            "2025-11-25T17:18:26+01:00",
            "2025-13-01T00:00:00Z",
            "x",
            // Each was read as some other time before (seen writing the user_config fuzz target).
            "2025-02-30T00:00:00Z",
            "2025-11-25T24:00:00Z",
            "2025-11-25T17:60:26Z",
            "+025-11-25T17:18:26Z",
            "2025-11-25T17:18:26junkZ",
            "2025-11-25T17:18:26.Z",
            "2025-00-25T17:18:26Z",
            "2025-11-00T17:18:26Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
