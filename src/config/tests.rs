//! The flags' unit tests: each flag and variable, every usage error, and the table against
//! `Config`, `--help` and the README.

use super::*;

fn parse_args(args: &[&str]) -> Result<(Command, Config), UsageError> {
    parse(args.iter().map(|s| s.to_string()), |_| None)
}

fn serve(args: &[&str]) -> Config {
    match parse_args(args) {
        Ok((Command::Serve, config)) => config,
        other => panic!("expected Serve for {args:?}, got {other:?}"),
    }
}

/// What `parse` says to do, with the settings it read left out.
fn command(parsed: Result<(Command, Config), UsageError>) -> Result<Command, UsageError> {
    parsed.map(|(command, _)| command)
}

#[test]
fn defaults() {
    let config = serve(&[]);
    assert_eq!(config.port, 8080);
    assert_eq!(config.bind, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(config.header_timeout, Duration::from_secs(10));
    assert_eq!(config.idle_timeout, Duration::from_secs(75));
    assert_eq!(config.max_connections, 10_000);
    assert_eq!(config.workers, Workers::Count(1));
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
    assert_eq!(serve(&["--workers", "3"]).workers, Workers::Count(3));
    assert_eq!(serve(&["--workers", "auto"]).workers, Workers::Auto);
    // Counted only when asked, from the affinity mask.
    let cpus = crate::sys::available_cpus().unwrap();
    assert_eq!(Workers::Auto.count(), cpus);
    assert_eq!(Workers::Count(3).count(), 3);
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
    let Ok((Command::Serve, config)) = parse(Vec::new(), env) else {
        panic!()
    };
    assert_eq!(
        (config.port, config.shutdown_delay),
        (9000, Duration::from_secs(7))
    );
    let Ok((Command::Serve, config)) = parse(vec!["--port".into(), "1".into()], env) else {
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
    let Ok((Command::Serve, config)) = parse(args, env) else {
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
    assert_eq!(
        command(parse(vec!["--help".to_string()], env)),
        Ok(Command::Help)
    );
    assert_eq!(
        command(parse(vec!["--version".to_string()], env)),
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
            Ok((Command::Serve, Config::default())),
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
    for (args, env) in [(&["--workers", "AUTO"][..], None), (&[], Some("Auto"))] {
        let env = |name: &str| (name == "WHO_WORKERS").then(|| env.unwrap().to_string());
        let Ok((Command::Serve, config)) = parse(args.iter().map(|a| a.to_string()), env) else {
            panic!("{args:?}")
        };
        assert_eq!(config.workers, Workers::Auto);
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
        let Ok((Command::Serve, config)) = parse(Vec::new(), env) else {
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
        let Ok((Command::Serve, config)) = parse(Vec::new(), env) else {
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

/// Each bound a flag names is the last value it accepts: one byte, one line, one more is refused.
#[test]
fn each_bound_is_the_last_value_accepted() {
    let longest = "n".repeat(MAX_NAME);
    assert_eq!(
        serve(&["--name", &longest]).name.as_deref(),
        Some(longest.as_str())
    );
    let error = parse_args(&["--name", &format!("{longest}n")]).unwrap_err();
    assert!(
        error
            .0
            .ends_with("expected printable ASCII, at most 320 bytes"),
        "{}",
        error.0
    );
    let lines: Vec<String> = (0..MAX_HEADERS).map(|i| format!("X-{i}: v")).collect();
    let mut args = Vec::new();
    for line in &lines {
        args.extend(["--header", line.as_str()]);
    }
    assert_eq!(serve(&args).headers.len(), MAX_HEADERS);
    assert_eq!(
        serve(&["--latency", "3600s"]).latency,
        (MAX_MAX_DELAY, MAX_MAX_DELAY)
    );
    assert_eq!(
        serve(&["--latency", "1s-3600s"]).latency,
        (Duration::from_secs(1), MAX_MAX_DELAY)
    );
}

/// `--flag=value` is split at its `=` only when it starts with `--`: `-h` is the one short
/// flag, and takes no value either way.
#[test]
fn only_a_long_flag_is_split_at_its_equals_sign() {
    let error = parse_args(&["-h=yes"]).unwrap_err();
    assert_eq!(error.0, "unknown flag \"-h=yes\"");
    let error = parse_args(&["--help=yes"]).unwrap_err();
    assert_eq!(error.0, "--help takes no value, got \"yes\"");
}

#[test]
fn commands() {
    assert_eq!(command(parse_args(&["--help"])), Ok(Command::Help));
    assert_eq!(command(parse_args(&["-h"])), Ok(Command::Help));
    assert_eq!(command(parse_args(&["--version"])), Ok(Command::Version));
    assert_eq!(
        command(parse_args(&["--version", "--help"])),
        Ok(Command::Version)
    );
    let Ok((Command::Healthcheck, config)) = parse_args(&["--healthcheck", "--port", "81"]) else {
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
        "--workers" => ("6", |c| c.workers == Workers::Count(6)),
        "--access-log" => ("combined", |c| c.access_log == AccessLog::Combined),
        "--name" => ("blue", |c| c.name.as_deref() == Some("blue")),
        "--echo" => ("off", |c| !c.echo),
        "--echo-hide" => ("Cookie", |c| c.echo_hide == ["cookie"]),
        "--max-delay" => ("2s", |c| c.max_delay == Duration::from_secs(2)),
        "--metrics" => ("on", |c| c.metrics),
        "--proxy-protocol" => ("on", |c| c.proxy_protocol),
        "--shutdown-delay" => ("7", |c| c.shutdown_delay == Duration::from_secs(7)),
        "--max-stream-events" => ("5", |c| c.max_stream_events == 5),
        "--max-stream-duration" => ("90s", |c| c.max_stream_duration == Duration::from_secs(90)),
        "--max-data" => ("1GiB", |c| c.max_data == 1 << 30),
        "--max-body" => ("10GiB", |c| c.max_body == 10 << 30),
        "--max-echo-body" => ("1KiB", |c| c.max_echo_body == 1024),
        "--ws-max-message" => ("64KiB", |c| c.ws_max_message == 64 << 10),
        "--header" => ("X-A: 1", |c| c.headers == [("X-A".into(), "1".into())]),
        "--fail-rate" => ("0.25", |c| c.fail_rate == 250_000),
        "--fail-status" => ("500", |c| c.fail_status == 500),
        "--latency" => ("10ms-20ms", |c| {
            c.latency == (Duration::from_millis(10), Duration::from_millis(20))
        }),
        "--sick" => ("on", |c| c.sick),
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
        max_stream_events: _,
        max_stream_duration: _,
        max_data: _,
        max_body: _,
        max_echo_body: _,
        ws_max_message: _,
        headers: _,
        fail_rate: _,
        fail_status: _,
        latency: _,
        sick: _,
    } = Config::default();
    const FIELDS: usize = 25;
    let setters: Vec<&Flag> = FLAGS
        .iter()
        .filter(|f| matches!(f.action, Action::Set(_)))
        .collect();
    assert_eq!(setters.len(), FIELDS, "one setting flag per field");
    for flag in &setters {
        let Action::Set(setter) = &flag.action else {
            unreachable!()
        };
        let (value, is_set) = sample(flag);
        let mut config = Config::default();
        setter.set(&mut config, value).unwrap();
        assert!(
            is_set(&config),
            "{} {value} did not set its field",
            flag.name
        );
        let shown = setter.show(config.clone());
        assert_ne!(shown, flag.default_text(), "{} shows its value", flag.name);
        // What it shows, the flag takes back.
        let mut again = Config::default();
        setter.set(&mut again, &shown).unwrap();
        assert_eq!(again, config, "{} {value} shows as {shown:?}", flag.name);
        // Its own field and no other: every other setting still shows its default.
        for other in &setters {
            let Action::Set(other_setter) = &other.action else {
                unreachable!()
            };
            if other.name != flag.name {
                assert_eq!(
                    other_setter.show(config.clone()),
                    other.default_text(),
                    "{} touched {}",
                    flag.name,
                    other.name
                );
            }
        }
    }

    let help = help();
    let readme = include_str!("../../README.md");
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

/// `--help` shows each flag's description in one column, two spaces after the longest usage,
/// and its variable and default below, in that column too.
#[test]
fn help_lines_the_descriptions_up_two_spaces_after_the_longest_usage() {
    let help = help();
    let longest = FLAGS.iter().map(|f| f.usage().len()).max().unwrap();
    let column = "  ".len() + longest + "  ".len();
    for flag in FLAGS {
        let usage = format!("  {} ", flag.usage());
        let line = help
            .lines()
            .find(|line| line.starts_with(&usage))
            .unwrap_or_else(|| panic!("--help has no line for {}", flag.name));
        assert_eq!(line.find(flag.help), Some(column), "{line:?}");
    }
    let extras: Vec<&str> = help
        .lines()
        .filter(|line| line.trim_start().starts_with('['))
        .collect();
    assert_eq!(
        extras.len(),
        FLAGS.iter().filter(|f| f.env.is_some()).count()
    );
    for line in extras {
        assert_eq!(line.len() - line.trim_start().len(), column, "{line:?}");
    }
}

#[test]
fn headers_chosen_by_the_operator() {
    let config = serve(&[
        "--header",
        "Access-Control-Allow-Origin: *",
        "--header=Cache-Control:  max-age=60 ",
        "--header",
        "Set-Cookie: a=1",
        "--header",
        "set-cookie: b=2",
    ]);
    assert_eq!(
        config.headers,
        [
            ("Access-Control-Allow-Origin".to_string(), "*".to_string()),
            ("Cache-Control".to_string(), "max-age=60".to_string()),
            ("Set-Cookie".to_string(), "a=1".to_string()),
            ("set-cookie".to_string(), "b=2".to_string()),
        ]
    );
    // The variable: one per line; a flag replaces it, as any flag its variable.
    let env = |name: &str| (name == "WHO_HEADERS").then(|| "X-A: 1\n\nX-B:\t2 3\n".to_string());
    let Ok((Command::Serve, config)) = parse(Vec::new(), env) else {
        panic!()
    };
    assert_eq!(
        config.headers,
        [
            ("X-A".to_string(), "1".to_string()),
            ("X-B".to_string(), "2 3".to_string())
        ]
    );
    for (value, why) in [
        ("X-A", "\"X-A\" is not NAME: VALUE"),
        (": v", "\"\" is not a field name"),
        ("X A: v", "\"X A\" is not a field name"),
        ("X-A: a\rb", "the value of X-A holds the byte 0x0d"),
        ("X-A: a\u{0}b", "the value of X-A holds the byte 0x00"),
        ("X-A: caf\u{e9}", "the value of X-A holds the byte 0xc3"),
        (
            "Content-Length: 5",
            "Content-Length is a field whod writes itself",
        ),
        (
            "transfer-encoding: chunked",
            "transfer-encoding is a field whod writes itself",
        ),
        (
            "Connection: close",
            "Connection is a field whod writes itself",
        ),
        ("Upgrade: h2c", "Upgrade is a field whod writes itself"),
        ("Date: now", "Date is a field whod writes itself"),
        (
            "Content-Type: text/html",
            "Content-Type is a field whod writes itself",
        ),
        ("Vary: *", "Vary is a field whod writes itself"),
        (
            "Sec-WebSocket-Accept: x",
            "Sec-WebSocket-Accept is a field whod writes itself",
        ),
    ] {
        let error = parse_args(&["--header", value]).unwrap_err();
        assert!(
            error
                .0
                .starts_with(&format!("--header: invalid value {value:?}: {why}")),
            "{value:?}: {}",
            error.0
        );
    }
    // A newline in a flag is two field lines, and LF alone cannot be smuggled into one.
    assert_eq!(serve(&["--header", "X-A: 1\nX-B: 2"]).headers.len(), 2);
    let many: Vec<String> = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v")).collect();
    let mut args = Vec::new();
    for header in &many {
        args.extend(["--header", header.as_str()]);
    }
    assert!(
        parse_args(&args)
            .unwrap_err()
            .0
            .contains("more than 64 field lines in all")
    );
}

#[test]
fn failure_rates_as_shares_or_percentages() {
    for (value, millionths) in [
        ("0", 0),
        ("1", 1_000_000),
        ("0.2", 200_000),
        ("0.05", 50_000),
        ("0.000001", 1),
        ("20%", 200_000),
        ("0.5%", 5_000),
        ("100%", 1_000_000),
        ("1.0", 1_000_000),
    ] {
        assert_eq!(
            serve(&["--fail-rate", value]).fail_rate,
            millionths,
            "{value}"
        );
    }
    for bad in [
        // More than six decimals, even when the share falls on a millionth.
        "0.1000000",
        // A whole part that would overflow once scaled to millionths.
        "100000000000000",
        "1.1",
        "101%",
        "-0.1",
        ".5",
        "0.0000001",
        "0.00001%",
        "x",
        "1e-3",
        "0,5",
    ] {
        let error = parse_args(&["--fail-rate", bad]).unwrap_err();
        assert!(
            error
                .0
                .ends_with("expected a share such as 0.2 or 20%, from 0 to 1"),
            "{bad}: {}",
            error.0
        );
    }
    for millionths in [0, 1, 50_000, 200_000, 1_000_000] {
        assert_eq!(rate(&show_rate(millionths)), Ok(millionths));
    }
    assert_eq!(show_rate(200_000), "0.2");
    assert!(parse_args(&["--fail-status", "399"]).is_err());
    assert!(parse_args(&["--latency", "20ms-10ms"]).is_err());
    assert!(parse_args(&["--latency", "3601s"]).is_err());
    assert_eq!(
        serve(&["--latency", "50ms"]).latency,
        (Duration::from_millis(50), Duration::from_millis(50))
    );
}
