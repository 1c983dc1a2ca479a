//! `dojo up`: starts the lab's processes, waits for health, prints the URLs, and stops them
//! all on Ctrl-C.

use std::process::ExitCode;

/// Flags of `dojo up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {}

/// Starts the lab and runs until Ctrl-C.
pub fn run(_args: UpArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("dojo up is being written")
}
