//! From a parsed request to the answer it is owed: the one place where a connection meets the
//! routes (`who::route`), renders what the answer shows, and counts and logs it.

use super::Conn;
use crate::config::AccessLog;
use crate::http::request::Request;
use crate::http::response::Connection;
use crate::server::context::{Body, Context, Owed, Peers};
use crate::who::{self, Content};

impl Conn {
    /// Routes a request, renders what its answer shows, counts and logs it; the answer is
    /// written now, after the body, or after its delay.
    pub(super) fn decide(&self, request: &Request, head: &[u8], ctx: &mut Context) -> Owed {
        let reply = who::route(request, head, &ctx.settings.routes, || ctx.health());
        let connection = if !request.keep_alive || ctx.shutting_down {
            Connection::Close
        } else if request.minor_version == 0 {
            Connection::KeepAlive
        } else {
            Connection::Persistent
        };
        let head_only = request.method == b"HEAD";
        let content_type = reply.content_type();
        let vary_accept = reply.varies_with_accept();
        let body = match reply.content {
            Content::Hostname => Body::Hostname,
            Content::Text(text) => Body::Text(text),
            Content::Message(message) => Body::Owned(message.into_bytes()),
            Content::Echo(format) => Body::Owned(ctx.echo(format, head, &self.peers())),
            Content::Metrics => Body::Owned(ctx.metrics_page()),
        };
        ctx.counters().request(reply.route, reply.status);
        if ctx.settings.access_log != AccessLog::Off {
            let bytes = if head_only || matches!(reply.status, 204 | 304) {
                0
            } else {
                ctx.body(&body).len()
            };
            ctx.log(self.client, Some(head), reply.status, bytes);
        }
        Owed {
            status: reply.status,
            body,
            content_type,
            vary_accept,
            allow: reply.allow,
            head_only,
            connection,
            delay: reply.delay,
        }
    }

    fn peers(&self) -> Peers {
        Peers {
            client: self.client,
            proxy: (self.client != self.peer).then_some(self.peer),
            // Asked of the kernel only for an echo; a connected socket always has one.
            local: self.stream.local_addr().unwrap_or(self.peer),
        }
    }
}
