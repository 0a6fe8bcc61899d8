//! Command-line flags and their environment variables. One table, `FLAGS`, drives the parser and
//! `--help`: each row owns its setter and shows its default from `Config::default()`, so the
//! three cannot disagree. A flag beats its variable, which beats the default.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::duration::{parse_duration, show_duration};
use crate::http::limits::{MAX_BODY, MAX_MAX_BODY};
use crate::http::scan;
use crate::size::{parse_size, show_size};

mod values;

pub use self::values::OWNED_HEADERS;
use self::values::{field_line, number, on_off, rate, seconds, show_rate, switch};

/// What `whod` was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Serve,
    /// Be a client: ask `/healthz` of the server on the configured address.
    Healthcheck,
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
    pub workers: Workers,
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
    /// The most events one `/stream` may ask for.
    pub max_stream_events: u64,
    /// The longest a `/stream` may last.
    pub max_stream_duration: Duration,
    /// The largest `/data` download, in bytes.
    pub max_data: u64,
    /// The largest request body, in bytes (413 past it): `/upload`'s, and any other.
    pub max_body: u64,
    /// The most of a body `/echo?body=1` shows.
    pub max_echo_body: u64,
    /// The longest WebSocket message `/ws` echoes (1009 past it).
    pub ws_max_message: u64,
    /// Field lines added to every answer (`--header`), in order: name and value.
    pub headers: Vec<(String, String)>,
    /// The share of requests answered `fail_status` on purpose, in millionths.
    pub fail_rate: u32,
    pub fail_status: u16,
    /// Every answer is held a time drawn evenly from this range (`--latency`).
    pub latency: (Duration, Duration),
    /// Every answer fails with `fail_status` until SIGTTOU (`/healthz`, `/metrics` aside).
    pub sick: bool,
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
            workers: Workers::Count(1),
            access_log: AccessLog::Off,
            name: None,
            echo: true,
            echo_hide: Vec::new(),
            max_delay: Duration::from_secs(10),
            metrics: false,
            proxy_protocol: false,
            shutdown_delay: Duration::ZERO,
            max_stream_events: 1000,
            max_stream_duration: Duration::from_secs(300),
            max_data: 100 << 20,
            max_body: MAX_BODY,
            max_echo_body: 64 << 10,
            ws_max_message: 16 << 20,
            headers: Vec::new(),
            fail_rate: 0,
            fail_status: 503,
            latency: (Duration::ZERO, Duration::ZERO),
            sick: false,
        }
    }
}

/// How many event loops to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workers {
    Count(usize),
    /// One per CPU this process may run on: counted when the server starts, not when the flag
    /// is read.
    Auto,
}

