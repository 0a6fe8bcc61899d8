//! Command-line flags and their environment variables. One table, `FLAGS`, drives the parser and
//! `--help`: each row owns its setter and shows its default from `Config::default()`, so the
//! three cannot disagree. A flag beats its variable, which beats the default.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::http::scan;

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
    pub access_log: AccessLog,
    /// A label `/echo` shows: printable ASCII.
    pub name: Option<String>,
    /// `/echo` and `/status` are served (else 404).
    pub echo: bool,
    /// Fields whose values `/echo` shows as `[hidden]`: lower-case names.
    pub echo_hide: Vec<String>,
    /// The longest `?delay=` a request may ask for.
    pub max_delay: Duration,
    /// `/metrics` is served (else 404).
    pub metrics: bool,
    /// Every connection must start with a PROXY protocol header.
    pub proxy_protocol: bool,
    /// After SIGTERM, how long to go on serving (every answer closing its connection, `/healthz`
    /// answering 503) before stopping.
    pub shutdown_delay: Duration,
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
            access_log: AccessLog::Off,
            name: None,
            echo: true,
            echo_hide: Vec::new(),
            max_delay: Duration::from_secs(10),
            metrics: false,
            proxy_protocol: false,
            shutdown_delay: Duration::ZERO,
        }
    }
}

/// What the access log writes, one line per request on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessLog {
    Off,
    /// The Common Log Format: `127.0.0.1 - - [date] "GET /who HTTP/1.1" 200 12`.
    Common,
    /// The Combined Log Format: Common, then the `Referer` and `User-Agent` in quotes.
    Combined,
}

/// The longest `--name`: room for a Kubernetes namespace (63 bytes), a `/` and a node name
/// (253), as the Deployment fills it from the downward API.
pub const MAX_NAME: usize = 320;
/// The most names `--echo-hide` takes.
pub const MAX_HIDDEN_FIELDS: usize = 64;
/// The longest `--max-delay`: a delayed answer holds its connection.
pub const MAX_MAX_DELAY: Duration = Duration::from_secs(3600);

/// A usage error: names the flag or variable and the value given. Exit code 2.
#[derive(Debug, PartialEq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (see whod --help)", self.0)
    }
}

