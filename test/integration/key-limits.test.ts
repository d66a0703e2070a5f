import { createHash } from 'node:crypto';
import type { Client } from 'graphql-ws';
import type { ApiKeyConfig, Config } from '../../src/config/schema';
import { toGlobalId } from '../../src/schema/ids';
import { startTestGateway, tuneSources, type TestGateway } from '../utils/gateway';
import { waitFor } from '../utils/wait';
import { createWsClient } from '../utils/ws';

/**
 * Issue 12 item 4: one tenant cannot starve the others. Each source's vendor budget is shared fairly between API keys
 * (connectors/fairShare.ts), and each key has its own limits (server/keyLimits.ts): operations per minute and at
 * once, subscriptions per socket and per key, refused with LIMIT_EXCEEDED and `retryAfter`, over HTTP (429 with
 * Retry-After) and graphql-ws (an error for that subscription; the socket stays open).
 */
type Err = { message: string; extensions?: Record<string, unknown> };
type Body = { data?: Record<string, unknown> | null; errors?: Err[] };

/** POST /graphql with a key and a request id (the emulators log it, so upstream requests can be told apart). */
async function post(t: TestGateway, key: string, requestId: string, query: string, variables?: object) {
  const res = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      authorization: `Bearer ${key}`,
      'x-request-id': requestId,
    },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Body };
}

const LOOKUP = `query($id: ID!) { node(id: $id) { id } }`;
const monicaConversation = (n: number) => toGlobalId('Conversation', 'monica', String(n));

describe("fair share of a source's vendor budget between API keys", () => {
  /** Monica's 60 requests a minute: one key's 70 lookups, then another key's query. */
  async function flood(keyReserve: number | undefined) {
    const t = await startTestGateway({
      kinds: ['MONICA'],
      configure: (c) => tuneSources(c, () => (keyReserve === undefined ? {} : { keyReserve })),
    });
    try {
      const monica = t.embedded.sandbox.emulators.get('monica')!;
      monica.clearRequests();
      // 70 lookups of distinct conversations by the first key, 5 at a time (its concurrency limit is 20).
      const answers: Body[] = [];
      for (let i = 0; i < 70; i += 5) {
        const batch = await Promise.all(
          Array.from({ length: 5 }, (_, j) =>
            post(t, t.apiKey, `key-a-${i + j}`, LOOKUP, { id: monicaConversation(i + j + 1) }),
          ),
        );
        answers.push(...batch.map((r) => r.body));
      }
      const other = await post(t, t.limitedKey, 'key-b-0', LOOKUP, { id: monicaConversation(1) });
      const log = monica.requests();
      return {
        answers,
        other,
        byA: log.filter((r) => r.headers['x-request-id']?.startsWith('key-a-')).length,
        byB: log.filter((r) => r.headers['x-request-id'] === 'key-b-0').length,
        total: log.length,
        throttled: log.filter((r) => r.status === 429).length,
      };
    } finally {
      await t.close();
    }
  }

  it('without a reserve (keyReserve 0) one key takes the whole minute and the other key is refused (the issue)', async () => {
    const r = await flood(0);
    expect(r.byA).toBe(60);
    expect(r.byB).toBe(0);
    expect(r.other.body.errors?.[0]?.extensions).toMatchObject({ code: 'SOURCE_RATE_LIMITED', source: 'monica' });
  });

  it("keeps the minute's last 15 requests for other keys: the second key is served, within Monica's 60", async () => {
    const r = await flood(undefined);
    // Each lookup is one upstream request: the first key gets 60 - 15, the rest are refused uncalled.
    expect(r.byA).toBe(45);
    const rateLimited = (b: Body) => b.errors?.some((e) => e.extensions?.code === 'SOURCE_RATE_LIMITED');
    const refused = r.answers.filter(rateLimited);
    expect(refused).toHaveLength(25);
    for (const b of refused) {
      expect(b.errors?.[0]?.extensions).toMatchObject({ code: 'SOURCE_RATE_LIMITED', source: 'monica' });
      expect(b.errors?.[0]?.extensions?.retryAfter).toEqual(expect.any(Number));
      expect(b.errors?.[0]?.message).toMatch(/the last 15 are kept for other keys/);
    }
    // The other key's lookup went upstream (what Monica answered is another test's business).
    expect(rateLimited(r.other.body)).toBeFalsy();
    expect(r.byB).toBe(1);
    expect(r.total).toBe(46);
    expect(r.throttled).toBe(0);
  });
});

