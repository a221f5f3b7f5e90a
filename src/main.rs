//! The `anymodel` command line.

use clap::Parser;

/// Run AI agents against a model you can swap: a local Llama or any remote API.
///
/// The commands (run, chat, index, models, tools, config) arrive with the backends they drive;
/// this build only reports its version.
#[derive(Parser)]
#[command(name = "anymodel", version, about)]
struct Cli {}

fn main() {
    Cli::parse();
}