/// What a flag takes on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Takes {
    /// A value, as `--port 80` or `--port=80`; the text names its kind.
    Value(&'static str),
    /// Nothing: giving the flag turns it on. Its variable takes on/off.
    Switch,
    /// Nothing, or a value after `=` (`--access-log=combined`); the text names its kind.
    OptionalValue(&'static str),
}

/// What a flag does.
pub enum Action {
    /// Sets a setting from the flag's text (a switch given on the command line sets "on");
    /// `show` prints the setting, for `--help`'s defaults.
    Set {
        set: fn(&mut Config, &str) -> Result<(), String>,
        show: fn(&Config) -> String,
    },
    /// Does something else instead of serving.
    Run(Run),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Run {
    Healthcheck,
    Version,
    Help,
}

/// One flag: its name, its environment variable, what it takes, what it does.
pub struct Flag {
    pub name: &'static str,
    pub env: Option<&'static str>,
    pub takes: Takes,
    pub help: &'static str,
    pub action: Action,
}

impl Flag {
    /// The default, as `--help` and the README show it; empty for commands.
    pub fn default_text(&self) -> String {
        match &self.action {
            Action::Set { show, .. } => show(&Config::default()),
            Action::Run(_) => String::new(),
        }
    }

    /// `--port N`, `--metrics` for a switch, `--access-log[=common|combined]`.
    pub fn usage(&self) -> String {
        match self.takes {
            Takes::Value(kind) => format!("{} {kind}", self.name),
            Takes::Switch => self.name.to_string(),
            Takes::OptionalValue(kind) => format!("{}[={kind}]", self.name),
        }
    }
}

pub const FLAGS: &[Flag] = &[
    Flag {
        name: "--port",
        env: Some("PORT"),
        takes: Takes::Value("N"),
        help: "TCP port to listen on; 0 picks a free one (the startup line names it)",
        action: Action::Set {
            set: |c, v| {
                c.port = number(v, 0, u16::MAX.into(), "a port number 0-65535")? as u16;
                Ok(())
            },
            show: |c| c.port.to_string(),
        },
    },
    Flag {
        name: "--bind",
        env: Some("WHO_BIND"),
        takes: Takes::Value("ADDR"),
        help: "IP address to listen on, IPv4 or IPv6 (:: for all IPv6 and, usually, IPv4)",
        action: Action::Set {
            set: |c, v| {
                // Also accept the bracketed form, as in URLs: [::1]
                let bare = v
                    .strip_prefix('[')
                    .and_then(|v| v.strip_suffix(']'))
                    .unwrap_or(v);
                c.bind = bare
                    .parse()
                    .map_err(|_| "expected an IPv4 or IPv6 address".to_string())?;
                Ok(())
            },
            show: |c| c.bind.to_string(),
        },
    },
    Flag {
        name: "--header-timeout",
        env: Some("WHO_HEADER_TIMEOUT"),
        takes: Takes::Value("SECS"),
        help: "a request not fully received this long after its first byte gets 408 and a close; \
               a connection that sends nothing is closed after it",
        action: Action::Set {
            set: |c, v| {
                c.header_timeout = seconds(v, 1)?;
                Ok(())
            },
            show: |c| c.header_timeout.as_secs().to_string(),
        },
    },
    Flag {
        name: "--idle-timeout",
        env: Some("WHO_IDLE_TIMEOUT"),
        takes: Takes::Value("SECS"),
        help: "close a keep-alive connection idle this long (longer than load balancers' 60 s)",
        action: Action::Set {
            set: |c, v| {
                c.idle_timeout = seconds(v, 1)?;
                Ok(())
            },
            show: |c| c.idle_timeout.as_secs().to_string(),
        },
    },
    Flag {
        name: "--max-connections",
        env: Some("WHO_MAX_CONNECTIONS"),
        takes: Takes::Value("N"),
        help: "past this many open connections, new ones get 503 and a close",
        action: Action::Set {
            set: |c, v| {
                c.max_connections =
                    number(v, 1, 1_000_000, "a number of connections 1-1000000")? as usize;
                Ok(())
            },
            show: |c| c.max_connections.to_string(),
        },
    },
    Flag {
        name: "--workers",
        env: Some("WHO_WORKERS"),
        takes: Takes::Value("N|auto"),
        help: "event loops (threads); auto: one per CPU this process may run on (its affinity)",
        action: Action::Set {
            set: |c, v| {
                c.workers = if v.eq_ignore_ascii_case("auto") {
                    crate::sys::available_cpus().unwrap_or(1)
                } else {
                    number(v, 1, 256, "a number of workers 1-256, or auto")? as usize
                };
                Ok(())
            },
            show: |c| c.workers.to_string(),
        },
    },
    Flag {
        name: "--access-log",
        env: Some("WHO_ACCESS_LOG"),
        takes: Takes::OptionalValue("common|combined"),
        help: "print one line per request on stdout: the Common Log Format, or the Combined \
               one (with the Referer and User-Agent); alone, common",
        action: Action::Set {
            set: |c, v| {
                c.access_log = match v.to_ascii_lowercase().as_str() {
                    "common" => AccessLog::Common,
                    "combined" => AccessLog::Combined,
                    _ => match switch(v) {
                        Ok(true) => AccessLog::Common,
                        Ok(false) => AccessLog::Off,
                        Err(_) => {
                            return Err("expected common, combined, or on/off".to_string());
                        }
                    },
                };
                Ok(())
            },
            show: |c| {
                match c.access_log {
                    AccessLog::Off => "off",
                    AccessLog::Common => "common",
                    AccessLog::Combined => "combined",
                }
                .to_string()
            },
        },
    },
    Flag {
        name: "--name",
        env: Some("WHO_NAME"),
        takes: Takes::Value("NAME"),
        help: "a label for this replica, shown by /echo (printable ASCII, at most 320 bytes)",
        action: Action::Set {
            set: |c, v| {
                if v.len() > MAX_NAME || !v.bytes().all(|b| (b' '..=b'~').contains(&b)) {
                    return Err(format!(
                        "expected printable ASCII, at most {MAX_NAME} bytes"
                    ));
                }
                c.name = (!v.is_empty()).then(|| v.to_string());
                Ok(())
            },
            show: |c| c.name.clone().unwrap_or_default(),
        },
    },
    Flag {
        name: "--echo",
        env: Some("WHO_ECHO"),
        takes: Takes::Value("on|off"),
        help: "serve /echo (the request as received) and /status/NNN; off: only /who and /healthz",
        action: Action::Set {
            set: |c, v| {
                c.echo = switch(v)?;
                Ok(())
            },
            show: |c| on_off(c.echo),
        },
    },
    Flag {
        name: "--echo-hide",
        env: Some("WHO_ECHO_HIDE"),
        takes: Takes::Value("NAME[,NAME...]"),
        help: "fields whose values /echo shows as [hidden], e.g. Authorization,Cookie; \
               repeatable, the names add up",
        action: Action::Set {
            set: |c, v| {
                let names: Vec<String> = v
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(str::to_ascii_lowercase)
                    .collect();
                if let Some(bad) = names.iter().find(|n| !n.bytes().all(scan::is_token)) {
                    return Err(format!("{bad:?} is not a field name"));
                }
                // Repeats add up: a flag that hides secrets must hide every name it was given.
                for name in names {
                    if !c.echo_hide.contains(&name) {
                        c.echo_hide.push(name);
                    }
                }
                if c.echo_hide.len() > MAX_HIDDEN_FIELDS {
                    return Err(format!("more than {MAX_HIDDEN_FIELDS} names in all"));
                }
                Ok(())
            },
            show: |c| c.echo_hide.join(","),
        },
    },
    Flag {
        name: "--max-delay",
        env: Some("WHO_MAX_DELAY"),
        takes: Takes::Value("DURATION"),
        help: "the longest ?delay= a request may ask for (250ms, 2s, ...; at most 3600s)",
        action: Action::Set {
            set: |c, v| {
                c.max_delay = crate::who::parse_duration(v.as_bytes())
                    .filter(|d| *d <= MAX_MAX_DELAY)
                    .ok_or_else(|| {
                        "expected a duration such as 500ms or 10s, at most 3600s".to_string()
                    })?;
                Ok(())
            },
            show: |c| crate::who::show_duration(c.max_delay),
        },
    },
    Flag {
        name: "--metrics",
        env: Some("WHO_METRICS"),
        takes: Takes::Switch,
        help: "serve /metrics, in the Prometheus text format",
        action: Action::Set {
            set: |c, v| {
                c.metrics = switch(v)?;
                Ok(())
            },
            show: |c| on_off(c.metrics),
        },
    },
    Flag {
        name: "--proxy-protocol",
        env: Some("WHO_PROXY_PROTOCOL"),
        takes: Takes::Switch,
        help: "every connection must start with a PROXY protocol header (v1 or v2), whose source \
               address becomes the client's; only behind a proxy that always sends one",
        action: Action::Set {
            set: |c, v| {
                c.proxy_protocol = switch(v)?;
                Ok(())
            },
            show: |c| on_off(c.proxy_protocol),
        },
    },
    Flag {
        name: "--shutdown-delay",
        env: Some("WHO_SHUTDOWN_DELAY"),
        takes: Takes::Value("SECS"),
        help: "after SIGTERM, go on serving this long, /healthz answering 503 and every answer \
               closing its connection, so that load balancers move away first",
        action: Action::Set {
            set: |c, v| {
                c.shutdown_delay = seconds(v, 0)?;
                Ok(())
            },
            show: |c| c.shutdown_delay.as_secs().to_string(),
        },
    },
    Flag {
        name: "--healthcheck",
        env: None,
        takes: Takes::Switch,
        help: "ask /healthz of the server on --bind/--port; exit 0 on 200 within 2 s, else 1",
        action: Action::Run(Run::Healthcheck),
    },
    Flag {
        name: "--version",
        env: None,
        takes: Takes::Switch,
        help: "print the version and exit",
        action: Action::Run(Run::Version),
    },
    Flag {
        name: "--help",
        env: None,
        takes: Takes::Switch,
        help: "print this help and exit",
        action: Action::Run(Run::Help),
    },
];

/// The text of `whod --help`.
pub fn help() -> String {
    let mut text = format!(
        "whod {}: answers GET /who with the name of its host\n\n\
         Usage: whod [FLAGS]\n\n\
         Routes (GET or HEAD): /who (the host name); /healthz (200 ok, 503 after SIGUSR1\n\
         or once stopping); /echo (the request as received, text or ?format=json);\n\
         /status/NNN; /metrics (with --metrics). ?delay=250ms holds /who, /echo, /status.\n\
         Signals: SIGTERM, SIGINT, SIGHUP, SIGQUIT stop (after --shutdown-delay); SIGUSR1\n\
         makes /healthz answer 503, SIGUSR2 200 again.\n\n\
         Flags (a flag overrides its environment variable, which is then not read; an empty\n\
         variable counts as unset; keywords such as auto, off, combined take any case):\n",
        env!("CARGO_PKG_VERSION")
    );
    // The help column starts two spaces after the longest usage.
    let width = FLAGS.iter().map(|f| f.usage().len()).max().unwrap_or(0) + 2;
    for flag in FLAGS {
        text.push_str(&format!("  {:<width$}{}\n", flag.usage(), flag.help));
        let mut extra = Vec::new();
        if let Some(env) = flag.env {
            extra.push(format!("env {env}"));
        }
        let default = flag.default_text();
        if !default.is_empty() {
            extra.push(format!("default {default}"));
        }
        if !extra.is_empty() {
            text.push_str(&format!("  {:<width$}[{}]\n", "", extra.join(", ")));
        }
    }
    text.push_str(
        "\nExit codes: 0 after a clean shutdown (SIGTERM, SIGINT), --help, --version;\n\
         1 for a runtime error; 2 for a usage error.\n",
    );
    text
}

/// Parses the arguments (without the program name) and the environment.
///
/// A flag beats its variable, which is then not read at all: `PORT=abc whod --port 8080`
/// serves on 8080. A flag given an empty value is a usage error; a variable set to the empty
/// string counts as unset. A list flag (`--echo-hide`) may be repeated: the names add up.
pub fn parse<I, E>(args: I, env: E) -> Result<Command, UsageError>
where
    I: IntoIterator<Item = String>,
    E: Fn(&str) -> Option<String>,
{
    let mut run = None;
    let mut given: Vec<(&Flag, String)> = Vec::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline_value) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let name = if name == "-h" { "--help" } else { name };
        let Some(flag) = FLAGS.iter().find(|f| f.name == name) else {
            return Err(UsageError(format!("unknown flag {arg:?}")));
        };
        let value = match (flag.takes, inline_value) {
            (Takes::Value(_) | Takes::OptionalValue(_), Some(value)) => value,
            (Takes::Value(kind), None) => args
                .next()
                .ok_or_else(|| UsageError(format!("{} needs a value ({kind})", flag.name)))?,
            (Takes::Switch, Some(value)) => {
                return Err(UsageError(format!(
                    "{} takes no value, got {value:?}",
                    flag.name
                )));
            }
            (Takes::Switch | Takes::OptionalValue(_), None) => "on".to_string(),
        };
        match &flag.action {
            // Empty is never a value: `--echo ''` must not quietly turn /echo off.
            Action::Set { .. } if value.is_empty() => {
                return Err(UsageError(format!(
                    "{}: empty value: expected {}",
                    flag.name,
                    flag.usage()
                )));
            }
            Action::Set { .. } => given.push((flag, value)),
            // The first command given wins; its flags may come before or after it.
            Action::Run(command) => run = run.or(Some(*command)),
        }
    }
    match run {
        Some(Run::Version) => return Ok(Command::Version),
        Some(Run::Help) => return Ok(Command::Help),
        Some(Run::Healthcheck) | None => {}
    }

    let mut config = Config::default();
    // The variables of the flags not given, then the flags in the order given.
    for flag in FLAGS {
        if let (Some(var), Action::Set { set, .. }) = (flag.env, &flag.action)
            && !given.iter().any(|(g, _)| g.name == flag.name)
            && let Some(value) = env(var).filter(|value| !value.is_empty())
        {
            set(&mut config, &value)
                .map_err(|why| UsageError(format!("{var}: invalid value {value:?}: {why}")))?;
        }
    }
    for (flag, value) in &given {
        if let Action::Set { set, .. } = &flag.action {
            set(&mut config, value).map_err(|why| {
                UsageError(format!("{}: invalid value {value:?}: {why}", flag.name))
            })?;
        }
    }
    if run == Some(Run::Healthcheck) {
        // Port 0 asks the kernel for any free port when serving; there is no server on it.
        if config.port == 0 {
            return Err(UsageError(
                "--healthcheck: port 0 names no server; give the port it listens on \
                 (--port or PORT)"
                    .to_string(),
            ));
        }
        return Ok(Command::Healthcheck(config));
    }
    Ok(Command::Serve(config))
}