impl Workers {
    /// The number of workers: for `Auto`, the CPUs of the affinity mask (1 if unknown).
    pub fn count(self) -> usize {
        match self {
            Workers::Count(n) => n,
            Workers::Auto => crate::sys::available_cpus().unwrap_or(1),
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
/// The most names `--echo-hide` takes, all its repeats together.
pub const MAX_HIDDEN_FIELDS: usize = 64;
/// The longest `--max-delay`, and `--latency`: a delayed answer holds its connection.
pub const MAX_MAX_DELAY: Duration = Duration::from_secs(3600);
/// The most field lines `--header` adds, all its repeats together.
pub const MAX_HEADERS: usize = 64;
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
pub enum Argument {
    /// A value, as `--port 80` or `--port=80`; the text names its kind.
    Required(&'static str),
    /// Nothing: giving the flag turns it on. Its variable takes on/off.
    Nothing,
    /// Nothing, or a value after `=` (`--access-log=combined`); the text names its kind.
    Optional(&'static str),
}

/// How a flag's text sets its setting, and how the setting shows (for `--help`'s defaults).
pub enum Setter {
    /// On or off: 1/true/yes/on, 0/false/no/off (a switch given on the command line: on).
    Switch(fn(&mut Config) -> &mut bool),
    /// Whole seconds, from the minimum to a day.
    Seconds {
        field: fn(&mut Config) -> &mut Duration,
        min: u64,
    },
    /// Anything else: its own parser, and how its value shows.
    Custom {
        set: fn(&mut Config, &str) -> Result<(), String>,
        show: fn(&Config) -> String,
    },
}

impl Setter {
    /// Sets the setting from `value`; the error says what was expected.
    pub fn set(&self, config: &mut Config, value: &str) -> Result<(), String> {
        match self {
            Setter::Switch(field) => *field(config) = switch(value)?,
            Setter::Seconds { field, min } => *field(config) = seconds(value, *min)?,
            Setter::Custom { set, .. } => set(config, value)?,
        }
        Ok(())
    }

    /// The setting in `config`, as the flag would take it back.
    pub fn show(&self, mut config: Config) -> String {
        match self {
            Setter::Switch(field) => on_off(*field(&mut config)),
            Setter::Seconds { field, .. } => field(&mut config).as_secs().to_string(),
            Setter::Custom { show, .. } => show(&config),
        }
    }
}

/// What a flag does.
pub enum Action {
    Set(Setter),
    /// Something else instead of serving.
    Run(Command),
}

/// One flag: its name, its environment variable, what it takes, what it does.
pub struct Flag {
    pub name: &'static str,
    pub env: Option<&'static str>,
    pub argument: Argument,
    pub help: &'static str,
    pub action: Action,
}

impl Flag {
    /// The default, as `--help` and the README show it; empty for commands.
    pub fn default_text(&self) -> String {
        match &self.action {
            Action::Set(setter) => setter.show(Config::default()),
            Action::Run(_) => String::new(),
        }
    }

    /// `--port N`, `--metrics` for a switch, `--access-log[=common|combined]`.
    pub fn usage(&self) -> String {
        match self.argument {
            Argument::Required(kind) => format!("{} {kind}", self.name),
            Argument::Nothing => self.name.to_string(),
            Argument::Optional(kind) => format!("{}[={kind}]", self.name),
        }
    }
}

pub const FLAGS: &[Flag] = &[
    Flag {
        name: "--port",
        env: Some("PORT"),
        argument: Argument::Required("N"),
        help: "TCP port to listen on; 0 picks a free one (the startup line names it)",
        action: Action::Set(Setter::Custom {
            set: |c, v| {
                c.port = number(v, 0, u16::MAX.into(), "a port number 0-65535")? as u16;
                Ok(())
            },
            show: |c| c.port.to_string(),
        }),
    },
    Flag {
        name: "--bind",
        env: Some("WHO_BIND"),
        argument: Argument::Required("ADDR"),
        help: "IP address to listen on, IPv4 or IPv6 (:: for all IPv6 and, usually, IPv4)",
        action: Action::Set(Setter::Custom {
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
        }),
    },
    Flag {
        name: "--header-timeout",
        env: Some("WHO_HEADER_TIMEOUT"),
        argument: Argument::Required("SECS"),
        help: "a request not fully received this long after its first byte gets 408 and a close; \
               a connection that sends nothing is closed after it",
        action: Action::Set(Setter::Seconds {
            field: |c| &mut c.header_timeout,
            min: 1,
        }),
    },
    Flag {
        name: "--idle-timeout",
        env: Some("WHO_IDLE_TIMEOUT"),
        argument: Argument::Required("SECS"),
        help: "close a keep-alive connection idle this long (longer than load balancers' 60 s)",
        action: Action::Set(Setter::Seconds {
            field: |c| &mut c.idle_timeout,
            min: 1,
        }),
    },
    Flag {
        name: "--max-connections",
        env: Some("WHO_MAX_CONNECTIONS"),
        argument: Argument::Required("N"),
        help: "past this many open connections, new ones get 503 and a close",
        action: Action::Set(Setter::Custom {
            set: |c, v| {
                c.max_connections =
                    number(v, 1, 1_000_000, "a number of connections 1-1000000")? as usize;
                Ok(())
            },
            show: |c| c.max_connections.to_string(),
        }),
    },
    Flag {
        name: "--workers",
        env: Some("WHO_WORKERS"),
        argument: Argument::Required("N|auto"),
        help: "event loops (threads); auto: one per CPU this process may run on (its affinity)",
        action: Action::Set(Setter::Custom {
            set: |c, v| {
                c.workers = if v.eq_ignore_ascii_case("auto") {
                    Workers::Auto
                } else {
                    Workers::Count(number(v, 1, 256, "a number of workers 1-256, or auto")? as usize)
                };
                Ok(())
            },
            show: |c| match c.workers {
                Workers::Count(n) => n.to_string(),
                Workers::Auto => "auto".to_string(),
            },
        }),
    },
    Flag {
        name: "--access-log",
        env: Some("WHO_ACCESS_LOG"),
        argument: Argument::Optional("common|combined"),
        help: "print one line per request on stdout: the Common Log Format, or the Combined \
               one (with the Referer and User-Agent); alone, common",
        action: Action::Set(Setter::Custom {
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
        }),
    },
    Flag {
        name: "--name",
        env: Some("WHO_NAME"),
        argument: Argument::Required("NAME"),
        help: "a label for this replica, shown by /echo (printable ASCII, at most 320 bytes)",
        action: Action::Set(Setter::Custom {
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
        }),
    },
    Flag {
        name: "--echo",
        env: Some("WHO_ECHO"),
        argument: Argument::Required("on|off"),
        help: "serve /echo, /status/NNN, /stream, /data, /upload and /ws; off: only /who, /healthz (and /metrics)",
        action: Action::Set(Setter::Switch(|c| &mut c.echo)),
    },
    Flag {
        name: "--echo-hide",
        env: Some("WHO_ECHO_HIDE"),
        argument: Argument::Required("NAME[,NAME...]"),
        help: "fields whose values /echo shows as [hidden], e.g. Authorization,Cookie; \
               repeatable, the names add up",
        action: Action::Set(Setter::Custom {
            set: |c, v| {
                let names = v
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(str::to_ascii_lowercase);
                // Repeats add up: a flag that hides secrets must hide every name it was given.
                for name in names {
                    if !name.bytes().all(scan::is_token) {
                        return Err(format!("{name:?} is not a field name"));
                    }
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
        }),
    },
    Flag {
        name: "--max-delay",
        env: Some("WHO_MAX_DELAY"),
        argument: Argument::Required("DURATION"),
        help: "the longest ?delay= a request may ask for (250ms, 2s, ...; at most 3600s)",
        action: Action::Set(Setter::Custom {
            set: |c, v| {
                c.max_delay = parse_duration(v.as_bytes())
                    .filter(|d| *d <= MAX_MAX_DELAY)
                    .ok_or_else(|| {
                        "expected a duration such as 500ms or 10s, at most 3600s".to_string()
                    })?;
                Ok(())
            },
            show: |c| show_duration(c.max_delay),
        }),
    },
    Flag {
        name: "--metrics",
        env: Some("WHO_METRICS"),
        argument: Argument::Nothing,
        help: "serve /metrics, in the Prometheus text format",
        action: Action::Set(Setter::Switch(|c| &mut c.metrics)),
    },
    Flag {
        name: "--proxy-protocol",
        env: Some("WHO_PROXY_PROTOCOL"),
        argument: Argument::Nothing,
        help: "every connection must start with a PROXY protocol header (v1 or v2), whose source \
               address becomes the client's; only behind a proxy that always sends one",
        action: Action::Set(Setter::Switch(|c| &mut c.proxy_protocol)),
    },
    Flag {
        name: "--shutdown-delay",
        env: Some("WHO_SHUTDOWN_DELAY"),
        argument: Argument::Required("SECS"),
        help: "after SIGTERM, go on serving this long, /healthz answering 503 and every answer \
               closing its connection, so that load balancers move away first",
        action: Action::Set(Setter::Seconds {
            field: |c| &mut c.shutdown_delay,
            min: 0,
        }),
    },
    Flag {
        name: "--max-stream-events",
        env: Some("WHO_MAX_STREAM_EVENTS"),
        argument: Argument::Required("N"),
        help: "the most events a /stream may ask for (?count=)",
        action: Action::Set(Setter::Custom {
            set: |c, v| {
                c.max_stream_events = number(v, 1, 1_000_000, "a number of events 1-1000000")?;
                Ok(())
            },
            show: |c| c.max_stream_events.to_string(),
        }),
    },
    Flag {
        name: "--max-stream-duration",
        env: Some("WHO_MAX_STREAM_DURATION"),
        argument: Argument::Required("DURATION"),
        help: "the longest a /stream may last, its count times its interval (at most 86400s)",
        action: Action::Set(Setter::Custom {
            set: |c, v| {
                c.max_stream_duration = parse_duration(v.as_bytes())
                    .filter(|d| *d <= Duration::from_secs(86_400))
                    .ok_or_else(|| {
                        "expected a duration such as 60s or 1500ms, at most 86400s".to_string()
                    })?;
                Ok(())
            },
            show: |c| show_duration(c.max_stream_duration),
        }),
    },
    Flag {
        name: "--max-data",
        env: Some("WHO_MAX_DATA"),
        argument: Argument::Required("SIZE"),
        help: "the largest /data download (?size=): bytes, or with a unit: 64KiB, 10MB, 1GiB",
        action: Action::Set(Setter::Custom {
            set: |c, v| {
                c.max_data = parse_size(v.as_bytes())
                    .filter(|size| *size <= 1 << 40)
                    .ok_or_else(|| {
                        "expected a size such as 10MiB or 1GiB, at most 1TiB".to_string()
                    })?;
                Ok(())
            },
            show: |c| show_size(c.max_data),
        }),
    },
    Flag {
        name: "--max-body",
        env: Some("WHO_MAX_BODY"),
        argument: Argument::Required("SIZE"),
        help: "the largest request body (413 and a close past it): an /upload's, and any \
               other, which is read and dropped (at most 1TiB)",
        action: Action::Set(Setter::Custom {
            set: |c, v| {
                c.max_body = parse_size(v.as_bytes())
                    .filter(|size| *size <= MAX_MAX_BODY)
                    .ok_or_else(|| {
                        "expected a size such as 1MiB or 10GiB, at most 1TiB".to_string()
                    })?;
                Ok(())
            },
            show: |c| show_size(c.max_body),
        }),
    },
    Flag {
        name: "--max-echo-body",
        env: Some("WHO_MAX_ECHO_BODY"),
        argument: Argument::Required("SIZE"),
        help: "the most of a request body /echo?body=1 shows (at most 16MiB)",
        action: Action::Set(Setter::Custom {
            set: |c, v| {
                c.max_echo_body = parse_size(v.as_bytes())
                    .filter(|size| *size <= 16 << 20)
                    .ok_or_else(|| "expected a size such as 64KiB, at most 16MiB".to_string())?;
                Ok(())
            },
            show: |c| show_size(c.max_echo_body),
        }),
    },
    Flag {
        name: "--ws-max-message",
        env: Some("WHO_WS_MAX_MESSAGE"),
        argument: Argument::Required("SIZE"),
        help: "the longest WebSocket message /ws echoes, closing with 1009 past it; a client \
               that sends one whole before reading may make its echo wait whole (at most 1GiB)",
        action: Action::Set(Setter::Custom {
            set: |c, v| {
                c.ws_max_message = parse_size(v.as_bytes())
                    .filter(|size| (1..=1 << 30).contains(size))
                    .ok_or_else(|| "expected a size such as 64KiB or 16MiB, 1B-1GiB".to_string())?;
                Ok(())
            },
            show: |c| show_size(c.ws_max_message),
        }),
    },
    Flag {
        name: "--header",
        env: Some("WHO_HEADERS"),
        argument: Argument::Required("'NAME: VALUE'"),
        help: "a field line added to every answer, e.g. 'Access-Control-Allow-Origin: *'; \
               repeatable (the variable: one per line). Not the framing, hop-by-hop or \
               whod's own fields; a Cache-Control replaces whod's no-store",
        action: Action::Set(Setter::Custom {
            set: |c, v| {
                // The variable holds one field line per line; a flag, one.
                for line in v.split('\n').filter(|line| !line.trim().is_empty()) {
                    c.headers.push(field_line(line)?);
                }
                if c.headers.len() > MAX_HEADERS {
                    return Err(format!("more than {MAX_HEADERS} field lines in all"));
                }
                Ok(())
            },
            show: |c| {
                let lines: Vec<String> =
                    c.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
                lines.join("\n")
            },
        }),
    },
    Flag {
        name: "--fail-rate",
        env: Some("WHO_FAIL_RATE"),
        argument: Argument::Required("RATE"),
        help: "answer this share of requests with --fail-status on purpose, at random: 0.2 or \
               20% (/healthz and /metrics never fail)",
        action: Action::Set(Setter::Custom {
            set: |c, v| {
                c.fail_rate = rate(v)?;
                Ok(())
            },
            show: |c| show_rate(c.fail_rate),
        }),
    },
    Flag {
        name: "--fail-status",
        env: Some("WHO_FAIL_STATUS"),
        argument: Argument::Required("CODE"),
        help: "the status of a failure on purpose (--fail-rate, --sick), 400-599",
        action: Action::Set(Setter::Custom {
            set: |c, v| {
                c.fail_status = number(v, 400, 599, "a status code 400-599")? as u16;
                Ok(())
            },
            show: |c| c.fail_status.to_string(),
        }),
    },
    Flag {
        name: "--latency",
        env: Some("WHO_LATENCY"),
        argument: Argument::Required("DURATION[-DURATION]"),
        help: "hold every answer this long, or a time drawn evenly from a range: 50ms, \
               10ms-200ms (/healthz and /metrics go at once)",
        action: Action::Set(Setter::Custom {
            set: |c, v| {
                let expected = || {
                    "expected a duration or a range such as 20ms or 10ms-200ms, at most 3600s"
                        .to_string()
                };
                let (low, high) = v.split_once('-').unwrap_or((v, v));
                let low = parse_duration(low.as_bytes()).ok_or_else(expected)?;
                let high = parse_duration(high.as_bytes()).ok_or_else(expected)?;
                if low > high || high > MAX_MAX_DELAY {
                    return Err(expected());
                }
                c.latency = (low, high);
                Ok(())
            },
            show: |c| match c.latency {
                (low, high) if low == high => show_duration(low),
                (low, high) => format!("{}-{}", show_duration(low), show_duration(high)),
            },
        }),
    },
    Flag {
        name: "--sick",
        env: Some("WHO_SICK"),
        argument: Argument::Nothing,
        help: "start sick: every route but /healthz and /metrics answers --fail-status, until \
               SIGTTOU (SIGTTIN makes it sick again)",
        action: Action::Set(Setter::Switch(|c| &mut c.sick)),
    },
    Flag {
        name: "--healthcheck",
        env: None,
        argument: Argument::Nothing,
        help: "ask /healthz of the server on --bind/--port; exit 0 on 200 within 2 s, else 1",
        action: Action::Run(Command::Healthcheck),
    },
    Flag {
        name: "--version",
        env: None,
        argument: Argument::Nothing,
        help: "print the version and exit",
        action: Action::Run(Command::Version),
    },
    Flag {
        name: "--help",
        env: None,
        argument: Argument::Nothing,
        help: "print this help and exit",
        action: Action::Run(Command::Help),
    },
];

/// The text of `whod --help`.
pub fn help() -> String {
    let mut text = format!(
        "whod {}: answers GET /who with the name of its host\n\n\
         Usage: whod [FLAGS]\n\n\
         Routes (GET or HEAD): /who (the host name); /healthz (200 ok, 503 after SIGUSR1\n\
         or once stopping); /echo (the request as received, text or ?format=json; also\n\
         POST, PUT); /status/NNN; /stream?count=N&interval=D (chunked lines, or SSE);\n\
         /data?size=N (N bytes); POST or PUT /upload (the body's size and CRC-32); /ws\n\
         (a WebSocket echo); /metrics (with --metrics). ?delay=250ms holds an answer.\n\
         Signals: SIGTERM, SIGINT, SIGHUP, SIGQUIT stop (after --shutdown-delay); SIGUSR1\n\
         makes /healthz answer 503, SIGUSR2 200 again; SIGTTIN makes every other route fail\n\
         (--sick), SIGTTOU well again.\n\n\
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

/// Parses the arguments (without the program name) and the environment: what to do, and the
/// settings to do it with.
///
/// A flag beats its variable, which is then not read at all: `PORT=abc whod --port 8080`
/// serves on 8080. A flag given an empty value is a usage error; a variable set to the empty
/// string counts as unset. A list flag (`--echo-hide`) may be repeated: the names add up.
pub fn parse<I, E>(args: I, env: E) -> Result<(Command, Config), UsageError>
where
    I: IntoIterator<Item = String>,
    E: Fn(&str) -> Option<String>,
{
    let mut command = None;
    let mut given: Vec<(&Flag, &Setter, String)> = Vec::new();
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
        let value = match (flag.argument, inline_value) {
            (Argument::Required(_) | Argument::Optional(_), Some(value)) => value,
            (Argument::Required(kind), None) => args
                .next()
                .ok_or_else(|| UsageError(format!("{} needs a value ({kind})", flag.name)))?,
            (Argument::Nothing, Some(value)) => {
                return Err(UsageError(format!(
                    "{} takes no value, got {value:?}",
                    flag.name
                )));
            }
            (Argument::Nothing | Argument::Optional(_), None) => "on".to_string(),
        };
        match &flag.action {
            // Empty is never a value: `--echo ''` must not quietly turn /echo off.
            Action::Set(_) if value.is_empty() => {
                return Err(UsageError(format!(
                    "{}: empty value: expected {}",
                    flag.name,
                    flag.usage()
                )));
            }
            Action::Set(setter) => given.push((flag, setter, value)),
            // The first command given wins; its flags may come before or after it.
            Action::Run(run) => command = command.or(Some(*run)),
        }
    }
    let command = command.unwrap_or(Command::Serve);
    let mut config = Config::default();
    if matches!(command, Command::Help | Command::Version) {
        return Ok((command, config));
    }
    // The variables of the flags not given, then the flags in the order given.
    for flag in FLAGS {
        if let (Some(var), Action::Set(setter)) = (flag.env, &flag.action)
            && !given.iter().any(|(g, _, _)| g.name == flag.name)
            && let Some(value) = env(var).filter(|value| !value.is_empty())
        {
            setter
                .set(&mut config, &value)
                .map_err(|why| UsageError(format!("{var}: invalid value {value:?}: {why}")))?;
        }
    }
    for (flag, setter, value) in &given {
        setter
            .set(&mut config, value)
            .map_err(|why| UsageError(format!("{}: invalid value {value:?}: {why}", flag.name)))?;
    }
    // Port 0 asks the kernel for any free port when serving; there is no server on it.
    if command == Command::Healthcheck && config.port == 0 {
        return Err(UsageError(
            "--healthcheck: port 0 names no server; give the port it listens on \
             (--port or PORT)"
                .to_string(),
        ));
    }
    Ok((command, config))
}

#[cfg(test)]
mod tests;
