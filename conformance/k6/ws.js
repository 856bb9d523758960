// k6's `k6/ws` as a k6 user writes it: handlers set up in the connect
// callback, text and binary messages, a ping and its pong, a socket timer,
// a close the server starts and one the script starts. WS_URL is the test's
// auction target: its `/ws/echo` sends every message back, and closes with
// code 4000 when it gets `bye`.
import ws from 'k6/ws';
import { check } from 'k6';

export const options = {
  scenarios: {
    echo: { executor: 'per-vu-iterations', vus: 2, iterations: 2 },
  },
  thresholds: { checks: ['rate==1'] },
};

export default function () {
  const url = `${__ENV.WS_URL.replace(/^http/, 'ws')}/ws/echo`;
  // Even iterations end by the server's close, odd ones by the script's
  // (`close()` with no code sends 1001, going away, in k6).
  const serverCloses = __ITER % 2 === 0;
  let texts = 0;
  let ticks = 0;
  const res = ws.connect(url, { headers: { 'Sec-WebSocket-Protocol': 'chat' }, tags: { socket: 'echo' } }, function (socket) {
    socket.on('open', function () {
      socket.send('hello');
      socket.sendBinary(new Uint8Array([1, 2, 3]).buffer);
      socket.ping();
    });
    socket.on('message', function (data) {
      texts += 1;
      check(data, { 'text comes back': (d) => d === (texts === 1 ? 'hello' : 'tick') });
      if (texts === 4) {
        if (serverCloses) socket.send('bye');
        else socket.close();
      }
    });
    socket.on('binaryMessage', function (data) {
      check(data, { 'bytes come back': (b) => b.byteLength === 3 && new Uint8Array(b)[2] === 3 });
    });
    socket.on('pong', function () {
      check(true, { 'a ping gets its pong': (ok) => ok });
    });
    socket.setInterval(function () {
      if (ticks < 3) {
        ticks += 1;
        socket.send('tick');
      }
    }, 10);
    socket.on('close', function (code) {
      check(code, { 'closed with the code of who closed': (c) => c === (serverCloses ? 4000 : 1001) });
    });
    // Never reached when the server echoes: a session that hangs ends here
    // and fails the message checks.
    socket.setTimeout(function () { socket.close(); }, 10000);
  });
  check(res, {
    'handshake is 101': (r) => r && r.status === 101,
    'the server took the subprotocol': (r) => r && r.headers['Sec-Websocket-Protocol'] === 'chat',
  });
}
