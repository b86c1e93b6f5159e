//! `reconciler`: the command line of vimana-reconciler (see the library's `cli` module).

fn main() -> std::process::ExitCode {
    reconciler::cli::main()
}
