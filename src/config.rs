//! Command-line flags and their environment variables. One table, `FLAGS`, drives both the
//! parser and `--help`, so the two cannot disagree. A flag beats its variable, which beats the
//! default.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

/// What `whod` was asked to do.
#[derive(Debug, PartialEq)]
pub enum Command {
    Serve(Config),
    Healthcheck(Config),
    Help,
    Version,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub bind: IpAddr,
    pub port: u16,
    /// A request head (and its body, if any) must arrive within this time of its first byte.
    pub header_timeout: Duration,
    /// A keep-alive connection with no request in progress is closed after this time.
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// Event loops (threads); each serves the connections it accepts.
    pub workers: usize,
    pub access_log: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 8080,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            max_connections: 10_000,
            // One loop answers well over 100k requests/s; replicas scale out, --workers scales up.
            workers: 1,
            access_log: false,
        }
    }
}

/// A usage error: names the flag or variable and the value given. Exit code 2.
#[derive(Debug, PartialEq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (see whod --help)", self.0)
    }
}

/// One flag: its name, its environment variable, the value it takes, and what it does.
pub struct Flag {
    pub name: &'static str,
    pub env: Option<&'static str>,
    /// `None` for a switch (takes no value on the command line).
    pub value: Option<&'static str>,
    pub default: &'static str,
    pub help: &'static str,
}

pub const FLAGS: &[Flag] = &[
    Flag {
        name: "--port",
        env: Some("PORT"),
        value: Some("N"),
        default: "8080",
        help: "TCP port to listen on; 0 picks a free one (the startup line names it)",
    },
    Flag {
        name: "--bind",
        env: Some("WHO_BIND"),
        value: Some("ADDR"),
        default: "0.0.0.0",
        help: "IP address to listen on, IPv4 or IPv6 (:: for all IPv6 and, usually, IPv4)",
    },
    Flag {
        name: "--header-timeout",
        env: Some("WHO_HEADER_TIMEOUT"),
        value: Some("SECS"),
        default: "10",
        help: "a request not fully received this long after its first byte gets 408 and a close",
    },
    Flag {
        name: "--idle-timeout",
        env: Some("WHO_IDLE_TIMEOUT"),
        value: Some("SECS"),
        default: "75",
        help: "close a keep-alive connection idle this long (longer than load balancers' 60 s)",
    },
    Flag {
        name: "--max-connections",
        env: Some("WHO_MAX_CONNECTIONS"),
        value: Some("N"),
        default: "10000",
        help: "past this many open connections, new ones get 503 and a close",
    },
    Flag {
        name: "--workers",
        env: Some("WHO_WORKERS"),
        value: Some("N|auto"),
        default: "1",
        help: "event loops (threads); auto: one per CPU available",
    },
    Flag {
        name: "--access-log",
        env: Some("WHO_ACCESS_LOG"),
        value: None,
        default: "off",
        help: "print one line per request on stdout (Common Log Format)",
    },
    Flag {
        name: "--healthcheck",
        env: None,
        value: None,
        default: "",
        help: "ask /healthz of the server on --bind/--port; exit 0 on 200 within 2 s, else 1",
    },
    Flag {
        name: "--version",
        env: None,
        value: None,
        default: "",
        help: "print the version and exit",
    },
    Flag {
        name: "--help",
        env: None,
        value: None,
        default: "",
        help: "print this help and exit",
    },
];

/// The text of `whod --help`.
pub fn help() -> String {
    let mut text = format!(
        "whod {}: answers GET /who with the name of its host\n\n\
         Usage: whod [FLAGS]\n\n\
         Routes: GET|HEAD /who (hostname), GET|HEAD /healthz (200 ok, 503 while stopping)\n\n\
         Flags (each flag overrides its environment variable):\n",
        env!("CARGO_PKG_VERSION")
    );
    for flag in FLAGS {
        let left = match flag.value {
            Some(value) => format!("{} {value}", flag.name),
            None => flag.name.to_string(),
        };
        text.push_str(&format!("  {left:<24}{}\n", flag.help));
        let mut extra = Vec::new();
        if let Some(env) = flag.env {
            extra.push(format!("env {env}"));
        }
        if !flag.default.is_empty() {
            extra.push(format!("default {}", flag.default));
        }
        if !extra.is_empty() {
            text.push_str(&format!("  {:<24}[{}]\n", "", extra.join(", ")));
        }
    }
    text.push_str(
        "\nExit codes: 0 after a clean shutdown (SIGTERM, SIGINT), --help, --version;\n\
         1 for a runtime error; 2 for a usage error.\n",
    );
    text
}

