//! The one progress-display factory.
//!
//! On a terminal: an indicatif bar on stderr (done/total, achieved rate,
//! ETA, the limit that sets the pace, failures, retries, throttled calls),
//! redrawn a few times a second from the run's [`Counters`] and
//! [`Limiter`]s. Elsewhere (cron, CI, a pipe): no bar, and one plain
//! log line every `log_interval`. Log lines go through [`LogWriter`], which
//! suspends the bar while it writes so the two never tear each other.
//!
//! The rate and the ETA count only users this run dealt with (called or
//! skipped by a rule), over the last [`RATE_WINDOW`]: users a resume finds
//! done in the ledger pass at the speed of reading, and counting them would
//! show a rate the quota never allows and an ETA that ends too soon. The
//! limit shown is the lowest of the run's limiters (with `--sign-out`, the
//! sign-out rate may be the one that sets the pace), named by its flag.

use std::collections::VecDeque;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;

use crate::limiter::Limiter;
use crate::report::Counters;

/// The bar being shown, if any, so log lines can step around it.
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// A fleet's bars being shown, if any, likewise.
static ACTIVE_BARS: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// How far back the achieved rate looks.
pub const RATE_WINDOW: Duration = Duration::from_secs(10);

/// A limiter a run's users pass through, and the flag that sets it.
pub type Paced = (&'static str, Arc<Limiter>);

/// A running progress display; [`Progress::finish`] clears it.
pub struct Progress {
    bar: ProgressBar,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Progress {
    /// Starts showing the progress of `counters`. `total` may arrive later
    /// through [`Progress::set_total`].
    /// `limiters` are those a user passes through, the action's first.
    pub fn start(
        counters: Arc<Counters>,
        limiters: Vec<Paced>,
        log_interval: Duration,
    ) -> Progress {
        let on_terminal = io::stderr().is_terminal();
        let bar = if on_terminal {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {elapsed_precise} [{wide_bar}] {human_pos}/{human_len} {msg}",
                )
                .expect("the template is valid")
                .progress_chars("=> "),
            );
            *ACTIVE_BAR.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar.clone());
            bar
        } else {
            ProgressBar::hidden()
        };
        let stop = CancellationToken::new();
        let task = tokio::spawn(update_loop(
            bar.clone(),
            counters,
            limiters,
            on_terminal,
            log_interval,
            stop.clone(),
        ));
        Progress { bar, stop, task }
    }

    /// No display at all: a fleet shows its targets' progress itself.
    pub fn silent() -> Progress {
        Progress {
            bar: ProgressBar::hidden(),
            stop: CancellationToken::new(),
            task: tokio::spawn(async {}),
        }
    }

    /// Sets the number of rows the bar counts up to.
    pub fn set_total(&self, total: u64) {
        self.bar.set_length(total);
    }

    /// Stops updating and removes the bar.
    pub async fn finish(self) {
        self.stop.cancel();
        let _ = self.task.await;
        self.bar.finish_and_clear();
        *ACTIVE_BAR.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

async fn update_loop(
    bar: ProgressBar,
    counters: Arc<Counters>,
    limiters: Vec<Paced>,
    on_terminal: bool,
    log_interval: Duration,
    stop: CancellationToken,
) {
    // The meter samples at least once a second whatever the log interval,
    // so the first log line already has a measured rate and ETA.
    let tick = if on_terminal {
        Duration::from_millis(200)
    } else {
        log_interval.min(Duration::from_secs(1))
    };
    let mut interval = tokio::time::interval(tick);
    interval.tick().await;
    let mut meter = Meter::default();
    let mut logged = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = interval.tick() => {}
        }
        let rate = meter.rate(std::time::Instant::now(), counters.dealt_with());
        if !on_terminal {
            if logged.elapsed() + tick / 2 < log_interval {
                continue;
            }
            logged = tokio::time::Instant::now();
        }
        let done = counters.processed();
        bar.set_position(done);
        let failed = counters.failed.load(Relaxed);
        let retries = counters.retries.load(Relaxed);
        let throttled = counters.throttled.load(Relaxed);
        let eta = match (rate, bar.length()) {
            (Some(r), Some(total)) if r > 0.0 => Some(total.saturating_sub(done) as f64 / r),
            _ => None,
        };
        let pace = Pace::of(&limiters);
        if on_terminal {
            bar.set_message(format!(
                "{} ETA {} · limit {pace} · failed {failed} · retries {retries} · throttled {throttled}",
                rate.map_or_else(|| "-/s".to_string(), |r| format!("{r:.1}/s")),
                eta.map_or_else(|| "-".to_string(), short_duration),
            ));
        } else {
            // An unknown total or ETA is left out of the line (a None
            // field records nothing).
            tracing::info!(
                done,
                total = bar.length(),
                succeeded = counters.succeeded.load(Relaxed),
                failed,
                invalid = counters.invalid.load(Relaxed),
                retries,
                throttled,
                rate = rate.map(|r| (r * 10.0).round() / 10.0),
                eta_secs = eta.map(|s| s.ceil() as u64),
                limit = (pace.current * 10.0).round() / 10.0,
                limited_by = pace.flag,
                "progress"
            );
        }
    }
}

