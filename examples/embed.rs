//! Embeds the library: starts the simulated user pool in-process, writes a
//! user list, runs a reset through the real pipeline and AWS SDK, and prints
//! the summary. `pipeline::run` (or `run_with(&Aws, ...)`) drives a real
//! pool when the settings name one.
//!
//! Run it with: `cargo run --example embed`

use cognito_bulk_reset::cognito::LoopbackSimulator;
use cognito_bulk_reset::settings::{Rate, RunArgs};
use cognito_bulk_reset::{pipeline, report};
use cognito_sim::{self as sim, SimConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // A simulated pool with 500 users on a free loopback port.
    let pool = sim::start_local(SimConfig {
        users: 500,
        ..SimConfig::default()
    })
    .await?;

    let dir = tempfile_dir()?;
    let input = dir.join("users.csv");
    let names: Vec<String> = (0..500).map(sim::population_name).collect();
    std::fs::write(&input, format!("username\n{}\n", names.join("\n")))?;

    // Settings are checked exactly as the command line's are.
    let settings = RunArgs {
        user_pool_id: Some(pool.pool_id().to_string()),
        input: Some(input),
        ledger: Some(dir.join("reset.jsonl")),
        rate: Some(Rate::PerSecond(25.0)),
        endpoint_url: Some(pool.endpoint_url()),
        ..RunArgs::default()
    }
    .check()?;

    // The simulated pool checks no signature: it is reached with placeholder
    // credentials (`pipeline::run` takes the default credential chain).
    // Shutdown is passed in: here, never (the run goes to the end).
    let summary =
        pipeline::run_with(&LoopbackSimulator, &settings, std::future::pending(), None).await?;
    print!("{}", summary.render());
    println!("exit code would be {}", summary.exit_code().code());
    print!("{}", report::status(&settings.ledger).await?.render());
    pool.stop().await;
    Ok(())
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir =
        std::env::temp_dir().join(format!("cognito-bulk-reset-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
