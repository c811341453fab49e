//! The sandbox helper: see `updraft_runtime_process::init`.

fn main() -> std::process::ExitCode {
    updraft_runtime_process::init::main(std::env::args().skip(1).collect())
}
