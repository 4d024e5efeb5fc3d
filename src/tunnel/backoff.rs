//! Reconnect delays: capped exponential backoff with full jitter. Pure (the caller supplies the
//! random fraction), so the schedule is testable.

use std::time::Duration;

/// Backoff settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling of the first delay. Default 500 ms.
    pub initial: Duration,
    /// No delay is ever longer than this. Default 30 s.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// The ceiling for attempt `n` (0-based): `initial * 2^n`, capped at `max`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.min(20);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay before attempt `n`: the ceiling scaled by `fraction` (0..=1, random), but never
    /// below half of it, so a reconnect storm spreads out and no delay is zero.
    pub fn delay(&self, attempt: u32, fraction: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let f = 0.5 + fraction.clamp(0.0, 1.0) / 2.0;
        ceiling.mul_f64(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps_with_jitter_inside_bounds() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(5), Duration::from_secs(2));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(2));
        assert_eq!(b.delay(3, 0.0), Duration::from_millis(400));
        assert_eq!(b.delay(3, 1.0), Duration::from_millis(800));
        assert!(b.delay(40, 7.0) <= b.max);
    }
}
