//! The `boxoffice` binary.

use std::time::Duration;

use clap::Parser;

/// mimalloc: faster than the system allocator for the parser's many small
/// allocations, and it keeps a sync's allocations from contending with requests'.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long the runtime waits, once the command is done, for tasks it cannot cancel
/// (blocking calls such as a DNS lookup): the process exits regardless after that.
const RUNTIME_EXIT_GRACE: Duration = Duration::from_secs(1);

fn main() -> std::process::ExitCode {
    boxoffice_server::providers::link_all();
    let cli = boxoffice_server::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("boxoffice: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(cli.run());
    runtime.shutdown_timeout(RUNTIME_EXIT_GRACE);
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("boxoffice: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
