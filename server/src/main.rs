//! The `boxoffice` binary.

use clap::Parser;

/// mimalloc: faster than the system allocator for the parser's many small
/// allocations, and it keeps a sync's allocations from contending with requests'.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    boxoffice_server::providers::link_all();
    let cli = boxoffice_server::cli::Cli::parse();
    match cli.run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("boxoffice: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
