// Interoperability check of GET /ws with a client that shares no code with the relay: the npm
// `ws` package on Node.js (18 or later). Run by tests/integration/WsInteropTest.cpp, which starts
// redis-server and the relay, adds stream entries before this script starts and again once it
// prints "READY", and asserts on this script's exit status and output.
//
//   node ws_client.mjs --port <http port> --token <ws.auth.token> --jwt-secret <ws.auth.jwt_secret>
//                      --max-frame-bytes <ws.max_frame_bytes>
//
// Expected relay settings: ws.auth.token and ws.auth.jwt_secret as given, ws.ping_interval_ms
// short (a few hundred ms), default ws.allowed_origins. Expected entries (all JSON payloads with a
// "seq" member): before the start, order seq 1, quote seq 2, quote seq 3, trade seq 4; after
// READY, trade seq 10 and a heartbeat (neither may arrive), then order seq 11 and quote seq 12.
//
// Output: one line per check ("ok: ..." or "FAIL: ..."), one "message ..." line per bus message
// received, "READY" when the live entries are wanted, and a summary. Exit 0 = every check passed.
import { createHmac } from 'node:crypto';
import WebSocket from 'ws';

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) {
  args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
}
const port = Number(args.port);
const token = args.token ?? '';
const jwtSecret = args['jwt-secret'] ?? '';
const maxFrameBytes = Number(args['max-frame-bytes'] ?? 65536);
const base = `ws://127.0.0.1:${port}/ws`;
const WAIT_MS = 3000;

let passed = 0;
const failures = [];
const started = Date.now();
const at = () => `[${Date.now() - started} ms]`;
function check(cond, what, detail = '') {
  if (cond) {
    passed += 1;
    console.log(`ok: ${what} ${at()}`);
  } else {
    failures.push(what);
    console.log(`FAIL: ${what}${detail ? ` (${detail})` : ''} ${at()}`);
  }
  return cond;
}
const show = (v) => JSON.stringify(v);

// An HS256 JWT made here, with Node's crypto, not by the relay's library.
function jwt(claims, secret) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
}

// An upgrade the relay must refuse: resolves with the HTTP status, headers and JSON body.
function refused(url, options = {}) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, options);
    ws.on('error', (e) => resolve({ status: 0, error: e.message }));
    ws.on('open', () => {
      ws.terminate();
      resolve({ status: 101 });
    });
    ws.on('unexpected-response', (req, res) => {
      // The relay answers refusals with Connection: Keep-Alive, and a kept connection holds one
      // of its http.threads for up to 5 s: close it.
      const socket = req.socket;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(body); } catch { /* reported by the caller */ }
        resolve({ status: res.statusCode, headers: res.headers, json, body });
        socket.destroy();
      });
    });
  });
}

// One connection: parsed text frames in arrival order, server pings counted, the close recorded.
class Client {
  constructor(url, options = {}) {
    this.frames = [];
    this.waiters = [];
    this.pings = 0;
    this.closed = null;
    this.ws = new WebSocket(url, options);
    this.ws.on('message', (data, isBinary) => {
      let frame;
      try {
        frame = isBinary ? { op: '<binary>' } : JSON.parse(data.toString('utf8'));
      } catch (e) {
        frame = { op: '<not json>', text: data.toString('utf8') };
      }
      this.frames.push(frame);
      this.wake();
    });
    this.ws.on('ping', () => {  // ws answers with a pong by itself
      this.pings += 1;
      this.wake();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString('utf8') };
      this.wake();
    });
    this.ws.on('error', (e) => { this.error = e.message; });
  }

  opened() {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.OPEN) return resolve(true);
      this.ws.once('open', () => resolve(true));
      this.ws.once('close', () => resolve(false));
    });
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  // Resolves when pred() is true (with its value), or with undefined after ms.
  until(pred, ms = WAIT_MS) {
    return new Promise((resolve) => {
      const deadline = setTimeout(() => resolve(undefined), ms);
      const test = () => {
        const v = pred();
        if (v !== undefined && v !== false) {
          clearTimeout(deadline);
          resolve(v);
        } else {
          this.waiters.push(test);
        }
      };
      test();
    });
  }

  // The next text frame (or null on timeout or close).
  async next(ms = WAIT_MS) {
    const got = await this.until(() => this.frames.length > 0 || this.closed !== null || undefined, ms);
    return got && this.frames.length > 0 ? this.frames.shift() : null;
  }

  send(obj) {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }
}

function logMessage(m) {
  console.log(`message stream=${m.stream} id=${m.id} topic=${m.topic} type=${m.type} seq=${m.payload?.seq}`
              + (m.conflated ? ` conflated=${m.conflated}` : ''));
}

