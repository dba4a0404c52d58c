//! The send rate: SMS handed to SNS no faster than the account's SMS throughput allows.
//!
//! A Monday 08:00 after a weekend makes thousands of messages due at once. SNS (AWS End User
//! Messaging SMS underneath) accepts a fixed number of SMS per second per AWS account and
//! origination identity (Service Quotas); a burst above it is throttled and retried, which
//! costs calls and time. The sender therefore spaces its sends evenly at [`SendRate`] and
//! works on several messages at once ([`SendRate::concurrency`]), so the drain is limited by
//! the rate and not by AWS round trips.
//!
//! A few lines of our own rather than a rate-limiting crate: one interval, one instant, no
//! bursts, and nothing else on the path of every SMS (the binary's size is measured).

use std::sync::Mutex;
use tokio::time::{Duration, Instant};

/// Default SMS per second per sender instance: 20, SNS's default SMS throughput for an AWS
/// account; set `SMS_SEND_RATE` (parameter `SmsSendRate`) to your own quota.
pub const DEFAULT_SEND_RATE: u32 = 20;

/// Most messages one sweep works on at once (each waits for its turn at the send rate
/// before its claim, never after: a claimed message is never held back).
pub const MAX_CONCURRENCY: usize = 16;

/// Evenly spaced send slots: one every `1 / rate` seconds, per instance.
#[derive(Debug)]
pub struct SendRate {
    rate: u32,
    interval: Duration,
    concurrency: Option<usize>,
    next: Mutex<Option<Instant>>,
}

impl SendRate {
    /// `rate` SMS per second (at least 1).
    pub fn per_second(rate: u32) -> SendRate {
        let rate = rate.max(1);
        SendRate {
            rate,
            interval: Duration::from_secs(1) / rate,
            concurrency: None,
            next: Mutex::new(None),
        }
    }

    /// `SMS_SEND_RATE` (1–10,000 SMS per second), else [`DEFAULT_SEND_RATE`]; a value out of
    /// range or unreadable is ignored (the default holds) and logged.
    pub fn from_env() -> SendRate {
        let rate = match std::env::var("SMS_SEND_RATE") {
            Ok(v) => match v.trim().parse::<u32>() {
                Ok(rate) if (1..=10_000).contains(&rate) => rate,
                _ => {
                    tracing::warn!(
                        value = v.as_str(),
                        default = DEFAULT_SEND_RATE,
                        "SMS_SEND_RATE must be 1-10000: the default holds"
                    );
                    DEFAULT_SEND_RATE
                }
            },
            Err(_) => DEFAULT_SEND_RATE,
        };
        SendRate::per_second(rate)
    }

    /// SMS per second.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Messages a sweep works on at once: enough for the rate to be the limit (AWS round
    /// trips of one message take ~0.1-0.3 s), never more than [`MAX_CONCURRENCY`].
    pub fn concurrency(&self) -> usize {
        self.concurrency
            .unwrap_or_else(|| (self.rate as usize).clamp(1, MAX_CONCURRENCY))
    }

    /// Work on `n` messages at once whatever the rate (benchmarks: `1` is the sender before
    /// the send rate existed, one message after the other).
    pub fn with_concurrency(mut self, n: usize) -> SendRate {
        self.concurrency = Some(n.max(1));
        self
    }

    /// Wait for the next free slot (at once if the last one is more than an interval ago).
    /// Slots are taken in call order; the lock is never held across the wait.
    pub async fn wait(&self) {
        let at = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + self.interval);
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slots_are_evenly_spaced_at_the_rate() {
        let pace = SendRate::per_second(20);
        let start = Instant::now();
        for _ in 0..41 {
            pace.wait().await;
        }
        // 41 slots: the first at once, then one per 50 ms.
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_rate_does_not_bank_slots_for_a_burst() {
        let pace = SendRate::per_second(10);
        pace.wait().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        let start = Instant::now();
        for _ in 0..3 {
            pace.wait().await;
        }
        assert_eq!(Instant::now() - start, Duration::from_millis(200));
    }

    #[test]
    fn concurrency_follows_the_rate_up_to_the_cap() {
        assert_eq!(SendRate::per_second(1).concurrency(), 1);
        assert_eq!(SendRate::per_second(5).concurrency(), 5);
        assert_eq!(SendRate::per_second(20).concurrency(), MAX_CONCURRENCY);
        assert_eq!(SendRate::per_second(0).rate(), 1);
    }
}
