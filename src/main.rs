//! The `scgen` binary: parse arguments, run, map the result to an exit code.
//! Everything else lives in the library (`scgen::cli`).

fn main() -> std::process::ExitCode {
    scgen::cli::main()
}
