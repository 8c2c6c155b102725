//! Signals: SIGINT (Ctrl-C), SIGTERM and SIGHUP all ask the tool to stop.
//!
//! The first one cancels the shutdown token passed to every command. Before
//! the first call (reading the pool, the plan, the confirmation prompt)
//! that ends the command at once: nothing was sent, so there is nothing to
//! finish. After it, the run stops taking users, finishes the calls in
//! flight, records them, and prints its summary. A second signal exits at
//! once; the ledger stays consistent, since every record is written whole
//! and fsynced before it counts.
//!
//! The exit code names the signal: 130 (SIGINT), 143 (SIGTERM) or 129
//! (SIGHUP: the terminal closed, or a supervisor asked). SIGHUP ignored when
//! the tool started (`nohup`) stays ignored, as the one who started the tool
//! asked: the run outlives its terminal. SIGINT and SIGTERM are always
//! caught: they are how an operator and a supervisor stop a job.

use std::io::Write;
use std::sync::atomic::{AtomicI32, Ordering};

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use crate::error::ExitCode;

/// The first signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Starts watching for the stop signals; must be called on the runtime.
/// SIGHUP ignored at start-up stays ignored.
pub fn watch(shutdown: CancellationToken) {
    let kinds = [
        (libc::SIGINT, SignalKind::interrupt()),
        (libc::SIGTERM, SignalKind::terminate()),
        (libc::SIGHUP, SignalKind::hangup()),
    ];
    for (number, kind) in kinds {
        if number == libc::SIGHUP && ignored(number) {
            continue;
        }
        let Ok(mut stream) = signal(kind) else {
            continue;
        };
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                received(number, &shutdown);
            }
        });
    }
}

/// The first signal asks for a stop; a second one exits at once.
fn received(number: i32, shutdown: &CancellationToken) {
    let first = RECEIVED
        .compare_exchange(0, number, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    let name = name(number);
    // A closed terminal fails every write: never a panic for that.
    let mut err = std::io::stderr();
    if first {
        let _ = writeln!(
            err,
            "{name}: stopping; calls in flight, if any, are finished and recorded first (send it again to exit at once)"
        );
        shutdown.cancel();
    } else {
        let _ = writeln!(err, "{name} again: exiting at once");
        std::process::exit(exit_code(ExitCode::Interrupted).code());
    }
}

/// The exit code for `code`: an interruption says which signal caused it.
pub fn exit_code(code: ExitCode) -> ExitCode {
    if code != ExitCode::Interrupted {
        return code;
    }
    match RECEIVED.load(Ordering::SeqCst) {
        libc::SIGTERM => ExitCode::Terminated,
        libc::SIGHUP => ExitCode::HungUp,
        _ => ExitCode::Interrupted,
    }
}

/// The name of the signal that stopped the tool, if one did.
pub fn received_name() -> Option<&'static str> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        n => Some(name(n)),
    }
}

fn name(number: i32) -> &'static str {
    match number {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

/// Whether `number` was set to be ignored when the tool started.
fn ignored(number: i32) -> bool {
    // SAFETY: a null new action only reads the current one into `old`,
    // a zeroed sigaction that the call fills.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(number, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}
