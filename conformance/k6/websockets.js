// k6's browser-like `WebSocket` as a k6 user writes it: `on<event>`
// properties and `addEventListener`, text and binary messages (a `Blob`, by
// default), a ping and its pong, k6's timers, a close the server starts (an
// error too, with its code) and one the script starts. WS_URL is the test's
// auction target: its `/ws/echo` sends every message back, and closes with
// code 4000 when it gets `bye`. (`k6/websockets` in newer k6; k6 1.1 has
// only this name.)
import { WebSocket } from 'k6/experimental/websockets';
import { setTimeout } from 'k6/timers';
import { check } from 'k6';

export const options = {
  scenarios: {
    echo: { executor: 'per-vu-iterations', vus: 2, iterations: 2 },
  },
  thresholds: { checks: ['rate==1'] },
};

export default function () {
  const url = `${__ENV.WS_URL.replace(/^http/, 'ws')}/ws/echo`;
  // Even iterations end by the server's close, odd ones by the script's.
  const serverCloses = __ITER % 2 === 0;
  const ws = new WebSocket(url, 'chat');
  check(ws, { 'connecting at first': (w) => w.readyState === 0 });
  let texts = 0;
  ws.onopen = (e) => {
    check(ws, { 'open, with the subprotocol': (w) => e.type === 'open' && w.readyState === 1 && w.protocol === 'chat' });
    ws.send('hello');
    ws.send(new Uint8Array([1, 2, 3]).buffer);
    ws.ping();
  };
  ws.addEventListener('message', async (e) => {
    if (typeof e.data !== 'string') {
      const blob = e.data;
      const bytes = new Uint8Array(await blob.arrayBuffer());
      const text = await blob.text();
      const tail = await blob.slice(1).bytes();
      check(bytes, {
        'bytes come back as a Blob': (b) => blob.size === 3 && b[2] === 3 && text === '\u0001\u0002\u0003' && tail.length === 2 && tail[0] === 2,
      });
      return;
    }
    texts += 1;
    check(e.data, { 'text comes back': (d) => d === (texts === 1 ? 'hello' : 'tick') });
    if (texts === 1) {
      setTimeout(() => {
        ws.send('tick');
        ws.send('tick');
      }, 10);
    } else if (texts === 3) {
      if (serverCloses) ws.send('bye');
      else ws.close();
    }
  });
  ws.onpong = () => {
    check(true, { 'a ping gets its pong': (ok) => ok });
  };
  ws.onerror = (e) => {
    check(e.error, { "the server's close 4000 is an error": (m) => serverCloses && String(m).includes('close 4000') });
  };
  ws.onclose = () => {
    check(ws, { 'closed': (w) => w.readyState === 3 });
  };
}
