import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import {
  createMemoryIdempotencyStore,
  createRedisIdempotencyStore,
  decodeResult,
  encodeResult,
  type IdempotencyStore,
} from '../../src/server/idempotency';
import { HttpClient } from '../../src/connectors/http';
import { ErrorCode, GatewayError } from '../../src/errors';
import type { MessageModel } from '../../src/connectors/types';
import type { AmbiguousAttempts } from '../../src/schema/context';
import { isEarlierAttempt, LOOKUP_CLOCK_SKEW_MS } from '../../src/schema/resolvers/Mutation';
import { randomPrefix, redisClients } from '../utils/redis';
import { waitFor } from '../utils/wait';

/**
 * The idempotency stores: one run per key however many callers (and, with Redis, however many instances),
 * the same result for all, a failure releases the key, another input under the same key is refused.
 */
const message = {
  sourceId: 'pixieset',
  nativeId: 'msg_1',
  conversationNativeId: 'conv_1',
  content: 'Hi',
  sentAt: new Date('2025-08-07T10:30:00.123Z'),
  readAt: null,
  direction: 'OUTGOING',
  private: false,
  sender: {
    sourceId: 'pixieset',
    nativeId: 'u1',
    name: 'Ann',
    email: null,
    phone: null,
    kind: 'AGENT',
    avatarUrl: null,
    avatarColor: null,
  },
  attachments: [
    { sourceId: 'pixieset', nativeId: 'a1', filename: 'x.pdf', contentType: 'application/pdf', size: 3, url: null },
  ],
  nested: [{ at: new Date('2024-01-01T00:00:00.000Z') }],
};

describe('stored results', () => {
  it('survive JSON and come back with their Dates', () => {
    const back = decodeResult<typeof message>(encodeResult(message));
    expect(back).toEqual(message);
    expect(back.sentAt).toBeInstanceOf(Date);
    expect(back.nested[0]!.at).toBeInstanceOf(Date);
  });
});

async function behavesIdempotently(stores: IdempotencyStore[]) {
  const key = `k-${randomUUID()}`;
  let calls = 0;
  const fn = async () => {
    calls++;
    await new Promise((r) => setTimeout(r, 50));
    return { ...message, nativeId: `msg_${calls}` };
  };
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => stores[i % stores.length]!.run(key, 'f1', fn)),
  );
  expect(calls).toBe(1);
  for (const r of results) expect(r).toEqual(results[0]);
  expect(results[0]!.sentAt).toBeInstanceOf(Date);
  // Later repeats, on every store, get the same result without running.
  for (const s of stores) expect(await s.run(key, 'f1', fn)).toEqual(results[0]);
  expect(calls).toBe(1);
  // Another input under the same key is refused.
  await expect(stores[0]!.run(key, 'f2', fn)).rejects.toMatchObject({ code: ErrorCode.BAD_USER_INPUT });

  // A failure is not a result: it releases the key.
  const key2 = `k-${randomUUID()}`;
  await expect(
    stores[0]!.run(key2, 'f', () =>
      Promise.reject(new GatewayError(ErrorCode.SOURCE_UNAVAILABLE, 'down', { source: 'x' })),
    ),
  ).rejects.toMatchObject({
    code: ErrorCode.SOURCE_UNAVAILABLE,
  });
  expect(await stores[stores.length - 1]!.run(key2, 'f', async () => 'second try')).toBe('second try');
}

describe('idempotency stores', () => {
  it('in memory: one run for 50 concurrent callers, the same result, failures release the key', async () => {
    await behavesIdempotently([createMemoryIdempotencyStore()]);
  });

  describe('in Redis', () => {
    const clients = redisClients();
    const conns: Redis[] = [];
    const prefix = randomPrefix('idem');
    afterAll(() => clients.closeAll(prefix));
    const store = () => {
      const c = clients.open();
      conns.push(c);
      return createRedisIdempotencyStore(c, { prefix });
    };

    it('across two instances: one run for 50 concurrent callers, the same result, failures release the key', async () => {
      await behavesIdempotently([store(), store()]);
    });

    it("keeps results for 24 hours and lets a dead instance's claim expire", async () => {
      const [a, b] = [store(), store()];
      const key = `k-${randomUUID()}`;
      await a.run(key, 'f', async () => 1);
      const ttl = await conns[0]!.pttl(`${prefix}idem:${createHash('sha256').update(key).digest('hex')}`);
      expect(ttl).toBeGreaterThan(86_000_000);

      // An instance that claims and never finishes: after its lease another instance runs.
      const short = createRedisIdempotencyStore(conns[0]!, { prefix, leaseMs: 200 });
      const key2 = `k-${randomUUID()}`;
      void short.run(key2, 'f', () => new Promise<number>(() => undefined));
      await new Promise((r) => setTimeout(r, 20));
      expect(await b.run(key2, 'f', async () => 2)).toBe(2);
    });
  });
});