/// Parses the arguments (without the program name) and the environment.
pub fn parse<I, E>(args: I, env: E) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = String>,
    E: Fn(&str) -> Option<String>,
{
    let mut config = Config::default();
    // Environment first, so that flags parsed next override it.
    for flag in FLAGS {
        if let Some(var) = flag.env
            && let Some(value) = env(var)
        {
            apply(&mut config, flag, &value)
                .map_err(|why| UsageError(format!("{var}: invalid value {value:?}: {why}")))?;
        }
    }

    let mut command = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline_value) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let name = if name == "-h" {
            "--help".to_string()
        } else {
            name
        };
        let Some(flag) = FLAGS.iter().find(|f| f.name == name) else {
            return Err(UsageError(format!("unknown flag {arg:?}")));
        };
        let value = match (flag.value, inline_value) {
            (Some(_), Some(value)) => value,
            (Some(kind), None) => args
                .next()
                .ok_or_else(|| UsageError(format!("{} needs a value ({kind})", flag.name)))?,
            (None, Some(value)) => {
                return Err(UsageError(format!(
                    "{} takes no value, got {value:?}",
                    flag.name
                )));
            }
            (None, None) => String::new(),
        };
        match flag.name {
            "--help" => command = command.or(Some(Command::Help)),
            "--version" => command = command.or(Some(Command::Version)),
            "--healthcheck" => command = command.or(Some(Command::Healthcheck(Config::default()))),
            "--access-log" => config.access_log = true,
            _ => apply(&mut config, flag, &value).map_err(|why| {
                UsageError(format!("{}: invalid value {value:?}: {why}", flag.name))
            })?,
        }
    }
    Ok(match command {
        Some(Command::Healthcheck(_)) => Command::Healthcheck(config),
        Some(other) => other,
        None => Command::Serve(config),
    })
}

/// Sets the field of `config` that `flag` names from its text value.
fn apply(config: &mut Config, flag: &Flag, value: &str) -> Result<(), String> {
    match flag.name {
        "--port" => {
            config.port = number(value, 0, u16::MAX as u64, "a port number 0-65535")? as u16
        }
        "--bind" => {
            // Also accept the bracketed form, as in URLs: [::1]
            let bare = value
                .strip_prefix('[')
                .and_then(|v| v.strip_suffix(']'))
                .unwrap_or(value);
            config.bind = bare
                .parse()
                .map_err(|_| "expected an IPv4 or IPv6 address".to_string())?;
        }
        "--header-timeout" => config.header_timeout = seconds(value)?,
        "--idle-timeout" => config.idle_timeout = seconds(value)?,
        "--max-connections" => {
            config.max_connections =
                number(value, 1, 1_000_000, "a number of connections 1-1000000")? as usize
        }
        "--workers" if value == "auto" => {
            config.workers = std::thread::available_parallelism().map_or(1, |n| n.get())
        }
        "--workers" => {
            config.workers = number(value, 1, 256, "a number of workers 1-256, or auto")? as usize
        }
        "--access-log" => config.access_log = switch(value)?,
        _ => {}
    }
    Ok(())
}

fn number(value: &str, min: u64, max: u64, expected: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) && value.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!("expected {expected}")),
    }
}

fn seconds(value: &str) -> Result<Duration, String> {
    number(value, 1, 86_400, "whole seconds 1-86400").map(Duration::from_secs)
}

