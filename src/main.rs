//! The `strata` binary: parses flags and hands over to one subcommand.
//!
//! Everything of substance lives in the member crates; see
//! `ARCHITECTURE.md` for the map.

mod cli;
mod cmd;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    cmd::init_tracing();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(cmd::run(cli))
}