/** A failure after which the source may have acted (issue 12 item 16). */
const ambiguousFailure = () => Promise.reject(new GatewayError(ErrorCode.SOURCE_UNAVAILABLE, '500 after the write'));
/** A failure after which it certainly did not (a 4xx). */
const refusedFailure = () => Promise.reject(new GatewayError(ErrorCode.SOURCE_REJECTED, 'HTTP 422'));
const byMessage = (e: unknown) => e instanceof GatewayError && e.message === '500 after the write';

/**
 * Held keys: an ambiguous failure holds the key; the next call looks first (`recover`) and returns what it
 * finds without running; found nothing, it runs; a failed lookup keeps the key held; any other failure releases.
 */
async function holdsAmbiguousKeys(stores: IdempotencyStore[]) {
  const [a, b] = [stores[0]!, stores[stores.length - 1]!];
  type Lookup = (x: AmbiguousAttempts) => Promise<string[]>;
  const opts = (recover: Lookup) => ({ ambiguous: byMessage, recover, resultId: (r: string) => `msg:${r}` });
  const nothing: Lookup = async () => [];
  const fail = (store: IdempotencyStore, key: string) => store.run(key, 'f', ambiguousFailure, opts(nothing));
  const run = jest.fn(async () => 'sent again');

  // Found at the source: that is the result, for this call and every later one; nothing runs again.
  const key = `k-${randomUUID()}`;
  const before = Date.now();
  await expect(fail(a, key)).rejects.toThrow('500 after the write');
  const seen: AmbiguousAttempts[] = [];
  const found = jest.fn(async (x: AmbiguousAttempts) => (seen.push(x), [`found ${key}`]));
  // Concurrent retries: one lookup.
  const results = await Promise.all([b.run(key, 'f', run, opts(found)), a.run(key, 'f', run, opts(found))]);
  expect(results).toEqual([`found ${key}`, `found ${key}`]);
  expect(found).toHaveBeenCalledTimes(1);
  expect(seen[0]!.firstStartedAt).toBeGreaterThanOrEqual(before);
  expect(seen[0]!.lastFailedAt).toBeGreaterThanOrEqual(seen[0]!.firstStartedAt);
  expect(await a.run(key, 'f', run, opts(found))).toBe(`found ${key}`);
  expect(found).toHaveBeenCalledTimes(1);
  expect(run).not.toHaveBeenCalled();
  // Another input under a held key is refused too.
  const held = `k-${randomUUID()}`;
  await expect(fail(a, held)).rejects.toThrow();
  await expect(b.run(held, 'other', run, opts(found))).rejects.toMatchObject({ code: ErrorCode.BAD_USER_INPUT });

  // A failed lookup keeps the key held (with the same attempts); not found, it runs.
  const lookupFails = jest.fn(async () => Promise.reject(new GatewayError(ErrorCode.SOURCE_TIMEOUT, 'read failed')));
  await expect(b.run(held, 'f', run, opts(lookupFails))).rejects.toThrow('read failed');
  const notFound = jest.fn(nothing);
  expect(await a.run(held, 'f', run, opts(notFound))).toBe('sent again');
  expect(notFound).toHaveBeenCalledTimes(1);
  expect(run).toHaveBeenCalledTimes(1);

  // Ambiguous again after a lookup that found nothing: still held, the attempts now span both.
  const twice = `k-${randomUUID()}`;
  await expect(fail(a, twice)).rejects.toThrow();
  await expect(fail(b, twice)).rejects.toThrow();
  const spans: AmbiguousAttempts[] = [];
  await a.run(
    twice,
    'f',
    run,
    opts(async (x) => (spans.push(x), [`found ${twice}`])),
  );
  expect(spans[0]!.lastFailedAt).toBeGreaterThanOrEqual(spans[0]!.firstStartedAt);

  // One result answers one key: two held keys whose lookups see the same message; the first takes it, the second
  // passes over it (and over a message another key sent) and sends.
  const [k1, k2, k3] = [`k-${randomUUID()}`, `k-${randomUUID()}`, `k-${randomUUID()}`];
  const sentByK3 = await b.run(k3, 'f', async () => `sent ${k3}`, opts(nothing));
  await expect(fail(a, k1)).rejects.toThrow();
  await expect(fail(b, k2)).rejects.toThrow();
  const same: Lookup = async () => [sentByK3, `one ${k1}`];
  expect(await b.run(k1, 'f', run, opts(same))).toBe(`one ${k1}`);
  const runK2 = jest.fn(async () => `sent ${k2}`);
  expect(await a.run(k2, 'f', runK2, opts(same))).toBe(`sent ${k2}`);
  expect(runK2).toHaveBeenCalledTimes(1);

  // A failure after which the source certainly did not act releases the key: no lookup, the retry runs.
  const released = `k-${randomUUID()}`;
  await expect(a.run(released, 'f', refusedFailure, opts(found))).rejects.toMatchObject({
    code: ErrorCode.SOURCE_REJECTED,
  });
  const lookup = jest.fn(async () => ['should not be looked up']);
  expect(await b.run(released, 'f', run, opts(lookup))).toBe('sent again');
  expect(lookup).not.toHaveBeenCalled();
}

