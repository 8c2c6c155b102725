//! What each command does, from its parsed flags ([`crate::cli`]), to an
//! exit code: `run` (with its plan and typed confirmation), `plan`,
//! `status`, `export`, `ledger`, and the rest. Errors are returned for
//! `main` to print; they all happen before anything was sent.

use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::cli::{self, Command, ExportArgs, LedgerCommand};
use crate::cognito::Aws;
use crate::drill;
use crate::error::{ExitCode, UsageError};
use crate::report::{say, write_summary};
use crate::settings::{Input, RunSettings, DEFAULT_RECOVERY_QUOTA};
use crate::{ledger, pipeline, plan, report};

/// Runs a parsed command. `shutdown` is cancelled on the first Ctrl-C or
/// SIGTERM. Errors are returned for `main` to print; they all happen before
/// anything was sent.
pub async fn execute(command: Command, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    match command {
        Command::Plan(args) if args.fleet.is_some() => crate::fleet::plan(args, &shutdown).await,
        Command::Run(args) if args.fleet.is_some() => crate::fleet::run(args, &shutdown).await,
        Command::Plan(args) => {
            let mut settings = args.resolve()?;
            if let Some(line) = settings.resolve_auto_rate(&Aws).await? {
                say(&format!("{line}\n"));
            }
            say(&plan::plan(&settings, &shutdown).await?.render());
            Ok(ExitCode::Success)
        }
        Command::Run(args) => {
            let settings = args.resolve()?;
            let summary_json = settings.summary_json.clone();
            let checked = crate::job::check_paths(&settings).is_ok();
            let result = run(settings, &shutdown).await;
            // A summary for every end after set-up: a failed set-up
            // replaces an earlier run's summary, so no script reads that
            // one as this run's. Never when the path itself was refused.
            if let (Err(e), Some(path), true) = (&result, &summary_json, checked) {
                report::write_failed_summary(path, e);
            }
            result
        }
        Command::Status(args) if args.fleet.fleet.is_some() => {
            let cli = args.fleet.run_args(args.ledger.clone(), &args.table);
            crate::fleet::status(cli, args.json).await
        }
        Command::Export(args) if args.fleet.fleet.is_some() => {
            let cli = args.fleet.run_args(args.ledger.clone(), &args.table);
            crate::fleet::export(cli, args.format, args.output.clone()).await
        }
        Command::Status(args) => {
            let Some(ledger) = &args.ledger else {
                return Err(UsageError::Missing(
                    "--ledger",
                    "name the ledger to read (or --fleet FILE)",
                )
                .into());
            };
            let status = report::status(&args.table.location(ledger)?).await?;
            if args.json {
                say(&(serde_json::to_string_pretty(&status)? + "\n"));
            } else {
                say(&status.render());
            }
            Ok(ExitCode::Success)
        }
        Command::Export(args) => {
            export(args).await?;
            Ok(ExitCode::Success)
        }
        Command::Ledger(args) => match args.command {
            LedgerCommand::CreateTable { table, table_args } => {
                ledger::location::check_table_name(&table).map_err(|reason| UsageError::Value {
                    flag: "TABLE",
                    reason,
                })?;
                let t = ledger::table::LedgerTable::connect(&table, &table_args.access()).await?;
                let region = t.region().to_string();
                if t.create().await? {
                    say(&format!("created table {table} in {region} (on demand); use it as --ledger dynamodb://{table}/JOB\n"));
                } else {
                    say(&format!("table {table} already exists in {region}, with the ledger's keys; use it as --ledger dynamodb://{table}/JOB\n"));
                }
                Ok(ExitCode::Success)
            }
            LedgerCommand::Copy {
                from,
                to,
                table_args,
            } => {
                let from = table_args.location(&from)?;
                let to = table_args.location(&to)?;
                let copied = ledger::copy::copy(&from, &to).await?;
                say(&format!("copied {copied} records from {from} to {to}\n"));
                Ok(ExitCode::Success)
            }
        },
        Command::Drill(args) => drill::run(args, shutdown).await,
        Command::Completions { shell } => {
            say(&cli::completions(shell));
            Ok(ExitCode::Success)
        }
        Command::Man { dir: None } => {
            say(&cli::man_page()?);
            Ok(ExitCode::Success)
        }
        Command::Man { dir: Some(dir) } => {
            let n = cli::man_pages(&dir)?;
            say(&format!(
                "wrote {n} man pages into {}\n",
                crate::text::shown(&dir.display().to_string())
            ));
            Ok(ExitCode::Success)
        }
        Command::Sim(args) => drill::serve(args.config, args.listen, shutdown).await,
    }
}

