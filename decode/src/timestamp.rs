//! Timestamps as producers write them: Unix seconds (integer or
//! fractional), milliseconds, microseconds, nanoseconds, or RFC 3339.

use serde_json::{Number, Value};

/// Earliest accepted sample time: 1990-01-01T00:00:00Z, in ns. Anything
/// earlier is a unit mistake or a zero value, not a metric.
pub const MIN_TS_NS: i64 = 631_152_000 * 1_000_000_000;

/// Converts a JSON number to nanoseconds, inferring its unit from its
/// magnitude: above 1e17 nanoseconds, above 1e14 microseconds, above 1e11
/// milliseconds (as the seed specifies), else seconds.
pub fn from_number(n: &Number) -> Result<i64, String> {
    if let Some(i) = n.as_i64() {
        return from_integer(i);
    }
    if n.as_u64().is_some() {
        return Err(format!("timestamp {n} is out of range"));
    }
    let f = n
        .as_f64()
        .ok_or_else(|| format!("timestamp {n} is not a number"))?;
    from_float(f)
}

fn from_integer(i: i64) -> Result<i64, String> {
    let ns = if i > 100_000_000_000_000_000 {
        Some(i)
    } else if i > 100_000_000_000_000 {
        i.checked_mul(1_000)
    } else if i > 100_000_000_000 {
        i.checked_mul(1_000_000)
    } else {
        i.checked_mul(1_000_000_000)
    };
    ns.ok_or_else(|| format!("timestamp {i} is out of range"))
}

fn from_float(f: f64) -> Result<i64, String> {
    if !f.is_finite() {
        return Err(format!("timestamp {f} is not finite"));
    }
    let scale: i64 = if f > 1e17 {
        1
    } else if f > 1e14 {
        1_000
    } else if f > 1e11 {
        1_000_000
    } else {
        1_000_000_000
    };
    // Whole and fractional parts separately: `f * 1e9` would round a
    // seconds value like 1613707265.25 to a multiple of 256 ns.
    let whole = f.trunc();
    if whole.abs() >= 9.2e18 / scale as f64 {
        return Err(format!("timestamp {f} is out of range"));
    }
    let frac_ns = ((f - whole) * scale as f64).round() as i64;
    Ok(whole as i64 * scale + frac_ns)
}

/// Parses an RFC 3339 timestamp such as `2026-01-01T00:00:00Z`.
pub fn from_rfc3339(s: &str) -> Result<i64, String> {
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .map_err(|e| format!("timestamp {s:?} is not RFC 3339: {e}"))?;
    t.timestamp_nanos_opt()
        .ok_or_else(|| format!("timestamp {s:?} is out of range"))
}

/// A JSON message's `"timestamp"` field (`None`: missing), a number or an
/// RFC 3339 string, to nanoseconds within [`check_range`].
pub fn from_json(field: Option<Value>, now_ns: i64, max_future_ns: i64) -> Result<i64, String> {
    let ts_ns = match field {
        Some(Value::Number(n)) => from_number(&n)?,
        Some(Value::String(s)) => from_rfc3339(&s)?,
        Some(other) => {
            return Err(format!(
                "\"timestamp\" must be a number or an RFC 3339 string, found {}",
                super::json::kind(&other)
            ));
        }
        None => return Err("missing field \"timestamp\"".into()),
    };
    check_range(ts_ns, now_ns, max_future_ns)
}

/// Refuses times before 1990 or more than `max_future_ns` ahead of `now_ns`.
pub fn check_range(ts_ns: i64, now_ns: i64, max_future_ns: i64) -> Result<i64, String> {
    if ts_ns < MIN_TS_NS {
        return Err(format!(
            "timestamp {} is before 1990-01-01: wrong unit or unset clock",
            fmt(ts_ns)
        ));
    }
    if ts_ns > now_ns.saturating_add(max_future_ns) {
        return Err(format!(
            "timestamp {} is more than {} ahead of this server's clock",
            fmt(ts_ns),
            humantime::format_duration(std::time::Duration::from_nanos(max_future_ns as u64))
        ));
    }
    Ok(ts_ns)
}

fn fmt(ts_ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ts_ns).to_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Number {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn units_by_magnitude() {
        let sec = 1_613_707_265_000_000_000;
        assert_eq!(from_number(&num("1613707265")), Ok(sec));
        assert_eq!(from_number(&num("1613707265.5")), Ok(sec + 500_000_000));
        assert_eq!(from_number(&num("1613707265000")), Ok(sec));
        assert_eq!(from_number(&num("1613707265000000")), Ok(sec));
        assert_eq!(from_number(&num("1613707265000000000")), Ok(sec));
        assert_eq!(from_rfc3339("2021-02-19T04:01:05Z"), Ok(sec));
        assert_eq!(from_rfc3339("2021-02-19T05:01:05+01:00"), Ok(sec));
    }

    #[test]
    fn absurd_times_are_refused() {
        let now = 1_800_000_000_000_000_000;
        let day = 86_400_000_000_000;
        assert!(check_range(0, now, day).is_err());
        assert!(check_range(-5, now, day).is_err());
        assert!(check_range(now + 2 * day, now, day).is_err());
        assert!(check_range(now, now, day).is_ok());
        assert!(from_number(&num("18446744073709551615")).is_err());
        assert!(from_number(&num("1e300")).is_err());
        assert!(from_rfc3339("yesterday").is_err());
    }
}