fn number(value: &str, min: u64, max: u64, expected: &str) -> Result<u64, String> {
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) && value.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!("expected {expected}")),
    }
}

/// Whole seconds from `min` to a day.
fn seconds(value: &str, min: u64) -> Result<Duration, String> {
    number(value, min, 86_400, &format!("whole seconds {min}-86400")).map(Duration::from_secs)
}

/// A switch's value: 1/true/yes/on or 0/false/no/off (any case); empty is off.
fn switch(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err("expected 1/true/yes/on or 0/false/no/off".to_string()),
    }
}

fn on_off(on: bool) -> String {
    if on { "on" } else { "off" }.to_string()
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
        assert_eq!(config.access_log, AccessLog::Off);
        assert_eq!(config.name, None);
        assert!(config.echo);
        assert!(config.echo_hide.is_empty());
        assert_eq!(config.max_delay, Duration::from_secs(10));
        assert!(!config.metrics);
        assert!(!config.proxy_protocol);
        assert_eq!(config.shutdown_delay, Duration::ZERO);
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
            "--shutdown-delay",
            "0",
        ]);
        assert_eq!(config.port, 0);
        assert_eq!(config.bind, "::1".parse::<IpAddr>().unwrap());
        assert_eq!(config.header_timeout, Duration::from_secs(3));
        assert_eq!(config.idle_timeout, Duration::from_secs(4));
        assert_eq!(config.access_log, AccessLog::Common);
        assert_eq!(
            serve(&["--access-log=combined"]).access_log,
            AccessLog::Combined
        );
        assert_eq!(
            serve(&["--name", "node-1/default"]).name.as_deref(),
            Some("node-1/default")
        );
        assert!(!serve(&["--echo", "off"]).echo);
        assert_eq!(
            serve(&["--echo-hide", "Authorization, Cookie,,x-Secret"]).echo_hide,
            ["authorization", "cookie", "x-secret"]
        );
        assert_eq!(
            serve(&["--max-delay", "250ms"]).max_delay,
            Duration::from_millis(250)
        );
        assert!(serve(&["--metrics"]).metrics);
        assert!(serve(&["--proxy-protocol"]).proxy_protocol);
        assert_eq!(
            serve(&["--bind", "[::]"]).bind,
            "::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(serve(&["--workers", "3"]).workers, 3);
        let cpus = crate::sys::available_cpus().unwrap();
        assert_eq!(serve(&["--workers", "auto"]).workers, cpus);
        assert_eq!(
            serve(&["--shutdown-delay=86400"]).shutdown_delay,
            Duration::from_secs(86_400)
        );
    }

    #[test]
    fn environment_is_overridden_by_flags() {
        let env = |name: &str| match name {
            "PORT" => Some("9000".to_string()),
            "WHO_SHUTDOWN_DELAY" => Some("7".to_string()),
            _ => None,
        };
        let Ok(Command::Serve(config)) = parse(Vec::new(), env) else {
            panic!()
        };
        assert_eq!(
            (config.port, config.shutdown_delay),
            (9000, Duration::from_secs(7))
        );
        let Ok(Command::Serve(config)) = parse(vec!["--port".into(), "1".into()], env) else {
            panic!()
        };
        assert_eq!(config.port, 1);
    }

    #[test]
    fn a_variable_that_a_flag_overrides_is_not_read() {
        let env = |name: &str| match name {
            "PORT" => Some("abc".to_string()),
            "WHO_ECHO_HIDE" => Some("x-from-env".to_string()),
            _ => None,
        };
        let args = ["--port", "8081", "--echo-hide", "Cookie"].map(String::from);
        let Ok(Command::Serve(config)) = parse(args, env) else {
            panic!("PORT=abc is not read when --port is given")
        };
        assert_eq!(config.port, 8081);
        assert_eq!(
            config.echo_hide,
            ["cookie"],
            "the flag replaces the variable"
        );
        // Not overridden, the bad variable is read, and refused.
        assert!(parse(Vec::new(), env).is_err());
        // --help and --version read no variable.
        assert_eq!(parse(vec!["--help".to_string()], env), Ok(Command::Help));
        assert_eq!(
            parse(vec!["--version".to_string()], env),
            Ok(Command::Version)
        );
    }

    #[test]
    fn an_empty_flag_value_is_a_usage_error_and_an_empty_variable_is_unset() {
        for args in [
            &["--echo", ""][..],
            &["--echo="],
            &["--access-log="],
            &["--name="],
            &["--echo-hide", ""],
            &["--port="],
            &["--max-delay", ""],
        ] {
            let error = parse_args(args).expect_err(&format!("{args:?} should fail"));
            let flag = args[0].split('=').next().unwrap();
            assert!(
                error
                    .0
                    .starts_with(&format!("{flag}: empty value: expected {flag}")),
                "{args:?}: {}",
                error.0
            );
        }
        for var in [
            "WHO_ECHO",
            "WHO_ACCESS_LOG",
            "WHO_NAME",
            "PORT",
            "WHO_METRICS",
        ] {
            let env = |name: &str| (name == var).then(String::new);
            assert_eq!(
                parse(Vec::new(), env),
                Ok(Command::Serve(Config::default())),
                "{var}= is unset"
            );
        }
    }

    #[test]
    fn a_repeated_list_flag_adds_up() {
        let config = serve(&[
            "--echo-hide",
            "Authorization",
            "--echo-hide=Cookie,x-a",
            "--echo-hide",
            "cookie",
        ]);
        assert_eq!(config.echo_hide, ["authorization", "cookie", "x-a"]);
        let names: Vec<String> = (0..MAX_HIDDEN_FIELDS).map(|i| format!("x-{i}")).collect();
        let mut args = Vec::new();
        for name in &names {
            args.extend(["--echo-hide", name.as_str()]);
        }
        assert_eq!(serve(&args).echo_hide.len(), MAX_HIDDEN_FIELDS);
        args.extend(["--echo-hide", "one-more"]);
        let error = parse_args(&args).unwrap_err();
        assert!(
            error
                .0
                .starts_with("--echo-hide: invalid value \"one-more\": more than 64 names in all"),
            "{}",
            error.0
        );
    }

    #[test]
    fn keywords_take_any_case() {
        let cpus = crate::sys::available_cpus().unwrap();
        for (args, env) in [(&["--workers", "AUTO"][..], None), (&[], Some("Auto"))] {
            let env = |name: &str| (name == "WHO_WORKERS").then(|| env.unwrap().to_string());
            let Ok(Command::Serve(config)) = parse(args.iter().map(|a| a.to_string()), env) else {
                panic!("{args:?}")
            };
            assert_eq!(config.workers, cpus);
        }
        assert!(!serve(&["--echo", "OFF"]).echo);
        assert_eq!(
            serve(&["--access-log=Combined"]).access_log,
            AccessLog::Combined
        );
    }

    #[test]
    fn a_healthcheck_of_port_0_is_a_usage_error() {
        let error = parse_args(&["--healthcheck", "--port", "0"]).unwrap_err();
        assert!(
            error.0.starts_with("--healthcheck: port 0 names no server"),
            "{}",
            error.0
        );
        let env = |name: &str| (name == "PORT").then(|| "0".to_string());
        assert!(parse(vec!["--healthcheck".to_string()], env).is_err());
        // Serving on port 0 is fine: the kernel picks one.
        assert_eq!(serve(&["--port", "0"]).port, 0);
    }

    #[test]
    fn access_log_variable_takes_a_format_or_on_off() {
        for (value, format) in [
            ("common", AccessLog::Common),
            ("COMBINED", AccessLog::Combined),
            ("1", AccessLog::Common),
            ("off", AccessLog::Off),
        ] {
            let env = |name: &str| (name == "WHO_ACCESS_LOG").then(|| value.to_string());
            let Ok(Command::Serve(config)) = parse(Vec::new(), env) else {
                panic!("WHO_ACCESS_LOG={value:?}")
            };
            assert_eq!(config.access_log, format, "WHO_ACCESS_LOG={value:?}");
        }
    }

    #[test]
    fn switch_variables_take_on_and_off_in_any_case() {
        for (value, on) in [
            ("1", true),
            ("TRUE", true),
            ("yes", true),
            ("On", true),
            ("0", false),
            ("false", false),
            ("NO", false),
            ("off", false),
            ("", false),
        ] {
            let env = |name: &str| (name == "WHO_METRICS").then(|| value.to_string());
            let Ok(Command::Serve(config)) = parse(Vec::new(), env) else {
                panic!("WHO_METRICS={value:?}")
            };
            assert_eq!(config.metrics, on, "WHO_METRICS={value:?}");
        }
        let env = |name: &str| (name == "WHO_METRICS").then(|| "maybe".to_string());
        let error = parse(Vec::new(), env).unwrap_err();
        assert!(
            error
                .0
                .starts_with("WHO_METRICS: invalid value \"maybe\": expected 1/true"),
            "{}",
            error.0
        );
    }

    #[test]
    fn usage_errors_name_the_flag_and_the_value() {
        for (args, expected) in [
            (&["--port", "99999"][..], "--port: invalid value \"99999\""),
            (&["--port", "abc"], "--port: invalid value \"abc\""),
            (&["--port", "+80"], "--port: invalid value \"+80\""),
            (&["--port"], "--port needs a value (N)"),
            (
                &["--bind", "localhost"],
                "--bind: invalid value \"localhost\"",
            ),
            (
                &["--idle-timeout", "0"],
                "--idle-timeout: invalid value \"0\": expected whole seconds 1-86400",
            ),
            (
                &["--header-timeout", "86401"],
                "--header-timeout: invalid value \"86401\"",
            ),
            (
                &["--shutdown-delay", "-1"],
                "--shutdown-delay: invalid value \"-1\": expected whole seconds 0-86400",
            ),
            (
                &["--max-connections", "-1"],
                "--max-connections: invalid value \"-1\"",
            ),
            (&["--max-connections", "1000001"], "--max-connections"),
            (&["--workers", "0"], "--workers: invalid value \"0\""),
            (&["--workers", "257"], "--workers: invalid value \"257\""),
            (&["--frobnicate"], "unknown flag \"--frobnicate\""),
            (&["--help=yes"], "--help takes no value, got \"yes\""),
            (&["--metrics=1"], "--metrics takes no value"),
            (
                &["--access-log=json"],
                "--access-log: invalid value \"json\": expected common, combined, or on/off",
            ),
            (
                &["--name", "tab\there"],
                "--name: invalid value \"tab\\there\": expected printable ASCII, at most 320",
            ),
            (&["--echo", "maybe"], "--echo: invalid value \"maybe\""),
            (
                &["--echo-hide", "Cookie,a b"],
                "--echo-hide: invalid value \"Cookie,a b\": \"a b\" is not a field name",
            ),
            (
                &["--max-delay", "2h"],
                "--max-delay: invalid value \"2h\": expected a duration such as 500ms or 10s",
            ),
            (
                &["--max-delay", "3601s"],
                "--max-delay: invalid value \"3601s\"",
            ),
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
        assert_eq!(error.to_string(), format!("{} (see whod --help)", error.0));
    }

    #[test]
    fn commands() {
        assert_eq!(parse_args(&["--help"]), Ok(Command::Help));
        assert_eq!(parse_args(&["-h"]), Ok(Command::Help));
        assert_eq!(parse_args(&["--version"]), Ok(Command::Version));
        assert_eq!(parse_args(&["--version", "--help"]), Ok(Command::Version));
        let Ok(Command::Healthcheck(config)) = parse_args(&["--healthcheck", "--port", "81"])
        else {
            panic!()
        };
        assert_eq!(config.port, 81);
    }

    /// The cells of a Markdown table row, trimmed; `\|` stays inside its cell.
    fn table_cells(row: &str) -> Vec<String> {
        let Some(inner) = row.strip_prefix('|').and_then(|r| r.strip_suffix('|')) else {
            return Vec::new();
        };
        let mut cells = vec![String::new()];
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&'|') => {
                    cells.last_mut().unwrap().push_str("\\|");
                    chars.next();
                }
                '|' => cells.push(String::new()),
                c => cells.last_mut().unwrap().push(c),
            }
        }
        cells.iter().map(|c| c.trim().to_string()).collect()
    }

    /// A value for each setting flag that differs from the default, and what it must set.
    fn sample(flag: &Flag) -> (&'static str, fn(&Config) -> bool) {
        match flag.name {
            "--port" => ("81", |c| c.port == 81),
            "--bind" => ("::1", |c| c.bind == "::1".parse::<IpAddr>().unwrap()),
            "--header-timeout" => ("3", |c| c.header_timeout == Duration::from_secs(3)),
            "--idle-timeout" => ("4", |c| c.idle_timeout == Duration::from_secs(4)),
            "--max-connections" => ("5", |c| c.max_connections == 5),
            "--workers" => ("6", |c| c.workers == 6),
            "--access-log" => ("combined", |c| c.access_log == AccessLog::Combined),
            "--name" => ("blue", |c| c.name.as_deref() == Some("blue")),
            "--echo" => ("off", |c| !c.echo),
            "--echo-hide" => ("Cookie", |c| c.echo_hide == ["cookie"]),
            "--max-delay" => ("2s", |c| c.max_delay == Duration::from_secs(2)),
            "--metrics" => ("on", |c| c.metrics),
            "--proxy-protocol" => ("on", |c| c.proxy_protocol),
            "--shutdown-delay" => ("7", |c| c.shutdown_delay == Duration::from_secs(7)),
            other => panic!("no sample for {other}: add one"),
        }
    }

    /// Every setting of `Config` is set by exactly one flag, and each flag's setter sets its own
    /// setting and no other; `--help` and the README show each flag, its variable and its
    /// default as `Config::default()` has it.
    #[test]
    fn the_table_the_struct_help_and_the_readme_agree() {
        // Naming every field here makes a new field fail to compile until it has a flag.
        let Config {
            bind: _,
            port: _,
            header_timeout: _,
            idle_timeout: _,
            max_connections: _,
            workers: _,
            access_log: _,
            name: _,
            echo: _,
            echo_hide: _,
            max_delay: _,
            metrics: _,
            proxy_protocol: _,
            shutdown_delay: _,
        } = Config::default();
        const FIELDS: usize = 14;
        let setters: Vec<&Flag> = FLAGS
            .iter()
            .filter(|f| matches!(f.action, Action::Set { .. }))
            .collect();
        assert_eq!(setters.len(), FIELDS, "one setting flag per field");
        for flag in &setters {
            let Action::Set { set, show } = &flag.action else {
                unreachable!()
            };
            let (value, is_set) = sample(flag);
            let mut config = Config::default();
            set(&mut config, value).unwrap();
            assert!(
                is_set(&config),
                "{} {value} did not set its field",
                flag.name
            );
            assert_ne!(
                show(&config),
                flag.default_text(),
                "{} shows its value",
                flag.name
            );
            // Its own field and no other: every other setting still shows its default.
            for other in &setters {
                let Action::Set { show, .. } = &other.action else {
                    unreachable!()
                };
                if other.name != flag.name {
                    assert_eq!(
                        show(&config),
                        other.default_text(),
                        "{} touched {}",
                        flag.name,
                        other.name
                    );
                }
            }
        }

        let help = help();
        let readme = include_str!("../README.md");
        for flag in FLAGS {
            assert!(
                help.contains(&flag.usage()),
                "--help misses {}",
                flag.usage()
            );
            // Markdown escapes a `|` inside a cell: `--workers N\|auto`.
            let first_cell = format!("`{}`", flag.usage().replace('|', "\\|"));
            let cells = readme
                .lines()
                .map(table_cells)
                .find(|cells| cells.first() == Some(&first_cell))
                .unwrap_or_else(|| panic!("README's flag table has no row for {first_cell}"));
            let env = flag.env.map_or(String::new(), |env| format!("`{env}`"));
            assert_eq!(cells[1], env, "README: the variable of {}", flag.name);
            let default = flag.default_text();
            let shown = if default.is_empty() {
                String::new()
            } else {
                format!("`{default}`")
            };
            assert_eq!(cells[2], shown, "README: the default of {}", flag.name);
            if let Some(env) = flag.env {
                assert!(help.contains(&format!("env {env}")), "--help misses {env}");
            }
            if !default.is_empty() {
                assert!(
                    help.contains(&format!("default {default}]")),
                    "--help misses the default of {}",
                    flag.name
                );
            }
        }
        let rows = readme.lines().filter(|l| l.starts_with("| `--")).count();
        assert!(rows > 0);
        assert_eq!(rows, FLAGS.len(), "README's flag table has a row per flag");
    }
}
