// The WebSocket echo the bench compares with whod's /ws: Node's `ws` 8 (bench/run.sh installs it
// with npm into target/bench/node/), every message sent back as it came, text or binary, with
// permessage-deflate off (whod offers no extension) and maxPayload at whod's --ws-max-message
// default. Plain HTTP requests get a 200, so that run.sh can tell when it is up.
//   NODE_PATH=target/bench/node/node_modules node bench/ws_echo.js PORT
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const port = Number(process.argv[2]);
const server = http.createServer((request, response) => response.end('ws echo\n'));
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
wss.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on('error', () => {});
});
server.listen(port, '127.0.0.1');
const stop = () => process.exit(0);
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
