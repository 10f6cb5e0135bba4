//! The client's shared rate limiter. Every answer's `X-RateLimit-Remaining` / `-Limit` / `-Reset`
//! is recorded; when few requests remain, sends are spaced out evenly until the reset, and at zero
//! they wait for it. After a 429 every request of the client (all clones, all concurrent
//! operations) waits out the `Retry-After`, not just the one that got it. The lock is never held
//! across an await.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// A reset further away than this is treated as this far: a bogus header must not park the
/// provider for hours.
const MAX_RESET_WAIT: Duration = Duration::from_secs(15 * 60);
/// Spacing used when "remaining" runs low but HostUp did not say when the window resets.
const SPACING_WITHOUT_RESET: Duration = Duration::from_secs(1);
/// How long after a 429 the budget still counts as scarce.
const SCARCE_AFTER_429: Duration = Duration::from_secs(60);
/// The share of the request budget that the job polls of all concurrent waits may take together;
/// the rest stays for the reads and POSTs that start more work.
const POLL_SHARE: f64 = 0.5;

#[derive(Debug, Default)]
struct State {
    blocked_until: Option<Instant>,
    remaining: Option<u64>,
    limit: Option<u64>,
    reset_at: Option<Instant>,
    next_slot: Option<Instant>,
    last_429: Option<Instant>,
    /// The longest time to a reset seen: an estimate of the window's length.
    window: Option<Duration>,
}

#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    state: Mutex<State>,
    /// Job waits under way on this client.
    waits: AtomicUsize,
}

/// A job wait counted by [`RateLimiter::poll_floor`] while it lives.
pub(crate) struct WaitTicket<'a>(&'a AtomicUsize);

impl Drop for WaitTicket<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn low(remaining: u64, limit: Option<u64>) -> bool {
    match limit {
        Some(limit) => remaining <= (limit / 10).max(1),
        None => remaining <= 2,
    }
}

impl RateLimiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves plain numbers behind; keep using them.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until this client may send its next request.
    pub(crate) async fn acquire(&self) {
        if let Some(until) = self.reserve(Instant::now()) {
            tokio::time::sleep_until(until).await;
        }
    }

    /// Books a send slot and returns when it starts (`None` for now).
    fn reserve(&self, now: Instant) -> Option<Instant> {
        let mut s = self.lock();
        if s.reset_at.is_some_and(|r| r <= now) {
            s.remaining = None;
            s.reset_at = None;
            s.next_slot = None;
        }
        let mut at = now;
        match s.blocked_until {
            Some(b) if b > now => at = b,
            Some(_) => s.blocked_until = None,
            None => {}
        }
        if let Some(remaining) = s.remaining {
            if remaining == 0 {
                let until = s.reset_at.unwrap_or(now + SPACING_WITHOUT_RESET);
                at = at.max(until);
            } else if low(remaining, s.limit) {
                let interval = match s.reset_at {
                    Some(reset) => {
                        reset.saturating_duration_since(now)
                            / u32::try_from(remaining + 1).unwrap_or(u32::MAX)
                    }
                    None => SPACING_WITHOUT_RESET,
                };
                let slot = at.max(s.next_slot.unwrap_or(now));
                match s.reset_at {
                    // Answers that arrive meanwhile restate "remaining" without counting the
                    // sends already booked, so the chain of slots could run past the reset; a
                    // send due after it belongs to the next window, which opens with a full
                    // budget, and goes at the reset instead of queueing behind the others.
                    Some(reset) if slot >= reset => at = at.max(reset),
                    _ => {
                        s.next_slot = Some(slot + interval);
                        // Count our own send before its answer arrives, so a burst of
                        // concurrent requests sees the budget shrink.
                        s.remaining = Some(remaining - 1);
                        at = slot;
                    }
                }
            }
        }
        (at > now).then_some(at)
    }

    /// Records the rate-limit headers of an answer.
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let remaining = num("x-ratelimit-remaining");
        let limit = num("x-ratelimit-limit");
        let reset = reset_wait(headers).map(|d| Instant::now() + d);
        if remaining.is_none() && limit.is_none() && reset.is_none() {
            return;
        }
        let mut s = self.lock();
        if remaining.is_some() {
            s.remaining = remaining;
        }
        if limit.is_some() {
            s.limit = limit;
        }
        if let Some(reset) = reset {
            s.reset_at = Some(reset);
            let left = reset.saturating_duration_since(Instant::now());
            s.window = Some(s.window.map_or(left, |w| w.max(left)));
        }
        if s.remaining.is_some_and(|r| !low(r, s.limit)) {
            s.next_slot = None;
        }
    }

    /// Holds every request of this client back for `wait` (after a 429).
    pub(crate) fn block_for(&self, wait: Duration) {
        let now = Instant::now();
        let until = now + wait;
        let mut s = self.lock();
        s.blocked_until = Some(s.blocked_until.map_or(until, |b| b.max(until)));
        s.last_429 = Some(now);
    }

    /// Counts a job wait until the ticket is dropped.
    pub(crate) fn join_wait(&self) -> WaitTicket<'_> {
        self.waits.fetch_add(1, Ordering::Relaxed);
        WaitTicket(&self.waits)
    }

    /// The shortest gap between two polls of one wait that keeps the polls of every wait under
    /// way within [`POLL_SHARE`] of the budget HostUp announced (`X-RateLimit-Limit` per window,
    /// the window's length estimated from `X-RateLimit-Reset`). Zero while HostUp has announced
    /// neither: a single restore polls as its schedule says, fifty share the budget.
    pub(crate) fn poll_floor(&self) -> Duration {
        let waits = self.waits.load(Ordering::Relaxed);
        let s = self.lock();
        match (s.window, s.limit) {
            (Some(window), Some(limit)) if limit > 0 && waits > 0 => {
                window.mul_f64(waits as f64 / (limit as f64 * POLL_SHARE))
            }
            _ => Duration::ZERO,
        }
    }

    /// Whether the request budget is short right now: a 429 was answered within the last
    /// minute, or less than half of the current window's requests remain. Job waits poll more
    /// sparingly then, leaving the budget to the requests that move work forward.
    pub(crate) fn scarce(&self) -> bool {
        let now = Instant::now();
        let s = self.lock();
        if s.blocked_until.is_some_and(|b| b > now)
            || s.last_429
                .is_some_and(|at| now.saturating_duration_since(at) < SCARCE_AFTER_429)
        {
            return true;
        }
        let window_open = s.reset_at.is_none_or(|r| r > now);
        match (s.remaining, s.limit) {
            (Some(remaining), Some(limit)) if window_open => remaining.saturating_mul(2) < limit,
            _ => false,
        }
    }
}