describe('keys held after an ambiguous failure', () => {
  it('in memory', async () => {
    await holdsAmbiguousKeys([createMemoryIdempotencyStore()]);
  });

  describe('in Redis', () => {
    const clients = redisClients();
    const prefix = randomPrefix('idem-held');
    afterAll(() => clients.closeAll(prefix));
    it('across two instances', async () => {
      await holdsAmbiguousKeys([
        createRedisIdempotencyStore(clients.open(), { prefix }),
        createRedisIdempotencyStore(clients.open(), { prefix }),
      ]);
    });
  });
});

/** A free TCP port on loopback (taken and released). */
async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** A redis-server of this test's own on `port`, without persistence (a restart starts empty). */
async function startRedisServer(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const probe = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => undefined);
  try {
    await waitFor(
      async () =>
        (await probe
          .connect()
          .then(() => probe.ping())
          .catch(() => null)) === 'PONG',
      {
        what: `redis-server on port ${port}`,
      },
    );
  } finally {
    probe.disconnect();
  }
  return child;
}

const stopRedisServer = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });

describe('the Redis store while Redis is down (issue 12 item 2)', () => {
  let server: ChildProcess;
  let port: number;
  let client: Redis;
  beforeAll(async () => {
    port = await freePort();
    server = await startRedisServer(port);
    client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    client.on('error', () => undefined); // the gateway's RedisHealth listens in production
  });
  afterAll(async () => {
    client?.disconnect();
    if (server) await stopRedisServer(server);
  });

  it('refuses with IDEMPOTENCY_UNAVAILABLE (retryable, nothing run) instead of failing, and works again once Redis is back', async () => {
    const store = createRedisIdempotencyStore(client, { prefix: 'outage:' });
    const key = `k-${randomUUID()}`;
    expect(await store.run(key, 'f', async () => 'first')).toBe('first');

    await stopRedisServer(server);
    const fn = jest.fn(async () => 'sent');
    for (const k of [key, `k-${randomUUID()}`]) {
      const err = await store.run(k, 'f', fn).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(GatewayError);
      expect(err).toMatchObject({
        code: ErrorCode.IDEMPOTENCY_UNAVAILABLE,
        extensions: { code: 'IDEMPOTENCY_UNAVAILABLE', retryable: true, retryAfter: expect.any(Number) },
      });
    }
    expect(fn).not.toHaveBeenCalled();

    // Known down (server/redisHealth.ts): refused at once, without sending Redis a command.
    const sent = jest.spyOn(client, 'sendCommand');
    const known = createRedisIdempotencyStore(client, { prefix: 'outage:', health: { isDown: () => true } });
    await expect(known.run(`k-${randomUUID()}`, 'f', fn)).rejects.toMatchObject({
      code: ErrorCode.IDEMPOTENCY_UNAVAILABLE,
    });
    expect(sent).not.toHaveBeenCalled();
    sent.mockRestore();
    expect(fn).not.toHaveBeenCalled();

    // Redis returns (empty: it kept nothing): keys work again.
    server = await startRedisServer(port);
    await waitFor(() => client.status === 'ready', { what: 'the client to reconnect', timeoutMs: 10_000 });
    const again = `k-${randomUUID()}`;
    expect(await store.run(again, 'f', fn)).toBe('sent');
    expect(await store.run(again, 'f', fn)).toBe('sent');
    expect(fn).toHaveBeenCalledTimes(1);
  }, 30_000);
});

