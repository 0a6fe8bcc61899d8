// What tests/websocket.sh asks of Node: npm's `ws` (version 8, installed by the script into
// MODULES, a directory of its own) as the reference echo server, and as a client of whod.
// Loopback only; every wait is bounded.
//
//   node tests/websocket_peer.mjs server MODULES   an echo server on a free port of 127.0.0.1,
//                                                  without permessage-deflate (whod offers none);
//                                                  prints "listening on 127.0.0.1:PORT", serves
//                                                  until SIGTERM
//   node tests/websocket_peer.mjs client MODULES URL
//                                                  text, binary, a 1 MiB message and a ping
//
// A check prints "ok DESCRIPTION" or "FAILED DESCRIPTION", which the shell script counts.
import { createRequire } from "node:module";
import path from "node:path";

const TIMEOUT_MS = 10000;
const [command, modules, url] = process.argv.slice(2);
// The package is not installed beside this file: load it from where the script put it.
const require = createRequire(path.join(path.resolve(modules), "noop.js"));
const WebSocket = require("ws");
const version = require("ws/package.json").version;

function verdict(ok, description) {
  console.log(`${ok ? "ok" : "FAILED"} ${description}`);
}

if (command === "server") {
  const server = new WebSocket.WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    perMessageDeflate: false,
  });
  server.on("connection", (ws) => {
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on("error", () => {}); // Autobahn's cases break the protocol on purpose
  });
  server.on("listening", () =>
    console.log(`ws ${version} listening on 127.0.0.1:${server.address().port}`));
  process.on("SIGTERM", () => process.exit(0));
} else if (command === "client") {
  await client(url);
} else {
  console.error(`unknown command ${command}: see the header comment`);
  process.exit(2);
}

// next(ws, event): the next EVENT of ws ("message", "pong", "close"), or an error after the
// timeout.
function next(ws, event) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${event} within ${TIMEOUT_MS} ms`)),
      TIMEOUT_MS,
    );
    ws.once(event, (...args) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

async function client(url) {
  const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: TIMEOUT_MS });
  try {
    await next(ws, "open");
    ws.send("hello from ws");
    let [data, isBinary] = await next(ws, "message");
    verdict(!isBinary && data.toString() === "hello from ws",
      `ws ${version}: a text message comes back as text ('${data}')`);
    const bytes = Buffer.from([0, 1, 0xfe, 0xff]);
    ws.send(bytes);
    [data, isBinary] = await next(ws, "message");
    verdict(isBinary && bytes.equals(data),
      `ws: a binary message comes back as binary (${data.toString("hex")})`);
    const megabyte = Buffer.alloc(1 << 20);
    for (let i = 0; i < megabyte.length; i++) megabyte[i] = (i * 7) & 0xff;
    const start = performance.now();
    ws.send(megabyte);
    [data, isBinary] = await next(ws, "message");
    const seconds = ((performance.now() - start) / 1000).toFixed(3);
    verdict(isBinary && megabyte.equals(data),
      `ws: a 1 MiB binary message comes back whole and the same (${data.length} B, ${seconds} s)`);
    ws.ping("are you there");
    [data] = await next(ws, "pong");
    verdict(data.toString() === "are you there",
      `ws: a ping gets its pong, with the ping's payload ('${data}')`);
    ws.close(1000, "done");
    const [code] = await next(ws, "close");
    verdict(code === 1000, `ws: a close (1000) is answered with a close (code ${code})`);
  } catch (error) {
    verdict(false, `ws as a client of ${url}: ${error.message}`);
    ws.terminate();
  }
}
