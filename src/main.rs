//! `whod`: wires the flags, the server and the signals together.

use std::process::ExitCode;

use whod::config::{self, Command, Config};
use whod::server::Server;
use whod::{healthcheck, sys};

fn main() -> ExitCode {
    match config::parse(std::env::args().skip(1), |name| std::env::var(name).ok()) {
        Err(error) => {
            eprintln!("whod: {error}");
            ExitCode::from(2)
        }
        Ok(Command::Help) => {
            print!("{}", config::help());
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("whod {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Command::Healthcheck(config)) => healthcheck::run(&config),
        Ok(Command::Serve(config)) => serve(&config),
    }
}

fn serve(config: &Config) -> ExitCode {
    // Before any thread exists, so that every worker inherits the blocked signals and only
    // the wait below receives them.
    let signals = match sys::ShutdownSignals::block() {
        Ok(signals) => signals,
        Err(error) => return fail(format_args!("cannot block SIGTERM and SIGINT: {error}")),
    };
    let _ = sys::raise_open_files_limit();
    let server = match Server::bind(config) {
        Ok(server) => server,
        Err(error) => {
            return fail(format_args!(
                "cannot listen on {}: {error}",
                std::net::SocketAddr::new(config.bind, config.port)
            ));
        }
    };
    let address = match server.local_addr() {
        Ok(address) => address,
        Err(error) => return fail(format_args!("cannot read the bound address: {error}")),
    };
    let running = match server.start() {
        Ok(running) => running,
        Err(error) => return fail(format_args!("cannot start the workers: {error}")),
    };
    eprintln!(
        "whod {} listening on {address} ({} worker{}, at most {} connections)",
        env!("CARGO_PKG_VERSION"),
        config.workers,
        if config.workers == 1 { "" } else { "s" },
        config.max_connections
    );
    let signal = match signals.wait() {
        Ok(signal) => signal,
        Err(error) => return fail(format_args!("cannot wait for signals: {error}")),
    };
    let name = if signal == libc::SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    };
    eprintln!("whod: {name} received, finishing requests in flight");
    running.stop();
    eprintln!("whod: stopped");
    ExitCode::SUCCESS
}

fn fail(message: std::fmt::Arguments) -> ExitCode {
    eprintln!("whod: {message}");
    ExitCode::FAILURE
}
