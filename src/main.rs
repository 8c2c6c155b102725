//! The `cognito-bulk-reset` binary: parse flags, start logging, wire the
//! stop signals to the shutdown token, run, print errors, exit with the code.

use std::io::Write;

use clap::Parser;
use cognito_bulk_reset::cli::{Cli, LogFormat};
use cognito_bulk_reset::commands::execute;
use cognito_bulk_reset::error::ExitCode;
use cognito_bulk_reset::logging;
use tokio_util::sync::CancellationToken;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_tracing(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "error: could not start the async runtime: {e}"
            );
            return std::process::ExitCode::from(ExitCode::Stopped.code() as u8);
        }
    };
    let code = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        cognito_bulk_reset::signals::watch(shutdown.clone());
        let code = match execute(cli.command, shutdown).await {
            Ok(code) => code,
            // Errors come back only from set-up, before anything is sent:
            // a UsageError, or a file that could not be opened.
            Err(e) => {
                // A closed terminal fails the write: never a panic for that.
                let _ = writeln!(std::io::stderr(), "error: {e:#}");
                cognito_bulk_reset::error::exit_code_of(&e)
            }
        };
        // A DynamoDB ledger's lease dropped on the way out is given back
        // before the process ends (or expires by itself).
        cognito_bulk_reset::ledger::store::settle(std::time::Duration::from_secs(5)).await;
        code
    });
    // Nothing left on the runtime matters (the ledger is closed): a
    // confirmation prompt still waiting on the terminal must not hold the
    // exit.
    runtime.shutdown_background();
    let code = cognito_bulk_reset::signals::exit_code(code);
    std::process::ExitCode::from(code.code() as u8)
}

fn init_tracing(cli: &Cli) {
    // The tool's own lines at the level asked for; the SDK's and other
    // crates' only from -v on (their warnings repeat, at length, what the
    // tool's error already says in a line).
    let directives = match (cli.quiet, cli.verbose) {
        (true, _) => "error,cognito_bulk_reset=warn",
        (false, 0) => "error,cognito_bulk_reset=info",
        (false, 1) => "warn,cognito_bulk_reset=debug",
        (false, _) => "info,cognito_bulk_reset=trace",
    };
    let format = match cli.log_format {
        LogFormat::Text => logging::Format::Text,
        LogFormat::Json => logging::Format::Json,
    };
    logging::init(directives, format);
}