/// `Retry-After` as a wait: delta seconds, or an HTTP date.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_RESET_WAIT));
    }
    if let Ok(secs) = raw.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Some(Duration::from_secs_f64(secs).min(MAX_RESET_WAIT));
        }
    }
    let at = httpdate::parse_http_date(raw).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or_default()
            .min(MAX_RESET_WAIT),
    )
}

/// `X-RateLimit-Reset` as a wait: an ISO-8601 timestamp as documented; epoch seconds or a delta
/// in seconds are accepted too.
pub(crate) fn reset_wait(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get("x-ratelimit-reset")?.to_str().ok()?.trim();
    let wait = if let Ok(n) = raw.parse::<u64>() {
        if n > 1_000_000_000 {
            let at = SystemTime::UNIX_EPOCH + Duration::from_secs(n);
            at.duration_since(SystemTime::now()).unwrap_or_default()
        } else {
            Duration::from_secs(n)
        }
    } else {
        let at = chrono::DateTime::parse_from_rfc3339(raw).ok()?;
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or_default()
    };
    Some(wait.min(MAX_RESET_WAIT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "3".into())])),
            Some(Duration::from_secs(3))
        );
        let later = SystemTime::now() + Duration::from_secs(30);
        let d = retry_after(&headers(&[("retry-after", httpdate::fmt_http_date(later))])).unwrap();
        assert!(
            d > Duration::from_secs(27) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        let past = SystemTime::now() - Duration::from_secs(30);
        assert_eq!(
            retry_after(&headers(&[("retry-after", httpdate::fmt_http_date(past))])),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "soon".into())])),
            None
        );
    }

    #[test]
    fn reset_accepts_iso_timestamps() {
        let at = chrono::Utc::now() + chrono::Duration::seconds(20);
        let d = reset_wait(&headers(&[("x-ratelimit-reset", at.to_rfc3339())])).unwrap();
        assert!(
            d > Duration::from_secs(18) && d <= Duration::from_secs(20),
            "{d:?}"
        );
        assert_eq!(
            reset_wait(&headers(&[("x-ratelimit-reset", "99999999999".into())])),
            Some(MAX_RESET_WAIT)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn low_remaining_spaces_requests_until_the_reset() {
        let rl = RateLimiter::default();
        let reset = chrono::Utc::now() + chrono::Duration::seconds(10);
        rl.observe(&headers(&[
            ("x-ratelimit-limit", "100".into()),
            ("x-ratelimit-remaining", "4".into()),
            ("x-ratelimit-reset", reset.to_rfc3339()),
        ]));
        let now = Instant::now();
        let slots: Vec<Duration> = (0..5)
            .map(|_| {
                rl.reserve(now)
                    .map(|t| t.duration_since(now))
                    .unwrap_or_default()
            })
            .collect();
        // Four sends are spread roughly two seconds apart; the fifth waits for the reset.
        assert_eq!(slots[0], Duration::ZERO);
        assert!(slots[1] > Duration::from_millis(1500), "{slots:?}");
        assert!(slots[2] > slots[1] && slots[3] > slots[2], "{slots:?}");
        assert!(slots[4] >= Duration::from_secs(9), "{slots:?}");
    }

    #[tokio::test]
    async fn spaced_sends_never_queue_past_the_reset() {
        let rl = RateLimiter::default();
        let reset = chrono::Utc::now() + chrono::Duration::seconds(10);
        let low = headers(&[
            ("x-ratelimit-limit", "100".into()),
            ("x-ratelimit-remaining", "5".into()),
            ("x-ratelimit-reset", reset.to_rfc3339()),
        ]);
        let now = Instant::now();
        // Fifty sends booked while answers keep saying "5 left" (they do not count the sends
        // still waiting for their slot): none waits longer than the reset, when a new window
        // opens with a full budget.
        let mut latest = Duration::ZERO;
        for _ in 0..50 {
            rl.observe(&low);
            if let Some(t) = rl.reserve(now) {
                latest = latest.max(t.duration_since(now));
            }
        }
        assert!(
            latest > Duration::from_secs(9),
            "the budget was spread: {latest:?}"
        );
        assert!(
            latest <= Duration::from_millis(10_050),
            "booked past the reset: {latest:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn scarcity_follows_the_budget_and_429s() {
        let rl = RateLimiter::default();
        assert!(!rl.scarce(), "nothing known: not scarce");
        let answer = |remaining: u64| {
            let reset = (chrono::Utc::now() + chrono::Duration::seconds(60)).to_rfc3339();
            headers(&[
                ("x-ratelimit-limit", "300".to_owned()),
                ("x-ratelimit-remaining", remaining.to_string()),
                ("x-ratelimit-reset", reset),
            ])
        };
        rl.observe(&answer(200));
        assert!(!rl.scarce(), "two thirds left");
        rl.observe(&answer(149));
        assert!(rl.scarce(), "under half left");

        let rl = RateLimiter::default();
        rl.block_for(Duration::from_millis(1));
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(rl.scarce(), "a 429 a moment ago");
        rl.observe(&answer(290));
        assert!(rl.scarce(), "a 429 a moment ago, even with budget left");
        tokio::time::sleep(SCARCE_AFTER_429).await;
        rl.observe(&answer(290));
        assert!(
            !rl.scarce(),
            "a new window with plenty left, the 429 long past"
        );
    }

    #[test]
    fn concurrent_waits_share_half_the_announced_budget() {
        let rl = RateLimiter::default();
        let first = rl.join_wait();
        assert_eq!(rl.poll_floor(), Duration::ZERO, "no budget announced");
        let reset = (chrono::Utc::now() + chrono::Duration::seconds(60)).to_rfc3339();
        rl.observe(&headers(&[
            ("x-ratelimit-limit", "300".to_owned()),
            ("x-ratelimit-remaining", "299".to_owned()),
            ("x-ratelimit-reset", reset),
        ]));
        // 300 requests a minute, half for polls: one wait may poll every 0.4 s ...
        let one = rl.poll_floor();
        assert!(
            one > Duration::from_millis(380) && one <= Duration::from_millis(400),
            "{one:?}"
        );
        // ... fifty waits every 20 s each.
        let others: Vec<_> = (0..49).map(|_| rl.join_wait()).collect();
        let fifty = rl.poll_floor();
        assert!(
            fifty > Duration::from_secs(19) && fifty <= Duration::from_secs(20),
            "{fifty:?}"
        );
        drop(others);
        assert_eq!(rl.poll_floor(), one, "finished waits give their share back");
        drop(first);
        assert_eq!(rl.poll_floor(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn plenty_remaining_does_not_slow_down_and_block_applies_to_all() {
        let rl = RateLimiter::default();
        rl.observe(&headers(&[
            ("x-ratelimit-limit", "100".into()),
            ("x-ratelimit-remaining", "90".into()),
        ]));
        assert_eq!(rl.reserve(Instant::now()), None);
        rl.block_for(Duration::from_secs(2));
        let now = Instant::now();
        for _ in 0..3 {
            let t = rl.reserve(now).expect("blocked");
            assert_eq!(t.duration_since(now), Duration::from_secs(2));
        }
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(rl.reserve(Instant::now()), None);
    }
}