/** A key of this suite: `key-<name>`, seeing every source, with its own limits when given. */
const apiKey = (name: string, limits?: ApiKeyConfig['limits']): ApiKeyConfig => ({
  name,
  sha256: createHash('sha256').update(`key-${name}`).digest('hex'),
  sources: ['*'],
  ...(limits ? { limits } : {}),
});

describe('per-key limits', () => {
  let t: TestGateway;
  let clients: Client[] = [];
  /** A graphql-ws client of `key-<name>`, disposed after the test. */
  const wsClient = (name: string) => {
    const c = createWsClient(t.wsUrl, `key-${name}`);
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    t = await startTestGateway({
      kinds: ['PIXIESET'],
      configure: (c: Config): Config => ({
        ...c,
        server: {
          ...c.server,
          keyLimits: {
            operationsPerMinute: 3,
            concurrentOperations: 2,
            subscriptionsPerSocket: 3,
            subscriptionsPerKey: 4,
          },
        },
        apiKeys: [
          ...c.apiKeys,
          apiKey('minute'),
          apiKey('own', { operationsPerMinute: 6 }),
          apiKey('concurrent', { operationsPerMinute: null }),
          apiKey('subs', { operationsPerMinute: null }),
        ],
      }),
    });
  });
  afterAll(async () => {
    await t.close();
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    clients = [];
    t.embedded.sandbox.emulators.get('pixieset')!.setFaults({});
  });

  it('refuses operations past operationsPerMinute: HTTP 429 with Retry-After and retryAfter, graphql-ws an error', async () => {
    const pixieset = t.embedded.sandbox.emulators.get('pixieset')!;
    for (let i = 0; i < 3; i++) expect((await post(t, 'key-minute', `m-${i}`, '{ sources { id } }')).status).toBe(200);
    pixieset.clearRequests();
    const refused = await post(t, 'key-minute', 'm-3', '{ conversations(first: 1) { edges { node { id } } } }');
    expect(refused.status).toBe(429);
    expect(refused.body.data).toBeUndefined();
    const e = refused.body.errors?.[0];
    expect(e?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'operationsPerMinute', max: 3 });
    expect(e?.extensions).not.toHaveProperty('http');
    const retryAfter = e?.extensions?.retryAfter as number;
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('retry-after')).toBe(String(retryAfter));
    expect(pixieset.requests()).toHaveLength(0);
    // graphql-ws counts against the same minute: an error for that operation, and the socket stays open.
    const c = wsClient('minute');
    const overWs = await run(c, '{ sources { id } }');
    expect(overWs.errors?.[0]?.extensions).toMatchObject({
      code: 'LIMIT_EXCEEDED',
      limit: 'operationsPerMinute',
      max: 3,
    });
    expect(overWs.errors?.[0]?.extensions?.retryAfter).toEqual(expect.any(Number));
    // Other keys count their own operations.
    expect((await post(t, 'key-concurrent', 'other-0', '{ sources { id } }')).status).toBe(200);
    // Both refusals are counted by key name and limit.
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toContain('switchboard_key_limit_refusals_total{key="minute",limit="operationsPerMinute"} 2');
  });

  it("takes a key's own limits over server.keyLimits", async () => {
    // key-own: 6 a minute of its own, where server.keyLimits says 3.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await post(t, 'key-own', `o-${i}`, '{ sources { id } }')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    const last = await post(t, 'key-own', 'o-6', '{ sources { id } }');
    expect(last.status).toBe(429);
    expect(last.body.errors?.[0]?.extensions).toMatchObject({ limit: 'operationsPerMinute', max: 6 });
  });

  it('refuses a query past concurrentOperations while the key has that many running, and admits it after', async () => {
    const pixieset = t.embedded.sandbox.emulators.get('pixieset')!;
    pixieset.clearRequests();
    pixieset.setFaults({ latencyMs: 2000 });
    const list = '{ conversations(first: 1) { edges { node { id } } } }';
    const running = [post(t, 'key-concurrent', 'c-0', list), post(t, 'key-concurrent', 'c-1', list)];
    await waitFor(
      () => ['c-0', 'c-1'].every((id) => pixieset.requests().some((r) => r.headers['x-request-id'] === id)),
      { what: 'both operations calling Pixieset' },
    );
    const third = await post(t, 'key-concurrent', 'c-2', '{ sources { id } }');
    expect(third.status).toBe(429);
    expect(third.body.errors?.[0]?.extensions).toMatchObject({
      code: 'LIMIT_EXCEEDED',
      limit: 'concurrentOperations',
      max: 2,
      retryAfter: 1,
    });
    expect(third.headers.get('retry-after')).toBe('1');
    for (const r of await Promise.all(running)) expect(r.status).toBe(200);
    pixieset.setFaults({});
    expect((await post(t, 'key-concurrent', 'c-3', '{ sources { id } }')).status).toBe(200);
  });

  it('refuses subscriptions past the per-socket and per-key limits with an error for that id; the socket works on', async () => {
    const first = wsClient('subs');
    const opened = [0, 1, 2].map(() => open(first));
    await Promise.all(opened.map((o) => o.value));
    const fourth = open(first);
    expect(await fourth.error).toMatchObject([
      { extensions: { code: 'LIMIT_EXCEEDED', limit: 'subscriptionsPerSocket', max: 3, retryAfter: 30 } },
    ]);
    // The socket still works: a query answers, and once a subscription completes another one is admitted.
    expect((await run(first, '{ sources { id } }')).data).toEqual({ sources: [{ id: 'pixieset' }] });
    opened[0]!.dispose();
    await waitFor(
      async () => {
        const again = open(first);
        const outcome = await Promise.race([again.value.then(() => 'ok'), again.error.then(() => 'refused')]);
        if (outcome === 'refused') return false;
        opened[0] = again;
        return true;
      },
      { what: 'a subscription admitted once one completed' },
    );
    // Per key, across sockets: 3 on the first socket, 1 on a second, then refused.
    const second = wsClient('subs');
    await open(second).value;
    expect(await open(second).error).toMatchObject([
      { extensions: { code: 'LIMIT_EXCEEDED', limit: 'subscriptionsPerKey', max: 4 } },
    ]);
    // Closing a socket gives its subscriptions back.
    await first.dispose();
    await waitFor(
      async () => {
        const again = open(second);
        const outcome = await Promise.race([again.value.then(() => 'ok'), again.error.then(() => 'refused')]);
        return outcome === 'ok';
      },
      { what: "the first socket's subscriptions released" },
    );
  });
});