const idKey = (id) => id.split('-').map(BigInt);
const idLess = (a, b) => {
  const [a0, a1] = idKey(a);
  const [b0, b1] = idKey(b);
  return a0 < b0 || (a0 === b0 && a1 < b1);
};

function messageShapeOk(m) {
  return m && m.op === 'message' && typeof m.stream === 'string' && /^\d+-\d+$/.test(m.id ?? '')
    && typeof m.topic === 'string' && typeof m.type === 'string'
    && typeof m.payload === 'object' && m.payload !== null;
}

async function upgradeRefusals() {
  const none = await refused(base);
  check(none.status === 401 && none.json?.error === 'unauthorized' && typeof none.json?.message === 'string',
        'no token: 401 with a JSON {"error":"unauthorized","message"} body', show(none));
  check(/^Bearer/.test(none.headers?.['www-authenticate'] ?? ''), 'the 401 carries WWW-Authenticate: Bearer',
        show(none.headers));

  const wrong = await refused(base, { headers: { Authorization: 'Bearer not-the-token' } });
  check(wrong.status === 401, 'wrong bearer token: 401', show(wrong));

  const forged = await refused(base, { headers: { Authorization: `Bearer ${jwt({ sub: 'x' }, 'another secret')}` } });
  check(forged.status === 401, 'JWT signed with another secret: 401', show(forged));

  const origin = await refused(`${base}?token=${encodeURIComponent(token)}`, { origin: 'http://evil.example' });
  check(origin.status === 403 && origin.json?.error === 'forbidden', 'Origin not in ws.allowed_origins: 403',
        show(origin));
}

async function mainSession() {
  // The Authorization header, and a browser-like Origin that the defaults allow.
  const c = new Client(base, { headers: { Authorization: `Bearer ${token}` }, origin: 'http://localhost:3000' });
  if (!check(await c.opened(), 'upgrade with Authorization: Bearer and Origin http://localhost:3000', c.error)) {
    return;
  }

  // Replay from the start of history, then live.
  c.send({ op: 'subscribe', topics: ['events.order.*', 'data.quotes.*'], from: '0-0', id: 1 });
  const sub = await c.next();
  check(sub?.op === 'subscribed' && sub.id === 1 && sub.recovered === true && Array.isArray(sub.streams)
        && show(sub.topics) === show(['events.order.*', 'data.quotes.*']) && Array.isArray(sub.types),
        'subscribe with from: "subscribed" first, recovered true, id echoed', show(sub));

  const replayed = [];
  let marker = null;
  for (;;) {
    const f = await c.next();
    if (f?.op === 'message') {
      logMessage(f);
      replayed.push(f);
      continue;
    }
    marker = f;
    break;
  }
  check(marker?.op === 'replayed' && marker.count === 3 && marker.id === 1,
        '{"op":"replayed","count":3,"id":1} after the replayed messages', show(marker));
  check(replayed.every(messageShapeOk), 'replayed frames carry stream, id, topic, type and a JSON payload',
        show(replayed));
  check(show(replayed.map((m) => m.payload.seq).sort((a, b) => a - b)) === show([1, 2, 3]),
        'replay: the order and both quotes, not the trade', show(replayed.map((m) => m.payload.seq)));
  const byStream = new Map();
  let ordered = true;
  for (const m of replayed) {
    if (byStream.has(m.stream) && !idLess(byStream.get(m.stream), m.id)) ordered = false;
    byStream.set(m.stream, m.id);
  }
  check(ordered, 'replay: ids increase within each stream');
  const order = replayed.find((m) => m.payload.seq === 1);
  check(order?.topic === 'events.order.S-001' && order?.type === 'OrderFilled'
        && order?.payload.client_order_id === 'O-1', 'replay: the order event as written', show(order));

  // Requests that get an answer and keep the connection.
  c.send({ op: 'ping', id: 'p1' });
  const pong = await c.next();
  check(pong?.op === 'pong' && pong.id === 'p1', '{"op":"ping","id":"p1"} -> {"op":"pong","id":"p1"}', show(pong));
  c.send({ op: 'dance' });
  const unknown = await c.next();
  check(unknown?.op === 'error' && unknown.code === 'unknown_op' && typeof unknown.message === 'string',
        'unknown op -> error unknown_op', show(unknown));
  c.send('{not json');
  const bad = await c.next();
  check(bad?.op === 'error' && bad.code === 'bad_request', 'malformed JSON -> error bad_request', show(bad));
  c.send({ op: 'subscribe', topics: ['*'], from: 'yesterday', id: 2 });
  const badFrom = await c.next();
  check(badFrom?.op === 'error' && badFrom.code === 'bad_request', 'bad "from" -> error bad_request', show(badFrom));

  // Live: the test adds a trade and a heartbeat (not subscribed), then an order and a quote.
  console.log(`READY ${at()}`);
  const live = [];
  const unexpected = [];
  const deadline = Date.now() + WAIT_MS;
  while (live.length < 2 && Date.now() < deadline) {
    const f = await c.next(deadline - Date.now());
    if (!f) break;
    if (f.op === 'message') logMessage(f);
    if (f.op === 'message' && (f.payload?.seq === 11 || f.payload?.seq === 12)) live.push(f);
    else unexpected.push(f);
  }
  check(show(live.map((m) => m.payload.seq).sort((a, b) => a - b)) === show([11, 12]), 'live: the order and the quote arrive',
        show(live));
  const quote = live.find((m) => m.payload.seq === 12);
  check(quote?.topic === 'data.quotes.BINANCE.BTCUSDT' && quote?.type === 'QuoteTick'
        && quote?.stream?.endsWith(':data.quotes.BINANCE.BTCUSDT') && !('conflated' in quote),
        'live: the quote frame as documented', show(quote));
  const stray = await c.next(300);
  if (stray) unexpected.push(stray);
  check(unexpected.length === 0, 'live: no trade, no heartbeat, nothing else', show(unexpected));

  c.send({ op: 'unsubscribe', topics: ['data.quotes.*', 'never.subscribed'], id: 3 });
  const un = await c.next();
  check(un?.op === 'unsubscribed' && show(un.topics) === show(['data.quotes.*']) && un.id === 3,
        'unsubscribe lists the patterns removed', show(un));

  // Keepalive: the relay pings a quiet client and pings again only once it was answered; ws
  // answers by itself, so three more pings arrive and the connection outlives twice the ping
  // interval without a message from the application.
  const before = c.pings;
  const pinged = await c.until(() => (c.pings >= before + 3 ? true : undefined), 2 * WAIT_MS);
  check(pinged === true && c.closed === null, 'server pings answered by ws: three more, still open',
        `pings=${c.pings - before} closed=${show(c.closed)}`);

  c.ws.close(1000, 'bye');
  await c.until(() => c.closed ?? undefined);
  check(c.closed?.code === 1000, 'client close 1000 echoed by the relay', show(c.closed));
}

