//! The one backoff primitive (growing delays with jitter, bounded by a deadline) and the one rule
//! for which HTTP statuses are worth another try. Registry retries, CloudFormation polling, the
//! OIDC token request and the smoke check all wait through here.

use std::time::{Duration, Instant};

use rand::Rng;

/// 408, 429 and every 5xx except 501 (not implemented never heals).
pub fn is_transient_status(status: u16) -> bool {
    status == 408 || status == 429 || ((500..600).contains(&status) && status != 501)
}

/// A sequence of waits: `first`, then × `factor` each time up to `max`, each multiplied by a
/// random factor in `jitter` so parallel clients do not retry in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    factor: f64,
    jitter: (f64, f64),
}

/// Half fixed, half random ("equal jitter"): never much shorter than planned.
pub const EQUAL_JITTER: (f64, f64) = (0.5, 1.0);
/// ±20 %: for polling, where the mean matters more than the spread.
pub const SPREAD_JITTER: (f64, f64) = (0.8, 1.2);
pub const NO_JITTER: (f64, f64) = (1.0, 1.0);

impl Backoff {
    pub fn new(first: Duration, max: Duration, factor: f64, jitter: (f64, f64)) -> Self {
        Self {
            next: first,
            max,
            factor,
            jitter,
        }
    }

    /// The sequence `steps` waits further on (for a stateless caller that counts its retries).
    pub fn skipping(mut self, steps: u32) -> Self {
        for _ in 0..steps {
            self.next = self.next.mul_f64(self.factor).min(self.max);
        }
        self
    }

    /// The next wait (jittered), advancing the sequence.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.next.min(self.max);
        self.next = base.mul_f64(self.factor).min(self.max);
        let (lo, hi) = self.jitter;
        if base.is_zero() || lo >= hi {
            return base.mul_f64(lo.max(0.0));
        }
        base.mul_f64(rand::rng().random_range(lo..=hi))
    }

    /// Sleeps for the next wait, never past `deadline`; false (without sleeping) once the
    /// deadline has passed.
    pub async fn sleep(&mut self, deadline: Instant) -> bool {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        let delay = self.next_delay().min(deadline - now);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_ceiling() {
        let mut b = Backoff::new(
            Duration::from_secs(1),
            Duration::from_secs(15),
            1.5,
            NO_JITTER,
        );
        let secs: Vec<f64> = (0..9).map(|_| b.next_delay().as_secs_f64()).collect();
        assert_eq!(&secs[..2], &[1.0, 1.5]);
        assert!(secs.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(secs.last().copied(), Some(15.0));
    }

    #[test]
    fn jitter_stays_within_its_range() {
        for _ in 0..100 {
            let mut b = Backoff::new(
                Duration::from_secs(2),
                Duration::from_secs(2),
                2.0,
                EQUAL_JITTER,
            );
            let d = b.next_delay().as_secs_f64();
            assert!((1.0..=2.0).contains(&d), "{d}");
            let mut b = Backoff::new(
                Duration::from_secs(1),
                Duration::from_secs(9),
                2.0,
                SPREAD_JITTER,
            );
            let d = b.next_delay().as_secs_f64();
            assert!((0.8..=1.2).contains(&d), "{d}");
        }
    }

    #[test]
    fn transient_statuses() {
        for s in [408, 429, 500, 502, 503, 504, 599] {
            assert!(is_transient_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 413, 501, 600] {
            assert!(!is_transient_status(s), "{s}");
        }
    }
}
