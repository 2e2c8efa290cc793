//! The `boxoffice` binary.

use clap::Parser;

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
