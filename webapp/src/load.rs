//! `GET /load?ms=N`: spin a CPU for N milliseconds so a load generator can drive the service's
//! average CPU past the scaling target.

use std::fmt;
use std::time::{Duration, Instant};

pub const MAX_MS: u64 = 1000;

/// Why a `ms` value was refused; out-of-range values are refused, not capped, so a load test
/// never silently measures something other than what it asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum BadMs {
    Missing,
    NotANumber(String),
    TooLarge(u64),
}

impl fmt::Display for BadMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing => write!(
                f,
                "missing query parameter ms (0-{MAX_MS}), e.g. /load?ms=200"
            ),
            Self::NotANumber(raw) => {
                write!(
                    f,
                    "ms={raw:?} is not a whole number of milliseconds (0-{MAX_MS})"
                )
            }
            Self::TooLarge(ms) => write!(f, "ms={ms} is above the cap of {MAX_MS}"),
        }
    }
}

pub fn parse_ms(raw: Option<&str>) -> Result<Duration, BadMs> {
    let raw = raw.ok_or(BadMs::Missing)?;
    let ms: u64 = raw.parse().map_err(|_| BadMs::NotANumber(raw.to_owned()))?;
    if ms > MAX_MS {
        return Err(BadMs::TooLarge(ms));
    }
    Ok(Duration::from_millis(ms))
}

/// Busy-loops on the calling thread until `duration` of wall-clock time has passed: call it from
/// `spawn_blocking`. Wall clock, not CPU time: with more concurrent burns than vCPUs they share
/// the CPU, so the task's CPU sits at 100% while any burn runs and each request still returns
/// after about `duration`.
pub fn burn(duration: Duration) {
    let deadline = Instant::now() + duration;
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while Instant::now() < deadline {
        for _ in 0..1000 {
            // xorshift: cheap work the optimiser cannot remove.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_zero_to_the_cap() {
        assert_eq!(parse_ms(Some("0")), Ok(Duration::ZERO));
        assert_eq!(parse_ms(Some("1000")), Ok(Duration::from_millis(1000)));
    }

    #[test]
    fn refuses_missing_garbage_negative_and_too_large() {
        assert_eq!(parse_ms(None), Err(BadMs::Missing));
        assert_eq!(parse_ms(Some("abc")), Err(BadMs::NotANumber("abc".into())));
        assert_eq!(parse_ms(Some("-1")), Err(BadMs::NotANumber("-1".into())));
        assert_eq!(parse_ms(Some("1.5")), Err(BadMs::NotANumber("1.5".into())));
        assert_eq!(parse_ms(Some("5000")), Err(BadMs::TooLarge(5000)));
    }

    #[test]
    fn burn_lasts_at_least_the_duration() {
        let start = Instant::now();
        burn(Duration::from_millis(20));
        assert!(start.elapsed() >= Duration::from_millis(20));
    }
}
