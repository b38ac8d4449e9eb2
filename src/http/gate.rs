//! The host-wide gate: what one host's answers teach about every request to
//! it, not only the one that got the answer.
//!
//! A 429, 502 or 503 is the host shedding load. Each request retrying on its
//! own while the others keep up the pressure loses: at 50 % shedding and 16
//! requests in flight, some request among hundreds fails four times in a
//! row. So every request to a host passes its [`Gate`], which keeps:
//!
//! * **a pause** (a "not before" instant) that holds back every request to
//!   the host: set from `Retry-After` on a shed answer, and from the
//!   rate-limit headers once they say nothing is left ([`RateLimit::pause`]).
//!   A request whose retry budget ends before the pause does is not sent;
//!   it fails at once ([`Closed`]).
//! * **an adaptive concurrency limit** (AIMD, as TCP): a shed answer halves
//!   it, down to 1; each window of successes (as many as the limit) raises
//!   it by one, up to the client's `max_in_flight`. Only one halving per
//!   round trip: an answer to a request sent before the last halving does
//!   not halve again. A shed answer with a `Retry-After` of a second or
//!   more pauses the host instead of halving: the server said how to back
//!   off, and doing both would leave one request per pause.
//!   When the rate-limit headers say how much is left, no more requests
//!   than that are in flight.
//! * **a streak** of shed answers with no success in between, counted once
//!   per round trip. The retry policy's `max_retries` applies to it: a
//!   request shed by a host that still answers others keeps trying (up to
//!   [`shed_exhausted`]'s cap), and one shed by a host that answers nobody
//!   gives up as before.
//!
//! Every number from the server is clamped ([`MAX_PAUSE`]); the gate never
//! waits past a request's budget and never admits fewer than one request
//! unless paused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use tokio::sync::Notify;
use tokio::time::Instant;
use url::Url;

use super::ratelimit::RateLimit;
use super::retry::{random_unit, retry_after, retryable_status};

/// The longest a host is paused, whatever it asks (a day).
pub(crate) const MAX_PAUSE: Duration = Duration::from_secs(24 * 3600);

/// At most how many turns of the runtime a request held back by a pause
/// lets pass when the pause ends: a random number, which shuffles the order
/// in which the held-back requests go without delaying them.
const SHUFFLE_TURNS: usize = 32;

/// A `Retry-After` at least this long pauses the host instead of halving
/// its concurrency.
const PAUSE_NOT_CUT: Duration = Duration::from_secs(1);

/// While the host sheds load but answers others, one request may make this
/// many attempts per attempt of the retry policy (`max_retries + 1`).
const SHED_ATTEMPTS_PER_ATTEMPT: u32 = 8;

/// Hosts with a gate of their own per client; requests to further hosts
/// share one.
const MAX_HOSTS: usize = 64;

/// Whether a status is the host shedding load: 429 Too Many Requests,
/// 502 Bad Gateway, 503 Service Unavailable.
pub(crate) fn is_shedding(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503)
}

/// Whether a request shed on its `attempt`-th try gives up, the host's
/// streak being `streak`: once it made more than `max_retries` attempts
/// and the host shed more than `max_retries` times in a row, or at the
/// cap of [`SHED_ATTEMPTS_PER_ATTEMPT`] × (`max_retries` + 1) attempts.
pub(crate) fn shed_exhausted(streak: u32, attempt: u32, max_retries: u32) -> bool {
    let cap = max_retries
        .saturating_add(1)
        .saturating_mul(SHED_ATTEMPTS_PER_ATTEMPT);
    (attempt > max_retries && streak > max_retries) || attempt > cap
}

/// A request not sent because the host is paused past its budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Closed {
    /// How long the pause still lasts.
    pub(crate) wait: Duration,
    /// The status of the answer that paused the host (429 for a used-up
    /// rate limit).
    pub(crate) status: StatusCode,
    /// Why the host is paused, for the error message.
    pub(crate) why: String,
}

/// The gates of one client, one per host (origin).
#[derive(Debug)]
pub(crate) struct Gates {
    max: usize,
    hosts: Mutex<HashMap<String, Arc<Gate>>>,
}