describe('2,000 subscriptions on one socket (the default limits)', () => {
  it('admits subscriptionsPerSocket (100), refuses the rest with LIMIT_EXCEEDED, and the socket still works', async () => {
    const t = await startTestGateway({ kinds: ['PIXIESET'] });
    const c = createWsClient(t.wsUrl, t.apiKey);
    try {
      const subs = Array.from({ length: 2000 }, () => open(c));
      const outcomes = await Promise.all(
        subs.map((s) => Promise.race([s.value.then(() => 'ok' as const), s.error.then((e) => e)])),
      );
      const admitted = outcomes.filter((o) => o === 'ok');
      const refused = outcomes.filter((o): o is Err[] => o !== 'ok');
      expect(admitted).toHaveLength(100);
      expect(refused).toHaveLength(1900);
      for (const e of refused) {
        expect(e[0]?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'subscriptionsPerSocket', max: 100 });
      }
      expect((await run(c, '{ sources { id } }')).data).toEqual({ sources: [{ id: 'pixieset' }] });
      for (const s of subs) s.dispose();
    } finally {
      await c.dispose();
      await t.close();
    }
  });
});

const UNREAD = 'subscription { unreadCountChanged { total } }';

/** Opens an unreadCountChanged subscription: `value` resolves with its first value, `error` with its refusal. */
function open(c: Client) {
  let onValue!: () => void;
  let onError!: (e: Err[]) => void;
  const value = new Promise<void>((r) => (onValue = r));
  const error = new Promise<Err[]>((r) => (onError = r));
  const dispose = c.subscribe(
    { query: UNREAD },
    { next: () => onValue(), error: (e) => onError(e as Err[]), complete: () => undefined },
  );
  return { value, error, dispose };
}

/** Runs one operation over graphql-ws: its result, or its errors as a result. */
function run(c: Client, query: string): Promise<Body> {
  return new Promise((resolve) => {
    let result: Body = {};
    c.subscribe(
      { query },
      {
        next: (v) => {
          result = v as Body;
        },
        error: (e) => resolve({ errors: e as Err[] }),
        complete: () => resolve(result),
      },
    );
  });
}