async function jwtSession() {
  // ?token= with a JWT signed here; its topics claim limits what it may subscribe to.
  const now = Math.floor(Date.now() / 1000);
  const t = jwt({ sub: 'dashboard', exp: now + 60, topics: ['data.quotes.*'] }, jwtSecret);
  const c = new Client(`${base}?token=${encodeURIComponent(t)}`);
  if (!check(await c.opened(), 'upgrade with ?token=<HS256 JWT made by node:crypto>', c.error)) {
    return;
  }
  c.send({ op: 'subscribe', topics: ['events.order.*'], id: 'o' });
  const no = await c.next();
  check(no?.op === 'error' && no.code === 'forbidden' && no.id === 'o',
        'JWT topics claim: a pattern outside it -> error forbidden', show(no));
  c.send({ op: 'subscribe', topics: ['data.quotes.BINANCE.*'], types: ['QuoteTick'], id: 'q' });
  const yes = await c.next();
  check(yes?.op === 'subscribed' && yes.id === 'q' && show(yes.types) === show(['QuoteTick']),
        'JWT topics claim: a narrower pattern is allowed', show(yes));

  // A message over ws.max_frame_bytes closes the connection with 1009.
  c.send(JSON.stringify({ op: 'ping', pad: 'x'.repeat(maxFrameBytes + 16) }));
  await c.until(() => c.closed ?? undefined);
  check(c.closed?.code === 1009 && /max_frame_bytes/.test(c.closed?.reason ?? ''),
        'a frame over ws.max_frame_bytes -> close 1009 naming the key', show(c.closed));
}

const watchdog = setTimeout(() => {
  console.log(`FAIL: timed out (${passed} checks passed so far)`);
  process.exit(1);
}, 15000);

try {
  if (!port) throw new Error('usage: node ws_client.mjs --port <port> --token <token> --jwt-secret <secret>');
  await upgradeRefusals();
  await mainSession();
  await jwtSession();
} catch (e) {
  failures.push(String(e));
  console.log(`FAIL: ${e.stack ?? e}`);
}
clearTimeout(watchdog);
if (failures.length === 0) {
  console.log(`PASS: ${passed} checks`);
  process.exit(0);
}
console.log(`FAILED: ${failures.length} of ${passed + failures.length} checks: ${failures.join('; ')}`);
process.exit(1);