impl Gates {
    /// Gates admitting at most `max` requests in flight per host.
    pub(crate) fn new(max: usize) -> Gates {
        Gates {
            max: max.max(1),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// The gate of `url`'s host.
    pub(crate) fn gate(&self, url: &Url) -> Arc<Gate> {
        let mut key = url.origin().ascii_serialization();
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        if !hosts.contains_key(&key) && hosts.len() >= MAX_HOSTS {
            key = String::new();
        }
        hosts
            .entry(key)
            .or_insert_with(|| Arc::new(Gate::new(self.max)))
            .clone()
    }
}

/// One host's gate; see the module docs.
#[derive(Debug)]
pub(crate) struct Gate {
    max: usize,
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug)]
struct State {
    /// The concurrency limit, 1..=max.
    limit: usize,
    /// Successes since the limit last changed.
    successes: usize,
    in_flight: usize,
    /// Bumped by each counted shed answer: one halving per round trip.
    generation: u64,
    /// Counted shed answers since the last success.
    streak: u32,
    /// No request is sent before this.
    not_before: Option<Instant>,
    /// Why: the status and a sentence.
    paused_by: Option<(StatusCode, String)>,
    /// What the rate-limit headers last said is left.
    quota: Option<u64>,
}

impl State {
    /// How many requests may be in flight now.
    fn admits(&self) -> usize {
        let quota = self
            .quota
            .map_or(usize::MAX, |q| usize::try_from(q).unwrap_or(usize::MAX));
        self.limit.min(quota).max(1)
    }