describe('which failed writes may have been carried out (GatewayError.ambiguous, connectors/http.ts)', () => {
  let server: HttpServer;
  let base: string;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    server = createHttpServer((req, res) => {
      const path = req.url ?? '';
      if (path === '/hang') return; // no answer (closed in afterAll)
      if (path === '/reset') return void req.socket.destroy();
      if (path === '/500') return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"x"}');
      if (path === '/502-html') return void res.writeHead(502, { 'content-type': 'text/html' }).end('<html>');
      if (path === '/422') return void res.writeHead(422, { 'content-type': 'application/json' }).end('{"error":"x"}');
      if (path === '/429') return void res.writeHead(429, { 'content-type': 'application/json' }).end('{}');
      if (path === '/bad-json') return void res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":');
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const failure = async (baseUrl: string, method: 'GET' | 'POST', path: string) => {
    const client = new HttpClient({ sourceId: 'x', baseUrl, timeoutMs: 300, retries: 0, circuitThreshold: 100 });
    return client.request({ requestId: 'r' }, { method, path, json: method === 'POST' ? {} : undefined }).then(
      () => {
        throw new Error('expected a failure');
      },
      (e: unknown) => e as GatewayError,
    );
  };

  it.each([
    ['a 500', '/500', 'SOURCE_UNAVAILABLE', true],
    ['a 502 with an HTML body', '/502-html', 'SOURCE_UNAVAILABLE', true],
    ['no answer (timeout)', '/hang', 'SOURCE_TIMEOUT', true],
    ['a reset after the request was sent', '/reset', 'SOURCE_UNAVAILABLE', true],
    ['a success whose body cannot be read', '/bad-json', 'SOURCE_BAD_RESPONSE', true],
    ['a 422', '/422', 'SOURCE_REJECTED', false],
    ['a 429', '/429', 'SOURCE_RATE_LIMITED', false],
  ])('a POST answered with %s (%s): %s, ambiguous: %s', async (_, path, code, ambiguous) => {
    const e = await failure(base, 'POST', path);
    expect(e).toMatchObject({ code, ambiguous });
    // Internal only: never in what the client sees.
    expect(e.extensions.ambiguous).toBeUndefined();
  });

  it('a POST to a closed port (connection refused) is not ambiguous; a failed GET is not marked', async () => {
    expect(await failure(`http://127.0.0.1:${await freePort()}`, 'POST', '/x')).toMatchObject({
      code: 'SOURCE_UNAVAILABLE',
      ambiguous: false,
    });
    expect((await failure(base, 'GET', '/500')).ambiguous).toBeUndefined();
  });

  it('a POST refused by the open circuit is not ambiguous', async () => {
    const client = new HttpClient({ sourceId: 'x', baseUrl: base, timeoutMs: 300, retries: 0, circuitThreshold: 1 });
    await client.request({ requestId: 'r' }, { method: 'POST', path: '/500', json: {} }).catch(() => undefined);
    await expect(client.request({ requestId: 'r' }, { method: 'POST', path: '/ok', json: {} })).rejects.toMatchObject({
      code: 'CIRCUIT_OPEN',
      ambiguous: false,
    });
  });
});

describe('which message is the earlier attempt of a send (sendMessage after an ambiguous failure)', () => {
  const attempts = {
    firstStartedAt: Date.parse('2025-08-07T10:30:00Z'),
    lastFailedAt: Date.parse('2025-08-07T10:30:05Z'),
  };
  const want = { content: 'Booked for Saturday!', private: false, attachments: 0 };
  const m = (over: Partial<MessageModel>): MessageModel => ({
    ...(message as unknown as MessageModel),
    content: 'Booked for Saturday!',
    sentAt: new Date('2025-08-07T10:30:02Z'),
    direction: 'OUTGOING',
    private: false,
    attachments: [],
    ...over,
  });

  it('takes an outgoing message with the same content, privacy and attachment count, dated within the attempts ± 30 s', () => {
    expect(isEarlierAttempt(m({}), want, attempts)).toBe(true);
    expect(isEarlierAttempt(m({ content: '  Booked for Saturday!\r\n' }), want, attempts)).toBe(true);
    // Whole-second vendor timestamps and a vendor clock a little off.
    expect(
      isEarlierAttempt(m({ sentAt: new Date(attempts.firstStartedAt - LOOKUP_CLOCK_SKEW_MS) }), want, attempts),
    ).toBe(true);
    expect(
      isEarlierAttempt(m({ sentAt: new Date(attempts.lastFailedAt + LOOKUP_CLOCK_SKEW_MS) }), want, attempts),
    ).toBe(true);
    // Attachment-only messages: Chatwoot's content is null.
    expect(
      isEarlierAttempt(
        m({ content: null, attachments: [message.attachments[0]!] }),
        { ...want, content: '', attachments: 1 },
        attempts,
      ),
    ).toBe(true);
  });

  it.each([
    ['another content', { content: 'Booked for Sunday!' }],
    ['incoming (the contact wrote the same words)', { direction: 'INCOMING' as const }],
    ['a private note', { private: true }],
    ['another number of attachments', { attachments: [message.attachments[0]!] }],
    [
      'older than the first attempt (an earlier identical message)',
      { sentAt: new Date(attempts.firstStartedAt - LOOKUP_CLOCK_SKEW_MS - 1000) },
    ],
    ['newer than the last failure', { sentAt: new Date(attempts.lastFailedAt + LOOKUP_CLOCK_SKEW_MS + 1000) }],
    ['undated', { sentAt: null }],
  ])('does not take %s', (_, over) => {
    expect(isEarlierAttempt(m(over as Partial<MessageModel>), want, attempts)).toBe(false);
  });
});
