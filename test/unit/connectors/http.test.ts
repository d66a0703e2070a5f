import { getEventListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HttpClient, type HttpClientOptions } from '../../../src/connectors/http';
import { ErrorCode, GatewayError } from '../../../src/errors';
import { rejection } from '../../utils/errors';
import { sleep, waitFor } from '../../utils/wait';

/**
 * HttpClient's policies against a tiny local server whose answers each test scripts: retries for idempotent
 * reads only, Retry-After honoured, circuit breaker open → half-open probe → closed, the concurrency and rate
 * caps, timeouts and the operation's abort signal.
 */
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let base: string;
let handler: Handler;
let hits: Array<{ method: string; path: string }> = [];
let inFlight = 0;
let maxInFlight = 0;
const held: ServerResponse[] = [];
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push({ method: req.method ?? '', path: req.url ?? '' });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => inFlight--);
    handler(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  hits = [];
  inFlight = 0;
  maxInFlight = 0;
  handler = json(200, { ok: true });
});
afterEach(() => {
  for (const r of held.splice(0)) if (!r.writableEnded) r.end();
});

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
const hold: Handler = (_req, res) => {
  held.push(res);
};
const release = () => {
  for (const r of held.splice(0)) {
    r.writeHead(200, { 'content-type': 'application/json' });
    r.end('{"ok":true}');
  }
};

const client = (o: Partial<HttpClientOptions> = {}) =>
  new HttpClient({ sourceId: 'src', baseUrl: base, timeoutMs: 1000, ...o });
const scope = { requestId: 'test' };
/** Waits (2 s at most) until `cond` holds. */
const until = (cond: () => boolean, what: string) => waitFor(cond, { timeoutMs: 2000, what });