/// The achieved rate over the last [`RATE_WINDOW`] of a count that only
/// grows; time before its first step does not count.
#[derive(Debug, Default)]
struct Meter {
    samples: VecDeque<(std::time::Instant, u64)>,
}

impl Meter {
    /// Adds `count` at `now`; the rate per second, once a second of
    /// counting has passed.
    fn rate(&mut self, now: std::time::Instant, count: u64) -> Option<f64> {
        if self.samples.back().is_some_and(|&(_, c)| c == count) && count == 0 {
            self.samples.clear();
        }
        self.samples.push_back((now, count));
        while self.samples.len() > 2 && now.duration_since(self.samples[1].0) >= RATE_WINDOW {
            self.samples.pop_front();
        }
        let &(since, from) = self.samples.front()?;
        let secs = now.duration_since(since).as_secs_f64();
        (secs >= 1.0 && count > 0).then(|| (count - from) as f64 / secs)
    }
}

/// The limit that sets the pace now: the lowest current rate of the
/// run's limiters, and its flag.
struct Pace {
    current: f64,
    max: f64,
    flag: &'static str,
    /// More than one limiter paces the run (its flag is worth naming).
    several: bool,
}

impl Pace {
    fn of(limiters: &[Paced]) -> Pace {
        let mut pace = Pace {
            current: f64::INFINITY,
            max: f64::INFINITY,
            flag: "--rate",
            several: limiters.len() > 1,
        };
        for (flag, limiter) in limiters {
            let current = limiter.current();
            if current < pace.current {
                (pace.current, pace.max, pace.flag) = (current, limiter.rate(), flag);
            }
        }
        pace
    }
}

impl std::fmt::Display for Pace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&limit_text(self.current, self.max))?;
        if self.several {
            write!(f, " ({})", self.flag)?;
        }
        Ok(())
    }
}

