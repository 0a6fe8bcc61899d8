//! The routes: what `who` answers, and the host name it answers with.

/// What an answer says: its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    /// The host's name, exactly (no newline: the bytes the original Go server sends).
    Hostname,
    Text(&'static str),
}

/// The answer to one request, before it is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content: Content,
    /// 405 names the methods that work: `Allow: GET, HEAD`.
    pub allow: bool,
}

/// What `/healthz` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Serving,
    /// SIGTERM has come: draining or stopping.
    ShuttingDown,
}

/// Routes by path alone (the query never matters), then by method.
///
/// - `/who`: the host name. `/healthz`: `ok`, or 503 once shutdown has begun, so that a load
///   balancer stops sending here before the listener closes.
/// - A known path with a method other than GET or HEAD: 405. Anything else: 404.
pub fn route(method: &[u8], path: Option<&[u8]>, health: Health) -> Reply {
    let found = match path {
        Some(b"/who") => Reply {
            status: 200,
            content: Content::Hostname,
            allow: false,
        },
        Some(b"/healthz") if health == Health::ShuttingDown => Reply {
            status: 503,
            content: Content::Text("shutting down"),
            allow: false,
        },
        Some(b"/healthz") => Reply {
            status: 200,
            content: Content::Text("ok"),
            allow: false,
        },
        _ => {
            return Reply {
                status: 404,
                content: Content::Text("not found: try /who"),
                allow: false,
            };
        }
    };
    match method {
        b"GET" | b"HEAD" => found,
        _ => Reply {
            status: 405,
            content: Content::Text("method not allowed: use GET or HEAD"),
            allow: true,
        },
    }
}

/// The host's name now; `unknown` if the kernel will not say (as the Go original does).
pub fn hostname() -> Vec<u8> {
    crate::sys::hostname().unwrap_or_else(|_| b"unknown".to_vec())
}

#[cfg(test)]
mod tests {
    use super::Health::{Serving, ShuttingDown};
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            route(b"GET", Some(b"/who"), Serving).content,
            Content::Hostname
        );
        assert_eq!(route(b"HEAD", Some(b"/who"), ShuttingDown).status, 200);
        assert_eq!(
            route(b"GET", Some(b"/healthz"), Serving),
            Reply {
                status: 200,
                content: Content::Text("ok"),
                allow: false
            }
        );
        assert_eq!(route(b"GET", Some(b"/healthz"), ShuttingDown).status, 503);
        let post = route(b"POST", Some(b"/who"), Serving);
        assert_eq!((post.status, post.allow), (405, true));
        assert_eq!(route(b"DELETE", Some(b"/healthz"), Serving).status, 405);
        for path in [&b"/"[..], b"/who/", b"/WHO", b"//who", b"/who%20"] {
            assert_eq!(route(b"GET", Some(path), Serving).status, 404);
        }
        assert_eq!(route(b"OPTIONS", None, Serving).status, 404);
    }

    #[test]
    fn hostname_is_the_kernels() {
        let name = hostname();
        assert!(!name.is_empty() && !name.contains(&0));
        let expected = std::fs::read("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(name, expected.trim_ascii_end());
    }
}
