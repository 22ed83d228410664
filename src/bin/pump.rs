//! `pump`: distcc 3.4's pump front end (`pump COMMAND…`, `--startup`, `--shutdown`); the
//! logic is in `pump::frontend`.

fn main() {
    let mut args = std::env::args_os();
    let program = args
        .next()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pump".into());
    let rest: Vec<_> = args.collect();
    std::process::exit(pump::frontend::main(&program, &rest));
}
