fn main() -> std::process::ExitCode {
    pricegrad::cli::main()
}