    /// Holds requests back for `wait` (at most [`MAX_PAUSE`]) from `now`,
    /// unless already held back longer.
    fn pause(&mut self, now: Instant, wait: Duration, status: StatusCode, why: String) {
        let Some(until) = now.checked_add(wait.min(MAX_PAUSE)) else {
            return;
        };
        if self.not_before.is_none_or(|t| until > t) {
            crate::trace::info!(
                wait_ms = u64::try_from(wait.min(MAX_PAUSE).as_millis()).unwrap_or(u64::MAX),
                status = status.as_u16(),
                reason = %why,
                "host paused: requests to it wait"
            );
            self.not_before = Some(until);
            self.paused_by = Some((status, why));
        }
    }
}

impl Gate {
    /// A gate admitting at most `max` requests at once.
    pub(crate) fn new(max: usize) -> Gate {
        let max = max.max(1);
        Gate {
            max,
            state: Mutex::new(State {
                limit: max,
                successes: 0,
                in_flight: 0,
                generation: 0,
                streak: 0,
                not_before: None,
                paused_by: None,
                quota: None,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits `delay` before a retry, or not at all when the host is paused
    /// at least that long: the retry then waits at the gate with the
    /// others and goes when they go.
    pub(crate) async fn wait(&self, delay: Duration) {
        let Some(until) = Instant::now().checked_add(delay) else {
            return;
        };
        if self.lock().not_before.is_some_and(|t| t >= until) {
            return;
        }
        tokio::time::sleep_until(until).await;
    }

    /// The concurrency limit in force.
    #[cfg(test)]
    pub(crate) fn limit(&self) -> usize {
        self.lock().limit
    }

    /// Waits for a place: until the host's pause is over and fewer requests
    /// are in flight than it admits. Fails at once when the pause lasts
    /// longer than `budget_left`.
    ///
    /// Requests held back by a pause take their places together when it
    /// ends, then go in random order (each lets a random number of the
    /// runtime's turns pass first), so that no request is always first or
    /// last in line; having their places, they are not held back again by
    /// the answers of those that went first.
    pub(crate) async fn acquire(self: &Arc<Self>, budget_left: Duration) -> Result<Permit, Closed> {
        let deadline = Instant::now().checked_add(budget_left);
        let mut held_back = false;
        loop {
            let mut notified = std::pin::pin!(self.changed.notified());
            notified.as_mut().enable();
            let next = {
                let mut s = self.lock();
                let now = Instant::now();
                match s.not_before.filter(|t| *t > now) {
                    Some(t) if deadline.is_some_and(|d| t > d) => {
                        let (status, why) = s.paused_by.clone().unwrap_or((
                            StatusCode::SERVICE_UNAVAILABLE,
                            "the host asked to wait".to_owned(),
                        ));
                        return Err(Closed {
                            wait: t - now,
                            status,
                            why,
                        });
                    }
                    Some(t) => Next::PauseUntil(t),
                    None if s.in_flight < s.admits() => {
                        s.in_flight += 1;
                        Next::Go(s.generation)
                    }
                    None => Next::WaitForPlace,
                }
            };
            match next {
                Next::Go(generation) => {
                    let permit = Permit {
                        gate: self.clone(),
                        generation,
                    };
                    if held_back {
                        let turns = (random_unit() * SHUFFLE_TURNS as f64) as usize;
                        for _ in 0..turns {
                            tokio::task::yield_now().await;
                        }
                    }
                    return Ok(permit);
                }
                // Woken by a change, or at the end of the pause.
                Next::PauseUntil(t) => {
                    if !held_back {
                        crate::trace::info!(
                            wait_ms = u64::try_from(
                                t.saturating_duration_since(Instant::now()).as_millis()
                            )
                            .unwrap_or(u64::MAX),
                            "waiting at the host's gate until its pause ends"
                        );
                    }
                    let _ = tokio::time::timeout_at(t, notified).await;
                    held_back = true;
                }
                Next::WaitForPlace => notified.await,
            }
        }
    }
}

/// What a request at the gate does next.
enum Next {
    /// Go, with a place taken in this generation.
    Go(u64),
    /// Wait for the end of the pause (or a change).
    PauseUntil(Instant),
    /// Wait for a place to free.
    WaitForPlace,
}

/// A place at the gate, held while a request is sent; dropping it frees
/// the place.
#[derive(Debug)]
pub(crate) struct Permit {
    gate: Arc<Gate>,
    /// The gate's generation when the place was taken.
    generation: u64,
}

impl Permit {
    /// Records the host's answer and frees the place. `Some(streak)` when
    /// the answer shed the request (the host's streak, this answer
    /// included); `None` otherwise.
    pub(crate) fn answered(self, status: StatusCode, headers: &HeaderMap) -> Option<u32> {
        let gate = &self.gate;
        let now = Instant::now();
        let rate = RateLimit::from_headers(headers);
        let mut s = gate.lock();
        if let Some(rate) = &rate {
            s.quota = rate.remaining;
            if let Some(wait) = rate.pause().filter(|w| !w.is_zero()) {
                let why = format!(
                    "the registry's rate limit is used up (0 of {} left{})",
                    rate.limit.map_or_else(|| "?".to_owned(), |l| l.to_string()),
                    rate.window
                        .map_or_else(String::new, |w| format!(" per {} s", w.as_secs())),
                );
                s.pause(now, wait, StatusCode::TOO_MANY_REQUESTS, why);
            }
        }
        if is_shedding(status) {
            let asked = retry_after(headers);
            let fresh = self.generation == s.generation;
            let paused = s.not_before.is_some_and(|t| t > now);
            // The rest of a round sent before the pause repeats its
            // Retry-After: it does not push the pause further.
            if let Some(wait) = asked.filter(|w| !w.is_zero() && (fresh || !paused)) {
                let why = format!(
                    "the registry answered {status} with Retry-After: {} s",
                    wait.as_secs()
                );
                s.pause(now, wait, status, why);
            }
            if fresh {
                s.generation = s.generation.wrapping_add(1);
                s.streak = s.streak.saturating_add(1);
                s.successes = 0;
                if asked.is_none_or(|w| w < PAUSE_NOT_CUT) {
                    s.limit = (s.limit / 2).max(1);
                }
            }
            return Some(s.streak.max(1));
        }
        if !retryable_status(status) {
            s.streak = 0;
            s.successes = s.successes.saturating_add(1);
            if s.successes >= s.limit && s.limit < gate.max {
                s.limit += 1;
                s.successes = 0;
            }
        }
        None
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        {
            let mut s = self.gate.lock();
            s.in_flight = s.in_flight.saturating_sub(1);
        }
        self.gate.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    const OK: StatusCode = StatusCode::OK;
    const SHED: StatusCode = StatusCode::SERVICE_UNAVAILABLE;
    const BUDGET: Duration = Duration::from_secs(60);

    fn none() -> HeaderMap {
        HeaderMap::new()
    }

    fn retry_in(secs: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(secs).unwrap());
        h
    }

    async fn permit(gate: &Arc<Gate>) -> Permit {
        gate.acquire(BUDGET).await.expect("a place")
    }

    /// Whether a place is free right now (without waiting).
    async fn free_now(gate: &Arc<Gate>) -> bool {
        tokio::time::timeout(Duration::ZERO, gate.acquire(BUDGET))
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn sheds_halve_the_limit_once_per_round_trip_down_to_one() {
        let gate = Arc::new(Gate::new(16));
        // 16 in flight, all shed: one halving, one streak step.
        let mut round = Vec::new();
        for _ in 0..16 {
            round.push(permit(&gate).await);
        }
        let streaks: Vec<_> = round
            .into_iter()
            .map(|p| p.answered(SHED, &none()))
            .collect();
        assert!(streaks.iter().all(|s| *s == Some(1)), "{streaks:?}");
        assert_eq!(gate.limit(), 8);
        // Round trips one after another: 4, 2, 1, and never below 1.
        for want in [4, 2, 1, 1, 1] {
            permit(&gate).await.answered(SHED, &none());
            assert_eq!(gate.limit(), want);
        }
        assert_eq!(gate.lock().streak, 6);
        assert!(free_now(&gate).await, "one place is always left");
    }

    #[tokio::test]
    async fn successes_raise_the_limit_additively_up_to_the_max() {
        let gate = Arc::new(Gate::new(4));
        for _ in 0..3 {
            permit(&gate).await.answered(SHED, &none());
        }
        assert_eq!(gate.limit(), 1);
        // One window of successes per step: 1 success to 2, 2 to 3, 3 to 4.
        let mut limits = Vec::new();
        for _ in 0..12 {
            permit(&gate).await.answered(OK, &none());
            limits.push(gate.limit());
        }
        assert_eq!(limits, [2, 2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4]);
        assert_eq!(gate.lock().streak, 0, "a success ends the streak");
    }

    #[tokio::test]
    async fn the_limit_holds_requests_back() {
        let gate = Arc::new(Gate::new(2));
        let a = permit(&gate).await;
        let b = permit(&gate).await;
        assert!(!free_now(&gate).await, "two in flight of two");
        // A shed halves the limit: freeing one place is not enough now.
        a.answered(SHED, &none());
        assert_eq!(gate.limit(), 1);
        assert!(!free_now(&gate).await, "one in flight of one");
        b.answered(OK, &none());
        assert!(free_now(&gate).await);
    }

    #[tokio::test]
    async fn waiters_wake_when_a_place_frees() {
        let gate = Arc::new(Gate::new(1));
        let held = permit(&gate).await;
        let waiter = tokio::spawn({
            let gate = gate.clone();
            async move { gate.acquire(BUDGET).await.map(|_| ()) }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(held);
        tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("woken")
            .unwrap()
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_pauses_every_request_to_the_host() {
        let gate = Arc::new(Gate::new(16));
        let started = Instant::now();
        let other = permit(&gate).await;
        let streak = permit(&gate)
            .await
            .answered(StatusCode::TOO_MANY_REQUESTS, &retry_in("2"));
        assert_eq!(streak, Some(1));
        assert_eq!(gate.limit(), 16, "a Retry-After pauses instead of halving");
        // A new request waits out the pause, though places are free.
        permit(&gate).await;
        assert!(started.elapsed() >= Duration::from_secs(2));
        // The answer to a request sent before the pause does not halve or
        // count again.
        assert_eq!(other.answered(SHED, &none()), Some(1));
        assert_eq!(gate.limit(), 16);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_past_the_budget_fails_at_once() {
        let gate = Arc::new(Gate::new(16));
        permit(&gate).await.answered(SHED, &retry_in("3600"));
        let closed = gate.acquire(BUDGET).await.unwrap_err();
        assert_eq!(closed.status, SHED);
        assert!(closed.wait > BUDGET && closed.wait <= Duration::from_secs(3600));
        assert!(closed.why.contains("Retry-After: 3600 s"), "{}", closed.why);
        // With a budget long enough, it waits.
        let started = Instant::now();
        gate.acquire(Duration::from_secs(7200)).await.unwrap();
        assert!(started.elapsed() >= Duration::from_secs(3599));
    }

    #[tokio::test(start_paused = true)]
    async fn hostile_retry_after_is_clamped_to_a_day() {
        let gate = Arc::new(Gate::new(4));
        let huge = u64::MAX.to_string();
        permit(&gate)
            .await
            .answered(StatusCode::TOO_MANY_REQUESTS, &retry_in(&huge));
        let closed = gate.acquire(BUDGET).await.unwrap_err();
        assert!(closed.wait <= MAX_PAUSE, "{:?}", closed.wait);
        let started = Instant::now();
        gate.acquire(Duration::MAX).await.unwrap();
        let waited = started.elapsed();
        assert!(waited >= MAX_PAUSE - Duration::from_secs(1) && waited <= MAX_PAUSE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_used_up_rate_limit_pauses_before_the_next_request() {
        let gate = Arc::new(Gate::new(16));
        let mut h = HeaderMap::new();
        h.insert("ratelimit-limit", HeaderValue::from_static("10"));
        h.insert("ratelimit-remaining", HeaderValue::from_static("2"));
        permit(&gate).await.answered(OK, &h);
        // Two left: no more than two in flight.
        let a = permit(&gate).await;
        let b = permit(&gate).await;
        assert!(!free_now(&gate).await);
        h.insert("ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("ratelimit-reset", HeaderValue::from_static("5"));
        let started = Instant::now();
        a.answered(OK, &h);
        drop(b);
        // Nothing left: the next request waits for the reset.
        let closed = gate.acquire(Duration::from_secs(1)).await.unwrap_err();
        assert_eq!(closed.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(
            closed.why.contains("rate limit is used up"),
            "{}",
            closed.why
        );
        permit(&gate).await;
        assert!(started.elapsed() >= Duration::from_secs(5));

        // Docker Hub's used-up quota, no reset given: a pull's worth of the
        // window (21600 s / 100), past any budget.
        let mut hub = HeaderMap::new();
        hub.insert("ratelimit-limit", HeaderValue::from_static("100;w=21600"));
        hub.insert("ratelimit-remaining", HeaderValue::from_static("0;w=21600"));
        let gate = Arc::new(Gate::new(16));
        permit(&gate).await.answered(OK, &hub);
        let closed = gate.acquire(BUDGET).await.unwrap_err();
        assert!(
            closed.wait > Duration::from_secs(215) && closed.wait <= Duration::from_secs(216),
            "{:?}",
            closed.wait
        );
        assert!(
            closed.why.contains("0 of 100 left per 21600 s"),
            "{}",
            closed.why
        );
    }

    #[test]
    fn giving_up_follows_the_host_not_the_request() {
        // A host that answers nobody: the policy's 4 attempts.
        assert!(!shed_exhausted(3, 3, 3));
        assert!(shed_exhausted(4, 4, 3));
        // A host that answers others: more attempts, up to the cap.
        assert!(!shed_exhausted(1, 4, 3));
        assert!(!shed_exhausted(1, 32, 3));
        assert!(shed_exhausted(1, 33, 3));
        // Retries disabled stay disabled.
        assert!(shed_exhausted(1, 1, 0));
        // No overflow at the edges.
        assert!(!shed_exhausted(u32::MAX, u32::MAX, u32::MAX));
        assert!(shed_exhausted(u32::MAX, u32::MAX, u32::MAX - 1));
    }

    #[test]
    fn hosts_have_gates_of_their_own_and_bounded() {
        let gates = Gates::new(16);
        let a = Url::parse("http://127.0.0.1:5000/v2/").unwrap();
        let a2 = Url::parse("http://127.0.0.1:5000/v2/x/blobs/uploads/1").unwrap();
        let b = Url::parse("https://127.0.0.1:5000/v2/").unwrap();
        assert!(Arc::ptr_eq(&gates.gate(&a), &gates.gate(&a2)));
        assert!(!Arc::ptr_eq(&gates.gate(&a), &gates.gate(&b)));
        for port in 0..1000 {
            gates.gate(&Url::parse(&format!("http://h:{port}/")).unwrap());
        }
        assert!(gates.hosts.lock().unwrap().len() <= MAX_HOSTS + 1);
    }
}
