//! Polling with backoff and jitter, bounded by a deadline, and tolerant of throttling.

use std::time::{Duration, Instant};

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rand::Rng;

/// How often to ask CloudFormation while something is in progress. Injectable so mocked tests
/// run in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollPolicy {
    /// Wait before the first re-poll (the first look is always immediate).
    pub first: Duration,
    /// Ceiling of the growing wait.
    pub max: Duration,
    /// Growth per poll.
    pub factor: f64,
    /// Fraction of each wait randomised (0.2 = ±20 %), so parallel runs don't poll in step.
    pub jitter: f64,
}

impl Default for PollPolicy {
    /// ~1 s, growing to 15 s: quick feedback on a short update, little API traffic on a long one.
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(15),
            factor: 1.5,
            jitter: 0.2,
        }
    }
}

impl PollPolicy {
    /// No waiting at all: for mocked tests.
    pub fn immediate() -> Self {
        Self {
            first: Duration::ZERO,
            max: Duration::ZERO,
            factor: 1.0,
            jitter: 0.0,
        }
    }

    /// The backoff sequence for one wait.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            policy: *self,
            next: self.first,
        }
    }
}

/// One wait's growing delays.
#[derive(Debug)]
pub struct Backoff {
    policy: PollPolicy,
    next: Duration,
}

impl Backoff {
    /// The next delay (jittered), advancing the sequence.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = base.mul_f64(self.policy.factor).min(self.policy.max);
        let j = self.policy.jitter;
        if j <= 0.0 || base.is_zero() {
            return base;
        }
        base.mul_f64(rand::rng().random_range(1.0 - j..=1.0 + j))
    }

    /// Sleeps for the next delay, never past `deadline`. Returns false when the deadline has passed.
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

/// True when an SDK error says "slow down". The SDK's own retries already absorb short bursts;
/// a poll loop that still sees one backs off and keeps polling instead of failing the deploy.
pub fn is_throttling<E: ProvideErrorMetadata>(err: &E) -> bool {
    matches!(
        err.code(),
        Some(
            "Throttling"
                | "ThrottlingException"
                | "TooManyRequestsException"
                | "RequestLimitExceeded"
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_ceiling_without_jitter() {
        let p = PollPolicy {
            jitter: 0.0,
            ..PollPolicy::default()
        };
        let mut b = p.backoff();
        let secs: Vec<f64> = (0..9).map(|_| b.next_delay().as_secs_f64()).collect();
        assert_eq!(secs[0], 1.0);
        assert_eq!(secs[1], 1.5);
        assert!(secs.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(*secs.last().unwrap_or(&0.0), 15.0);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let mut b = PollPolicy::default().backoff();
        let d = b.next_delay().as_secs_f64();
        assert!((0.8..=1.2).contains(&d), "{d}");
    }
}
