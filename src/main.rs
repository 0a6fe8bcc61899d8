//! `whod`: wires the flags, the server and the signals together.

use std::process::ExitCode;
use std::time::Instant;

use whod::config::{self, Command, Config};
use whod::healthcheck;
use whod::server::{Running, Server};
use whod::sys::{self, Signal, Signals};

fn main() -> ExitCode {
    match config::parse(std::env::args().skip(1), |name| std::env::var(name).ok()) {
        Err(error) => {
            eprintln!("whod: {error}");
            ExitCode::from(2)
        }
        Ok((Command::Help, _)) => {
            print!("{}", config::help());
            ExitCode::SUCCESS
        }
        Ok((Command::Version, _)) => {
            println!("whod {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok((Command::Healthcheck, config)) => healthcheck::run(&config),
        Ok((Command::Serve, config)) => serve(&config),
    }
}

fn serve(config: &Config) -> ExitCode {
    // Before any thread exists, so that every worker inherits the blocked signals and only
    // the waits below receive them.
    let signals = match Signals::block() {
        Ok(signals) => signals,
        Err(error) => return fail(format_args!("cannot block signals: {error}")),
    };
    // Before the workers start accepting; reported after the startup line, which comes first.
    let open_files = sys::raise_open_files_limit();
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
    let mut running = match server.start() {
        Ok(running) => running,
        Err(error) => return fail(format_args!("cannot start the workers: {error}")),
    };
    let workers = running.workers();
    eprintln!(
        "whod {} listening on {address} ({workers} worker{}, at most {} connections)",
        env!("CARGO_PKG_VERSION"),
        if workers == 1 { "" } else { "s" },
        config.max_connections
    );
    match open_files {
        Ok(limit) if limit < config.max_connections as u64 => eprintln!(
            "whod: warning: the open files limit ({limit}) is below --max-connections ({}); \
             past it, new connections wait in the accept queue",
            config.max_connections
        ),
        Ok(_) => {}
        Err(error) => eprintln!("whod: warning: cannot raise the open files limit: {error}"),
    }
    let stop = loop {
        match signals.wait(None) {
            Ok(Some(signal)) if signal.is_stop() => break signal,
            Ok(Some(signal)) => switch(&running, signal),
            Ok(None) => {}
            Err(error) => return fail(format_args!("cannot wait for signals: {error}")),
        }
    };
    let delay = config.shutdown_delay;
    if !delay.is_zero() {
        eprintln!(
            "whod: {} received, draining for {} s: /healthz answers 503, every answer closes \
             its connection",
            stop.name(),
            delay.as_secs()
        );
        running.drain();
        // A second stop signal ends the window early.
        let end = Instant::now() + delay;
        let cut_short = loop {
            let left = end.saturating_duration_since(Instant::now());
            match signals.wait(Some(left)) {
                Ok(None) => break None,
                Ok(Some(signal)) if signal.is_stop() => break Some(signal),
                Ok(Some(signal)) => switch(&running, signal),
                Err(error) => return fail(format_args!("cannot wait for signals: {error}")),
            }
        };
        match cut_short {
            None => eprintln!("whod: drain window over, finishing requests in flight"),
            // Said apart: a window that ended early is otherwise a puzzle in the logs.
            Some(signal) => eprintln!(
                "whod: {} received, drain window cut short after {} ms, finishing requests \
                 in flight",
                signal.name(),
                (delay - end.saturating_duration_since(Instant::now())).as_millis()
            ),
        }
    } else {
        eprintln!(
            "whod: {} received, finishing requests in flight",
            stop.name()
        );
    }
    running.stop();
    eprintln!("whod: stopped");
    ExitCode::SUCCESS
}

/// The switches signals flip: SIGUSR1 makes the replica unready on purpose (`/healthz`
/// answers 503), SIGUSR2 ready again; SIGTTIN makes it sick (every other route fails with
/// `--fail-status`), SIGTTOU well again.
fn switch(running: &Running, signal: Signal) {
    let what = match signal {
        Signal::Usr1 => {
            running.set_ready(false);
            "/healthz answers 503 until SIGUSR2"
        }
        Signal::Usr2 => {
            running.set_ready(true);
            "/healthz answers 200 again"
        }
        Signal::Ttin => {
            running.set_sick(true);
            "sick: every route but /healthz and /metrics fails until SIGTTOU"
        }
        Signal::Ttou => {
            running.set_sick(false);
            "well again"
        }
        Signal::Term | Signal::Int | Signal::Hup | Signal::Quit => return,
    };
    eprintln!("whod: {} received: {what}", signal.name());
}

fn fail(message: std::fmt::Arguments) -> ExitCode {
    eprintln!("whod: {message}");
    ExitCode::FAILURE
}