/// An environment variable for a switch: 1/true/yes/on or 0/false/no/off.
fn switch(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err("expected 1/true/yes/on or 0/false/no/off".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Command, UsageError> {
        parse(args.iter().map(|s| s.to_string()), |_| None)
    }

    fn serve(args: &[&str]) -> Config {
        match parse_args(args) {
            Ok(Command::Serve(config)) => config,
            other => panic!("expected Serve for {args:?}, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let config = serve(&[]);
        assert_eq!(config.port, 8080);
        assert_eq!(config.bind, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(config.header_timeout, Duration::from_secs(10));
        assert_eq!(config.idle_timeout, Duration::from_secs(75));
        assert_eq!(config.max_connections, 10_000);
        assert_eq!(config.workers, 1);
        assert!(!config.access_log);
    }

    #[test]
    fn flags_in_both_forms() {
        let config = serve(&[
            "--port",
            "0",
            "--bind=::1",
            "--header-timeout",
            "3",
            "--idle-timeout=4",
            "--access-log",
        ]);
        assert_eq!(config.port, 0);
        assert_eq!(config.bind, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(config.header_timeout, Duration::from_secs(3));
        assert_eq!(config.idle_timeout, Duration::from_secs(4));
        assert!(config.access_log);
        assert_eq!(
            serve(&["--bind", "[::]"]).bind,
            "::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(serve(&["--workers", "3"]).workers, 3);
        let cpus = std::thread::available_parallelism().unwrap().get();
        assert_eq!(serve(&["--workers", "auto"]).workers, cpus);
    }

    #[test]
    fn environment_is_overridden_by_flags() {
        let env = |name: &str| match name {
            "PORT" => Some("9000".to_string()),
            "WHO_ACCESS_LOG" => Some("true".to_string()),
            _ => None,
        };
        let Ok(Command::Serve(config)) = parse(Vec::new(), env) else {
            panic!()
        };
        assert_eq!((config.port, config.access_log), (9000, true));
        let Ok(Command::Serve(config)) = parse(vec!["--port".into(), "1".into()], env) else {
            panic!()
        };
        assert_eq!(config.port, 1);
    }

    #[test]
    fn usage_errors_name_the_flag_and_the_value() {
        for (args, expected) in [
            (&["--port", "99999"][..], "--port: invalid value \"99999\""),
            (&["--port", "abc"], "--port: invalid value \"abc\""),
            (&["--port", "+80"], "--port: invalid value \"+80\""),
            (&["--port"], "--port needs a value"),
            (
                &["--bind", "localhost"],
                "--bind: invalid value \"localhost\"",
            ),
            (
                &["--idle-timeout", "0"],
                "--idle-timeout: invalid value \"0\"",
            ),
            (
                &["--max-connections", "-1"],
                "--max-connections: invalid value \"-1\"",
            ),
            (&["--workers", "0"], "--workers: invalid value \"0\""),
            (&["--frobnicate"], "unknown flag \"--frobnicate\""),
            (&["--help=yes"], "--help takes no value"),
        ] {
            let error = parse_args(args).expect_err(&format!("{args:?} should fail"));
            assert!(error.0.starts_with(expected), "{args:?}: {}", error.0);
        }
        let env = |name: &str| (name == "PORT").then(|| "http".to_string());
        let error = parse(Vec::new(), env).unwrap_err();
        assert!(
            error.0.starts_with("PORT: invalid value \"http\""),
            "{}",
            error.0
        );
    }

    #[test]
    fn commands() {
        assert_eq!(parse_args(&["--help"]), Ok(Command::Help));
        assert_eq!(parse_args(&["-h"]), Ok(Command::Help));
        assert_eq!(parse_args(&["--version"]), Ok(Command::Version));
        let Ok(Command::Healthcheck(config)) = parse_args(&["--healthcheck", "--port", "81"])
        else {
            panic!()
        };
        assert_eq!(config.port, 81);
    }

    #[test]
    fn help_and_readme_list_every_flag() {
        let readme = include_str!("../README.md");
        let help = help();
        for flag in FLAGS {
            assert!(help.contains(flag.name), "--help misses {}", flag.name);
            assert!(
                readme.contains(&format!("`{}", flag.name)),
                "README misses {}",
                flag.name
            );
            if let Some(env) = flag.env {
                assert!(
                    help.contains(env) && readme.contains(&format!("`{env}`")),
                    "env {env} undocumented"
                );
            }
        }
    }
}