/// `export`: one row per user, to a new private file or to stdout.
async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let Some(ledger) = args.ledger.clone() else {
        return Err(
            UsageError::Missing("--ledger", "name the ledger to read (or --fleet FILE)").into(),
        );
    };
    let location = args.table.location(&ledger)?;
    let to_file = args
        .output
        .as_deref()
        .filter(|p| *p != std::path::Path::new("-"));
    if let (Some(path), Some(file)) = (to_file, location.file()) {
        crate::files::check_distinct(&[
            (crate::files::Role::Ledger, file),
            (crate::files::Role::Export, path),
        ])?;
    }
    report::export(&location, args.format, args.output.clone()).await
}

/// `run`: the plan and confirmation when asked for, the run, its summary.
async fn run(mut settings: RunSettings, shutdown: &CancellationToken) -> anyhow::Result<ExitCode> {
    // Until the first call, a signal ends the command at once: nothing was
    // sent, so there is nothing to finish (the confirmation prompt included).
    let prepared = tokio::select! {
        biased;
        _ = shutdown.cancelled() => return Err(UsageError::Interrupted.into()),
        prepared = before_calls(&mut settings, shutdown) => prepared?,
    };
    let prepared = match prepared {
        Ahead::DryRun => return Ok(ExitCode::Success),
        Ahead::Go(prepared) => prepared.map(|p| *p),
    };
    if settings.pace.rate > DEFAULT_RECOVERY_QUOTA && settings.aws.endpoint_url.is_none() {
        warn!(
            rate = settings.pace.rate,
            "the rate is above Cognito's default quota of {DEFAULT_RECOVERY_QUOTA}/s for password resets; fine if the account has more, otherwise calls will be throttled and the production app starved"
        );
    }
    let summary = pipeline::run_with(&Aws, &settings, shutdown.cancelled(), prepared).await?;
    say(&summary.render());
    let code = crate::signals::exit_code(summary.exit_code());
    summary.log(code.code());
    if let Some(path) = &settings.summary_json {
        let mut value = serde_json::to_value(&summary)?;
        value["exit_code"] = code.code().into();
        value["run_id"] = crate::logging::run_id().into();
        write_summary(path, &value);
    }
    Ok(code)
}

/// What `run` does once it is past [`before_calls`].
enum Ahead {
    /// `--dry-run`: the plan was shown; nothing more.
    DryRun,
    /// Go ahead, with the confirmed plan's work when there was one.
    Go(Option<Box<crate::job::Prepared>>),
}

/// What comes before the first call of `run`: `--rate auto`, and the plan
/// and its typed confirmation unless `--yes`.
async fn before_calls(
    settings: &mut RunSettings,
    shutdown: &CancellationToken,
) -> anyhow::Result<Ahead> {
    if let Some(line) = settings.resolve_auto_rate(&Aws).await? {
        tracing::info!("{line}");
    }
    if settings.dry_run {
        say(&plan::plan(settings, shutdown).await?.render());
        return Ok(Ahead::DryRun);
    }
    if settings.yes {
        return Ok(Ahead::Go(None));
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(UsageError::NotConfirmed(
            "standard input is not a terminal, so the run cannot be confirmed; add --yes (or `yes = true` in the config) to go ahead, after checking it with `cognito-bulk-reset plan`".into(),
        )
        .into());
    }
    // What is confirmed must be what runs: an input that can be read
    // only once (standard input, a pipe) cannot be shown in a plan and
    // then run.
    let once = match &settings.input {
        Input::Stdin => true,
        Input::Path(p) => !std::fs::metadata(p).is_ok_and(|m| m.is_file()),
        Input::Pool { .. } | Input::Group { .. } | Input::S3 { .. } => false,
    };
    if once {
        return Err(UsageError::NotConfirmed(format!(
            "the input ({}) can be read only once, so the plan to confirm could not be the run that follows; write the list to a file, or check it with `plan` and run with --yes",
            settings.input.name()
        ))
        .into());
    }
    let (report, ready) = plan::plan_with(&Aws, settings, shutdown).await?;
    let confirm = settings.clone();
    tokio::task::spawn_blocking(move || confirm_on_terminal(&confirm, &report)).await??;
    Ok(Ahead::Go(Some(Box::new(ready))))
}

/// Shows the blast radius (`report`) and asks the operator, on the
/// terminal, to type the pool id.
fn confirm_on_terminal(settings: &RunSettings, report: &plan::PlanReport) -> anyhow::Result<()> {
    use std::io::{BufRead, Write};
    let mut err = std::io::stderr();
    write!(err, "{}", report.render())?;
    write!(
        err,
        "\nThis will {} {} users of pool {} in {}.\nType the pool id to go ahead: ",
        settings.steps.action.as_str(),
        report.to_do,
        settings.pool_id,
        settings.aws.region
    )?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != settings.pool_id {
        return Err(UsageError::NotConfirmed(format!(
            "'{}' is not the pool id {}; not confirmed",
            answer.trim(),
            settings.pool_id
        ))
        .into());
    }
    Ok(())
}
