//! The `tkc-library` binary: parse the command line, then hand over to `cli`.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: a response is hundreds of small allocations, and
/// glibc's malloc spent a quarter of the server's time on them (see `bench/RESULTS.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let args = tkc_library::cli::Cli::parse();
    match tkc_library::cli::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
