//! Polling with backoff and jitter, bounded by a deadline, and tolerant of throttling.

use std::time::Duration;

use crate::backoff::Backoff;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

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
        let (j, lo) = (self.jitter, 1.0 - self.jitter);
        Backoff::new(self.first, self.max, self.factor, (lo, 1.0 + j))
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
    fn the_default_poll_starts_at_a_second_within_its_jitter() {
        let d = PollPolicy::default().backoff().next_delay().as_secs_f64();
        assert!((0.8..=1.2).contains(&d), "{d}");
        assert!(PollPolicy::immediate().backoff().next_delay().is_zero());
    }
}