/// A duration as a person reads it at a glance: 45s, 3m 05s, 2h 10m.
pub fn short_duration(secs: f64) -> String {
    let s = secs.ceil().max(0.0) as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// One account and region of a fleet, as its display shows it: its
/// limiter and the counters of its pools' runs.
pub(crate) struct BucketView {
    pub name: String,
    pub limiter: Arc<Limiter>,
    pub pools: Vec<Arc<Counters>>,
}

impl BucketView {
    fn sum(&self, f: impl Fn(&Counters) -> u64) -> u64 {
        self.pools.iter().map(|c| f(c)).sum()
    }
}

/// A fleet's display: on a terminal a bar per account and region (users
/// done in its pools, the achieved rate, failed, throttled, its limiter's
/// rate); elsewhere one log line per account and region every
/// `log_interval`.
pub(crate) struct FleetProgress {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl FleetProgress {
    pub(crate) fn start(buckets: Vec<BucketView>, log_interval: Duration) -> FleetProgress {
        let stop = CancellationToken::new();
        let on_terminal = io::stderr().is_terminal();
        let bars = on_terminal.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4));
            let style = ProgressStyle::with_template(
                "{spinner} {elapsed_precise} {prefix:<28} {human_pos:>9} done {rate} {msg}",
            )
            .expect("the template is valid")
            .with_key(
                "rate",
                |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:>6.1}/s", state.per_sec());
                },
            );
            let bars: Vec<ProgressBar> = buckets
                .iter()
                .map(|b| {
                    let bar = multi.add(ProgressBar::no_length().with_style(style.clone()));
                    let n = b.pools.len();
                    bar.set_prefix(format!(
                        "{} ({n} pool{})",
                        b.name,
                        if n == 1 { "" } else { "s" }
                    ));
                    bar
                })
                .collect();
            *ACTIVE_BARS.lock().unwrap_or_else(|e| e.into_inner()) = Some(multi);
            bars
        });
        let task = tokio::spawn(fleet_loop(buckets, bars, log_interval, stop.clone()));
        FleetProgress { stop, task }
    }

    /// Stops updating and removes the bars.
    pub(crate) async fn finish(self) {
        self.stop.cancel();
        let _ = self.task.await;
        if let Some(multi) = ACTIVE_BARS.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = multi.clear();
        }
    }
}

async fn fleet_loop(
    buckets: Vec<BucketView>,
    bars: Option<Vec<ProgressBar>>,
    log_interval: Duration,
    stop: CancellationToken,
) {
    let tick = if bars.is_some() {
        Duration::from_millis(200)
    } else {
        log_interval
    };
    let mut interval = tokio::time::interval(tick);
    interval.tick().await;
    let mut last: Vec<(u64, tokio::time::Instant)> =
        vec![(0, tokio::time::Instant::now()); buckets.len()];
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = interval.tick() => {}
        }
        for (i, b) in buckets.iter().enumerate() {
            let done = b.sum(Counters::processed);
            let failed = b.sum(|c| c.failed.load(Relaxed));
            let throttled = b.sum(|c| c.throttled.load(Relaxed));
            let (limit, max) = (b.limiter.current(), b.limiter.rate());
            match &bars {
                Some(bars) => {
                    bars[i].set_position(done);
                    bars[i].set_message(format!(
                        "limit {} · failed {failed} · throttled {throttled}",
                        limit_text(limit, max)
                    ));
                }
                None => {
                    let now = tokio::time::Instant::now();
                    let (before, at) = last[i];
                    let rate =
                        (done - before) as f64 / now.duration_since(at).as_secs_f64().max(1e-3);
                    last[i] = (done, now);
                    tracing::info!(
                        bucket = %b.name,
                        pools = b.pools.len(),
                        done,
                        failed,
                        throttled,
                        rate = (rate * 10.0).round() / 10.0,
                        limit = (limit * 10.0).round() / 10.0,
                        "fleet progress"
                    );
                }
            }
        }
    }
    for bar in bars.into_iter().flatten() {
        bar.finish_and_clear();
    }
}

/// The limiter's rate now, and the configured one when adaptation lowered it.
fn limit_text(current: f64, max: f64) -> String {
    if current < max {
        format!("{current:.1}/s of {max}/s")
    } else {
        format!("{max}/s")
    }
}

/// Writes log output to stderr, stepping around an active progress bar.
pub struct LogWriter;

impl Write for LogWriter {
    /// A line that cannot be written (the terminal closed, stderr's pipe
    /// gone) is dropped: the ledger, not the log, is the record, and the
    /// run must not stop for it.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let bar = ACTIVE_BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let bars = ACTIVE_BARS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let _ = match (bar, bars) {
            (Some(bar), _) => bar.suspend(|| io::stderr().write_all(buf)),
            (None, Some(bars)) => bars.suspend(|| io::stderr().write_all(buf)),
            (None, None) => io::stderr().write_all(buf),
        };
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = io::stderr().flush();
        Ok(())
    }
}