describe('HttpClient', () => {
  it('retries an idempotent read on a transient failure, but never a POST', async () => {
    handler = json(503, { error: 'down' });
    const c = client({ retries: 2 });
    expect((await rejection(c.get(scope, '/a'))).code).toBe(ErrorCode.SOURCE_UNAVAILABLE);
    expect(hits).toHaveLength(3);
    hits = [];
    expect((await rejection(c.request(scope, { method: 'POST', path: '/a', json: {} }))).code).toBe(
      ErrorCode.SOURCE_UNAVAILABLE,
    );
    expect(hits).toHaveLength(1);
  });

  it('does not retry what retrying cannot fix (4xx)', async () => {
    handler = json(422, { error: 'bad' });
    const c = client({ retries: 2 });
    expect((await rejection(c.get(scope, '/a'))).code).toBe(ErrorCode.SOURCE_REJECTED);
    expect(hits).toHaveLength(1);
  });

  it('honours 429 Retry-After: SOURCE_RATE_LIMITED with retryAfter, then no call until the time is up', async () => {
    handler = json(429, { error: 'slow down' }, { 'retry-after': '30' });
    const c = client({ retries: 2 });
    const first = await rejection(c.get(scope, '/a'));
    expect(first.extensions).toMatchObject({ code: 'SOURCE_RATE_LIMITED', source: 'src', retryAfter: 30 });
    expect(hits).toHaveLength(1);
    handler = json(200, { ok: true });
    const second = await rejection(c.get(scope, '/a'));
    expect(second.extensions).toMatchObject({ code: 'SOURCE_RATE_LIMITED', source: 'src' });
    expect(second.extensions.retryAfter).toBeGreaterThan(0);
    expect(second.extensions.retryAfter).toBeLessThanOrEqual(30);
    expect(hits).toHaveLength(1);
    expect(c.health()).toMatchObject({ status: 'DEGRADED', lastErrorCode: 'SOURCE_RATE_LIMITED', circuit: 'CLOSED' });
  });

  it('opens the circuit after repeated failures, calls nothing while open, probes once half-open and closes', async () => {
    handler = json(500, {});
    const c = client({ retries: 0, circuitThreshold: 2, circuitHalfOpenAfterMs: 150 });
    expect((await rejection(c.get(scope, '/a'))).code).toBe('SOURCE_UNAVAILABLE');
    expect((await rejection(c.get(scope, '/a'))).code).toBe('SOURCE_UNAVAILABLE');
    expect(hits).toHaveLength(2);
    const open = await rejection(c.get(scope, '/a'));
    expect(open.extensions).toEqual({ code: 'CIRCUIT_OPEN', source: 'src' });
    expect(hits).toHaveLength(2);
    expect(c.health()).toMatchObject({ status: 'DOWN', circuit: 'OPEN' });

    // Half-open with the source still failing: one probe, and the circuit opens again.
    await sleep(200);
    expect((await rejection(c.get(scope, '/a'))).code).toBe('SOURCE_UNAVAILABLE');
    expect(hits).toHaveLength(3);
    expect((await rejection(c.get(scope, '/a'))).code).toBe('CIRCUIT_OPEN');
    expect(hits).toHaveLength(3);

    // Half-open with the source back: the probe succeeds and the circuit closes.
    handler = json(200, { ok: true });
    await sleep(200);
    expect(await c.get(scope, '/a')).toEqual({ ok: true });
    expect(c.health()).toMatchObject({ status: 'UP', circuit: 'CLOSED' });
    expect(await c.get(scope, '/a')).toEqual({ ok: true });
    expect(hits).toHaveLength(5);
  });

  it('keeps at most maxConcurrency requests in flight and queues the rest', async () => {
    handler = hold;
    const c = client({ maxConcurrency: 2, timeoutMs: 5000 });
    const calls = Array.from({ length: 5 }, (_, i) => c.get(scope, `/c${i}`));
    await until(() => held.length === 2, 'two requests in flight');
    await sleep(50);
    expect(hits).toHaveLength(2);
    handler = json(200, { ok: true });
    release();
    await Promise.all(calls);
    expect(hits).toHaveLength(5);
    expect(maxInFlight).toBe(2);
  });

  it('gives up a queued request after its wait budget with SOURCE_RATE_LIMITED, without calling', async () => {
    handler = hold;
    const c = client({ maxConcurrency: 1, timeoutMs: 5000, queueTimeoutMs: 100 });
    const first = c.get(scope, '/slow');
    await until(() => held.length === 1, 'the first request');
    const queued = await rejection(c.get(scope, '/queued'));
    expect(queued.extensions).toMatchObject({ code: 'SOURCE_RATE_LIMITED', source: 'src' });
    expect(queued.message).toMatch(/concurrency limit \(1 requests in flight\); waited 100 ms/);
    handler = json(200, { ok: true });
    release();
    await first;
    await c.get(scope, '/after');
    expect(hits.map((h) => h.path)).toEqual(['/slow', '/after']);
  });

  it('caps the rate: past rateLimitPerMinute a request fails with SOURCE_RATE_LIMITED and retryAfter, uncalled', async () => {
    const c = client({ rateLimitPerMinute: 3 });
    for (let i = 0; i < 3; i++) await c.get(scope, '/r');
    const refused = await rejection(c.get(scope, '/r'));
    expect(refused.extensions).toMatchObject({ code: 'SOURCE_RATE_LIMITED', source: 'src' });
    expect(refused.extensions.retryAfter).toBeGreaterThanOrEqual(59);
    expect(refused.message).toMatch(/3 requests a minute/);
    expect(hits).toHaveLength(3);
    expect(c.health().status).toBe('DEGRADED');
  });

  it('times out a hanging source with SOURCE_TIMEOUT', async () => {
    handler = hold;
    const c = client({ timeoutMs: 100, retries: 0 });
    const e = await rejection(c.get(scope, '/hang'));
    expect(e.extensions).toEqual({ code: 'SOURCE_TIMEOUT', source: 'src' });
    expect(e.message).toMatch(/within 100 ms/);
  });

  it("aborts with the operation's signal; a cancelled call does not count against the source", async () => {
    handler = hold;
    const c = client({ timeoutMs: 5000, retries: 2, circuitThreshold: 1 });
    const controller = new AbortController();
    const p = c.get({ requestId: 'd', signal: controller.signal }, '/slow');
    await until(() => held.length === 1, 'the request');
    controller.abort(new GatewayError(ErrorCode.LIMIT_EXCEEDED, 'deadline'));
    const e = await rejection(p);
    expect(e.extensions).toEqual({ code: 'SOURCE_TIMEOUT', source: 'src' });
    expect(e.message).toMatch(/deadline/);
    expect(hits).toHaveLength(1); // not retried
    handler = json(200, { ok: true });
    expect(await c.get(scope, '/next')).toEqual({ ok: true }); // the circuit (threshold 1) did not open
  });

  it("lets go of the operation's signal after each call; a signal already aborted sends nothing", async () => {
    const c = client({ timeoutMs: 5000, retries: 0 });
    const controller = new AbortController();
    const op = { requestId: 'e', signal: controller.signal };
    for (let i = 0; i < 20; i++) expect(await c.get(op, `/ok/${i}`)).toEqual({ ok: true });
    handler = json(500, { error: 'boom' });
    await rejection(c.get(op, '/fails'));
    // Every call added its abort listener to the operation's signal and removed it once answered (or failed).
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect(hits).toHaveLength(21);
    controller.abort(new GatewayError(ErrorCode.LIMIT_EXCEEDED, 'deadline'));
    const e = await rejection(c.get(op, '/late'));
    expect(e.message).toMatch(/deadline/);
    expect(hits).toHaveLength(21);
  });

  it('turns a truncated JSON body into SOURCE_BAD_RESPONSE', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"data": [{"id": "trunc');
    };
    const e = await rejection(client({ retries: 0 }).get(scope, '/m'));
    expect(e.extensions).toEqual({ code: 'SOURCE_BAD_RESPONSE', source: 'src' });
  });

  it('takes the limits given as `policy`, and options the caller sets itself win over them', async () => {
    const limited = new HttpClient({
      sourceId: 'src',
      baseUrl: base,
      policy: { rateLimitPerMinute: 1, timeoutMs: 100 },
    });
    await limited.get(scope, '/p');
    expect((await rejection(limited.get(scope, '/p'))).code).toBe('SOURCE_RATE_LIMITED');
    expect(hits).toHaveLength(1);
    // The caller's own option wins; one it leaves undefined does not erase the policy's.
    const own = new HttpClient({
      sourceId: 'src',
      baseUrl: base,
      policy: { rateLimitPerMinute: 1, timeoutMs: 100 },
      rateLimitPerMinute: 3,
      timeoutMs: undefined,
    });
    for (let i = 0; i < 3; i++) await own.get(scope, '/p');
    const refused = await rejection(own.get(scope, '/p'));
    expect(refused.code).toBe('SOURCE_RATE_LIMITED');
    expect(refused.message).toContain('allows 3 requests a minute');
    expect(hits).toHaveLength(4);
    // No policy: no cap.
    const plain = new HttpClient({ sourceId: 'src', baseUrl: base });
    for (let i = 0; i < 5; i++) await plain.get(scope, '/p');
    expect(hits).toHaveLength(9);
  });
});
