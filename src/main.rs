//! The `cognito-bulk-reset` binary: parse flags, start logging, wire Ctrl-C
//! and SIGTERM to the shutdown token, run, print errors, exit with the code.

use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use cognito_bulk_reset::cli::{execute, Cli, LogFormat};
use cognito_bulk_reset::error::{ExitCode, UsageError};
use cognito_bulk_reset::progress::LogWriter;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return std::process::ExitCode::from(ExitCode::Stopped.code() as u8);
        }
    };
    let code = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        tokio::spawn(watch_signals(shutdown.clone()));
        match execute(cli.command, shutdown).await {
            Ok(code) => code,
            // Errors come back only from set-up, before anything is sent:
            // a UsageError, or a file that could not be opened.
            Err(e) => {
                eprintln!("error: {e:#}");
                e.downcast_ref::<UsageError>()
                    .map_or(ExitCode::Usage, UsageError::exit_code)
            }
        }
    });
    let code = match code {
        ExitCode::Interrupted if TERMINATED.load(Ordering::Relaxed) => ExitCode::Terminated,
        other => other,
    };
    std::process::ExitCode::from(code.code() as u8)
}

/// Set when the shutdown came from SIGTERM (exit 143 rather than 130).
static TERMINATED: AtomicBool = AtomicBool::new(false);

/// First Ctrl-C or SIGTERM: cancel `shutdown` (finish calls in flight, flush
/// the ledger). A second one: exit at once; the ledger stays consistent
/// because every record is written whole and fsynced before it counts.
async fn watch_signals(shutdown: CancellationToken) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return,
    };
    for n in 0.. {
        let terminated = tokio::select! {
            _ = tokio::signal::ctrl_c() => false,
            _ = term.recv() => true,
        };
        if n == 0 {
            TERMINATED.store(terminated, Ordering::Relaxed);
            eprintln!("interrupted: finishing calls in flight; press Ctrl-C again to exit at once");
            shutdown.cancel();
        } else {
            let code = if terminated {
                ExitCode::Terminated
            } else {
                ExitCode::Interrupted
            };
            std::process::exit(code.code());
        }
    }
}

fn init_tracing(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,cognito_bulk_reset={level}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match cli.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
