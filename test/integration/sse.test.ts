import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client, type ExecutionResult, type NetworkError } from 'graphql-sse';
import { sha256Hex } from '../../src/server/persisted';
import { startTestGateway, tuneSources, type TestGateway } from '../utils/gateway';
import { eventually, waitFor } from '../utils/wait';
import { metric } from '../live/helpers';

/**
 * GraphQL over Server-Sent Events on /graphql (server/sse.ts, issue 14), over real HTTP with the graphql-sse
 * client (distinct connections mode): the same key, limits, safelist and error codes as HTTP and graphql-ws; a
 * closed stream releases its live watcher; shutdown ends open streams; heartbeats.
 */

type Result = ExecutionResult<Record<string, unknown>, unknown>;
type Unread = { unreadCountChanged: { total: number } };
const UNREAD = `subscription($s: [ID!]) { unreadCountChanged(sources: $s) { total } }`;
const HEARTBEAT_MS = 100;

const sseClient = (t: TestGateway, apiKey: string | null = t.apiKey): Client =>
  createClient({
    url: `${t.url}/graphql`,
    headers: apiKey === null ? {} : { authorization: `Bearer ${apiKey}` },
    retryAttempts: 0,
  });

/** An unlabelled gauge's value on /metrics. */
async function gauge(t: TestGateway, name: string): Promise<number> {
  const body = (await t.gateway.metrics.render()).body;
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
  if (!m) throw new Error(`no ${name} on /metrics`);
  return Number(m[1]);
}

/** Runs one operation to its end: every result, or the error the client failed with. */
function run(
  client: Client<boolean>,
  query: string,
  variables?: Record<string, unknown>,
  extensions?: Record<string, unknown>,
): Promise<{ results: Result[]; error?: unknown }> {
  return new Promise((resolve) => {
    const results: Result[] = [];
    client.subscribe(
      { query, variables, extensions },
      {
        next: (r) => results.push(r as Result),
        error: (error) => resolve({ results, error }),
        complete: () => resolve({ results }),
      },
    );
  });
}

/** A subscription that collects its values; `waitFor(n)` until n arrived. */
function live<T>(client: Client<boolean>, query: string, variables?: Record<string, unknown>) {
  const values: T[] = [];
  const errors: unknown[] = [];
  let ended = false;
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (r) => {
        if (r.errors) errors.push(r.errors);
        if (r.data) values.push(r.data as T);
      },
      error: (e) => {
        errors.push(e);
        ended = true;
      },
      complete: () => {
        ended = true;
      },
    },
  );
  return {
    values,
    errors,
    dispose,
    get ended() {
      return ended;
    },
    waitFor: (n: number) =>
      waitFor(() => values.length >= n, { timeoutMs: 10_000, what: `${n} values (errors: ${JSON.stringify(errors)})` }),
  };
}

describe('GraphQL over SSE', () => {
  let t: TestGateway;
  const clients: Client[] = [];
  const client = (apiKey?: string | null) => {
    const c = sseClient(t, apiKey);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    t = await startTestGateway({
      kinds: ['PIXIESET', 'PROTOCOL'],
      configure: (c) => ({
        ...c,
        server: { ...c.server, sse: { heartbeatMs: HEARTBEAT_MS }, limits: { maxDepth: 8, maxCost: 1000 } },
        sources: c.sources.map((s) => (s.kind === 'PIXIESET' ? { ...s, pollIntervalMs: 200 } : s)),
      }),
    });
  });
  afterAll(() => t.close());
  beforeEach(() => {
    for (const e of t.embedded.sandbox.emulators.values()) e.clearRequests();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.dispose();
    // Every stream is gone, so is every watcher (and the poller a watcher starts).
    await eventually(() => expect(t.gateway.services.live.activePollers()).toEqual([]), { timeoutMs: 10_000 });
    await eventually(async () => expect(await sseStreams()).toBe(0), { timeoutMs: 10_000 });
  });

  const sseStreams = () => gauge(t, 'switchboard_sse_streams');
  const sseOps = (operation: string, outcome: string) =>
    metric(t.url, 'switchboard_graphql_operations_total', { operation, transport: 'sse', outcome });
  const px = () => t.embedded.sandbox.emulators.get('pixieset')!;
  const pr = () => t.embedded.sandbox.emulators.get('protocol')!;

  it('answers a query and a mutation in one stream each, counted with transport="sse"', async () => {
    const queriesBefore = await sseOps('query', 'success');
    const list = await run(
      client(),
      `query($n: Int) { conversations(first: $n, filter: { sources: ["protocol"] }) { edges { node { id nativeId } } } }`,
      { n: 2 },
    );
    expect(list.error).toBeUndefined();
    expect(list.results).toHaveLength(1);
    const edges = (list.results[0]!.data as { conversations: { edges: Array<{ node: { id: string } }> } }).conversations
      .edges;
    expect(edges).toHaveLength(2);
    expect(await sseOps('query', 'success')).toBe(queriesBefore + 1);

    pr().clearRequests();
    const sent = await run(
      client(),
      `mutation($input: SendMessageInput!) { sendMessage(input: $input) { content direction } }`,
      {
        input: { conversationId: edges[0]!.node.id, content: 'sent over SSE' },
      },
    );
    expect(sent.error).toBeUndefined();
    expect(sent.results).toEqual([{ data: { sendMessage: { content: 'sent over SSE', direction: 'OUTGOING' } } }]);
    expect(
      pr()
        .requests()
        .filter((r) => r.method === 'POST'),
    ).toHaveLength(1);
    expect(await sseOps('mutation', 'success')).toBe(1);
  });

  it('refuses a mutation over GET (405), as GraphQL over HTTP does', async () => {
    const query = `mutation { markConversationRead(id: "x") { id } }`;
    const res = await fetch(`${t.url}/graphql?query=${encodeURIComponent(query)}`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${t.apiKey}` },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect((await res.json()).errors[0].extensions).toEqual({ code: 'BAD_REQUEST' });
  });

  it('sends the unread total first, then the change a poll finds after a new message', async () => {
    const sub = live<Unread>(client(), UNREAD, { s: ['pixieset'] });
    await sub.waitFor(1);
    expect(sub.values[0]!.unreadCountChanged.total).toBe(px().controls.unreadState()!.total);
    px().controls.simulateIncoming({ content: 'over SSE' });
    await sub.waitFor(2);
    expect(sub.values[1]!.unreadCountChanged.total).toBe(sub.values[0]!.unreadCountChanged.total + 1);
    expect(sub.errors).toEqual([]);
    sub.dispose();
  });

  it('refuses a request without a valid key: 401 UNAUTHENTICATED before any stream opens', async () => {
    for (const key of [null, 'not-a-key']) {
      const { results, error } = await run(client(key), `{ sources { id } }`);
      expect(results).toEqual([]);
      const response = (error as NetworkError<Response>).response!;
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(await response.json()).toEqual({
        errors: [
          {
            message: 'A valid API key is required: send "Authorization: Bearer <key>".',
            extensions: { code: 'UNAUTHENTICATED' },
          },
        ],
      });
    }
  });

  it('refuses operations over the depth and cost limits with LIMIT_EXCEEDED, before any upstream call', async () => {
    const deep = await run(
      client(),
      `subscription { conversationChanged { lastMessage { conversation { lastMessage { conversation { lastMessage { conversation { lastMessage { content } } } } } } } } }`,
    );
    expect(deep.error).toBeUndefined();
    expect(deep.results).toEqual([
      {
        errors: [
          {
            message: expect.stringMatching(/^Query depth limit of 8 exceeded, found \d+\.$/),
            extensions: { code: 'LIMIT_EXCEEDED', limit: 'depth', max: 8 },
          },
        ],
      },
    ]);
    const costly = await run(
      client(),
      `query($n: Int) { conversations(first: $n) { edges { node { messages(first: 100) { edges { node { id } } } } } } }`,
      { n: 100 },
    );
    expect(costly.results).toEqual([
      {
        errors: [
          expect.objectContaining({
            extensions: { code: 'LIMIT_EXCEEDED', limit: 'cost', max: 1000, cost: expect.any(Number) },
          }),
        ],
      },
    ]);
    for (const e of t.embedded.sandbox.emulators.values()) expect(e.requests()).toEqual([]);
    expect(t.gateway.services.live.activePollers()).toEqual([]);
  });

  it('answers a syntax error and an unknown operation name with their codes in the stream', async () => {
    const bad = await run(client(), `{ sources { id `);
    expect(bad.results[0]!.errors![0]!.extensions).toEqual({ code: 'GRAPHQL_PARSE_FAILED' });
    const unknown = await run(client(), `query A { sources { id } } query B { sources { id } }`);
    expect(unknown.results[0]!.errors![0]!.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'operationName' });
  });

  it('releases the live watcher when the client closes the stream', async () => {
    const activeBefore = await gauge(t, 'switchboard_graphql_subscriptions_active');
    const subscriptionsBefore = await sseOps('subscription', 'success');
    const sub = live<Unread>(client(), UNREAD, { s: ['pixieset'] });
    await sub.waitFor(1);
    expect(await sseOps('subscription', 'success')).toBe(subscriptionsBefore + 1);
    expect(t.gateway.services.live.activePollers()).toEqual(['pixieset']);
    expect(await sseStreams()).toBe(1);
    expect(await gauge(t, 'switchboard_graphql_subscriptions_active')).toBe(activeBefore + 1);
    sub.dispose();
    await eventually(() => expect(t.gateway.services.live.activePollers()).toEqual([]), { timeoutMs: 10_000 });
    await eventually(async () => expect(await sseStreams()).toBe(0));
    expect(await gauge(t, 'switchboard_graphql_subscriptions_active')).toBe(activeBefore);
    expect(sub.errors).toEqual([]);
  });

  it('writes a comment line every heartbeat interval on an idle stream', async () => {
    const abort = new AbortController();
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      signal: abort.signal,
      headers: {
        accept: 'text/event-stream',
        'content-type': 'application/json',
        authorization: `Bearer ${t.apiKey}`,
      },
      body: JSON.stringify({ query: UNREAD, variables: { s: ['protocol'] } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    try {
      // The first value, then at least three heartbeats after it (the stream is idle: nothing changes).
      await waitFor(
        async () => {
          const { value, done } = await reader.read();
          if (done) throw new Error('the stream ended');
          text += decoder.decode(value, { stream: true });
          const afterValue = text.split('event: next')[1];
          return afterValue !== undefined && (afterValue.match(/^:\n\n/gm) ?? []).length >= 3;
        },
        { timeoutMs: 10_000, what: `three heartbeats after the first value (got ${JSON.stringify(text)})` },
      );
    } finally {
      abort.abort();
      await reader.cancel().catch(() => undefined);
    }
    expect(text).toMatch(/^:\n\nevent: next\ndata: \{"data":\{"unreadCountChanged":\{"total":\d+\}\}\}\n\n/);
  });
});

describe('GraphQL over SSE in safelist mode', () => {
  const registered = `query Badge { unreadCount { total } }`;
  let dir: string;
  let t: TestGateway;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sse-safelist-'));
    const manifest = join(dir, 'operations.json');
    writeFileSync(manifest, JSON.stringify({ [sha256Hex(registered)]: registered }));
    t = await startTestGateway({
      kinds: ['PIXIESET'],
      configure: (c) => ({ ...c, server: { ...c.server, persistedQueries: { safelist: manifest } } }),
    });
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs registered operations, in full or by hash, and refuses others with PERSISTED_QUERY_NOT_FOUND', async () => {
    const c = sseClient(t);
    try {
      const byHash = await run(c, '', undefined, { persistedQuery: { version: 1, sha256Hash: sha256Hex(registered) } });
      expect(byHash.results).toEqual([{ data: { unreadCount: { total: expect.any(Number) } } }]);
      expect((await run(c, registered)).results).toEqual(byHash.results);
      const other = `{ sources { id } }`;
      expect((await run(c, other)).results).toEqual([
        {
          errors: [
            {
              message: `Only registered operations are accepted (safelist mode); this operation (sha256 ${sha256Hex(other)}) is not registered.`,
              extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' },
            },
          ],
        },
      ]);
    } finally {
      c.dispose();
    }
  });
});

describe('GraphQL over SSE at shutdown', () => {
  it('ends open streams and stops the gateway cleanly, releasing every watcher', async () => {
    const t = await startTestGateway({ kinds: ['PIXIESET'] });
    const c = sseClient(t);
    try {
      const sub = live<Unread>(c, UNREAD, { s: ['pixieset'] });
      await sub.waitFor(1);
      expect(t.gateway.services.live.activePollers()).toEqual(['pixieset']);
      await t.close();
      // The stream ended without `complete`: a graphql-sse client takes it as a lost connection (and would retry).
      await waitFor(() => sub.ended, { what: 'the stream to end' });
      // Ended by the server (the response finished), not cut by the drain's deadline.
      expect(sub.errors).toEqual([
        expect.objectContaining({ name: 'NetworkError', message: 'Connection closed while having active streams' }),
      ]);
      expect(t.gateway.services.live.activePollers()).toEqual([]);
      expect(t.gateway.httpServer.listening).toBe(false);
    } finally {
      c.dispose();
      await t.close();
    }
  });
});

describe('GraphQL over SSE with per-key limits', () => {
  /** The first result of an operation, then the stream is closed. */
  const firstResult = (client: Client, query: string, variables?: Record<string, unknown>) =>
    new Promise<Result | unknown>((resolve) => {
      const dispose = client.subscribe(
        { query, variables },
        {
          next: (r) => {
            resolve(r);
            dispose();
          },
          error: resolve,
          complete: () => undefined,
        },
      );
    });

  it("counts a stream's subscription against its key until the stream closes", async () => {
    const t = await startTestGateway({
      kinds: ['PIXIESET'],
      configure: (c) => ({ ...c, server: { ...c.server, keyLimits: { subscriptionsPerKey: 1 } } }),
    });
    const c = sseClient(t);
    try {
      const first = live<Unread>(c, UNREAD, { s: ['pixieset'] });
      await first.waitFor(1);
      expect(await firstResult(c, UNREAD, { s: ['pixieset'] })).toEqual({
        errors: [
          expect.objectContaining({
            extensions: expect.objectContaining({ code: 'LIMIT_EXCEEDED', limit: 'subscriptionsPerKey', max: 1 }),
          }),
        ],
      });
      first.dispose();
      // Its stream closed, the key holds no subscription: the next one is admitted.
      await eventually(async () =>
        expect(await firstResult(c, UNREAD, { s: ['pixieset'] })).toEqual({
          data: { unreadCountChanged: { total: expect.any(Number) } },
        }),
      );
    } finally {
      c.dispose();
      await t.close();
    }
  });
});

describe('GraphQL over SSE: deadline and masking as over HTTP', () => {
  it('gives a query the HTTP deadline: the hung source is SOURCE_TIMEOUT, LIMIT_EXCEEDED, the rest answered', async () => {
    const t = await startTestGateway({
      kinds: ['PIXIESET', 'PROTOCOL'],
      configure: (c) => ({
        ...tuneSources(c, () => ({ timeoutMs: 20_000 })),
        server: { ...c.server, operationTimeoutMs: 300 },
      }),
    });
    const c = sseClient(t);
    try {
      t.embedded.sandbox.emulators.get('pixieset')!.setFaults({ hang: true });
      const { results, error } = await run(c, `{ conversations(first: 5) { edges { node { source { id } } } } }`);
      expect(error).toBeUndefined();
      expect(results).toHaveLength(1);
      expect(results[0]!.errors).toEqual([
        {
          message: `The operation's deadline passed while waiting for source "pixieset".`,
          extensions: { code: 'SOURCE_TIMEOUT', source: 'pixieset' },
        },
        {
          message: 'The operation exceeded its deadline of 300 ms.',
          extensions: { code: 'LIMIT_EXCEEDED', limit: 'deadline', max: 300 },
        },
      ]);
      const edges = (results[0]!.data as { conversations: { edges: Array<{ node: { source: { id: string } } }> } })
        .conversations.edges;
      expect(new Set(edges.map((e) => e.node.source.id))).toEqual(new Set(['protocol']));
    } finally {
      c.dispose();
      t.embedded.sandbox.emulators.get('pixieset')!.setFaults({});
      await t.close();
    }
  });

  it('masks an unexpected error and drops suggestions in production', async () => {
    const t = await startTestGateway({ kinds: ['PIXIESET'], production: true });
    // A bug inside a connector: a plain Error whose message must never reach a client in production.
    t.gateway.services.connectors[0]!.health = () => {
      throw new Error('internal detail /var/secret');
    };
    const c = sseClient(t);
    try {
      const bug = await run(c, `{ sources { id health { status } } }`);
      expect(bug.results[0]!.errors).toEqual([
        expect.objectContaining({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }),
      ]);
      expect(JSON.stringify(bug.results)).not.toContain('/var/secret');
      const typo = await run(c, `{ sourcez { id } }`);
      expect(typo.results[0]!.errors![0]!.extensions).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED' });
      expect(JSON.stringify(typo.results)).not.toMatch(/Did you mean/);
    } finally {
      c.dispose();
      await t.close();
    }
  });
});

describe('GraphQL over SSE, single connection mode (a PUT reservation)', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({
      kinds: ['PIXIESET'],
      configure: (c) => ({
        ...c,
        server: { ...c.server, sse: { reservationTtlMs: 300 } },
        sources: c.sources.map((s) => ({ ...s, pollIntervalMs: 200 })),
      }),
    });
  });
  afterAll(() => t.close());
  afterEach(async () => {
    await eventually(() => expect(t.gateway.services.live.activePollers()).toEqual([]), { timeoutMs: 10_000 });
    await eventually(async () => expect(await gauge(t, 'switchboard_sse_streams')).toBe(0));
  });

  const call = (method: string, key: string, headers: Record<string, string> = {}, body?: unknown, query = '') =>
    fetch(`${t.url}/graphql${query}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body ? JSON.stringify(body) : undefined,
    });

  it('carries several operations over one stream; completing one leaves the others', async () => {
    const c = createClient({
      url: `${t.url}/graphql`,
      headers: { authorization: `Bearer ${t.apiKey}` },
      singleConnection: true,
      retryAttempts: 0,
    });
    try {
      const a = live<Unread>(c, UNREAD, { s: ['pixieset'] });
      const b = live<Unread>(c, UNREAD, { s: ['pixieset'] });
      await a.waitFor(1);
      await b.waitFor(1);
      expect((await run(c, `{ sources { id } }`)).results).toEqual([{ data: { sources: [{ id: 'pixieset' }] } }]);
      expect(await gauge(t, 'switchboard_sse_streams')).toBe(1);
      a.dispose();
      t.embedded.sandbox.emulators.get('pixieset')!.controls.simulateIncoming({ content: 'one stream' });
      await b.waitFor(2);
      expect(b.values[1]!.unreadCountChanged.total).toBe(b.values[0]!.unreadCountChanged.total + 1);
      expect(a.values).toHaveLength(1);
      expect([...a.errors, ...b.errors]).toEqual([]);
      b.dispose();
    } finally {
      c.dispose();
    }
  });

  it("refuses another key's token as a stream that does not exist", async () => {
    const put = await call('PUT', t.apiKey);
    expect(put.status).toBe(201);
    const token = await put.text();
    const notFound = { errors: [{ message: 'Stream not found.', extensions: { code: 'NOT_FOUND' } }] };
    for (const res of [
      await call('GET', t.limitedKey, { accept: 'text/event-stream', 'x-graphql-event-stream-token': token }),
      await call(
        'POST',
        t.limitedKey,
        { 'x-graphql-event-stream-token': token },
        {
          query: '{ sources { id } }',
          extensions: { operationId: '1' },
        },
      ),
    ]) {
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual(notFound);
    }
  });

  it('drops a reservation that never connects, with the operations posted onto it', async () => {
    const token = await (await call('PUT', t.apiKey)).text();
    const posted = await call(
      'POST',
      t.apiKey,
      { 'x-graphql-event-stream-token': token },
      {
        query: UNREAD,
        variables: { s: ['pixieset'] },
        extensions: { operationId: 'badge' },
      },
    );
    expect(posted.status).toBe(202);
    expect(t.gateway.services.live.activePollers()).toEqual(['pixieset']);
    // Past server.sse.reservationTtlMs: the subscription is returned, the token is gone.
    await eventually(() => expect(t.gateway.services.live.activePollers()).toEqual([]), { timeoutMs: 10_000 });
    const late = await call('GET', t.apiKey, { accept: 'text/event-stream', 'x-graphql-event-stream-token': token });
    expect(late.status).toBe(404);
  });
});

describe('GraphQL over SSE, reservations per key', () => {
  it('refuses a key an eleventh reservation not yet connected with 429 LIMIT_EXCEEDED', async () => {
    const t = await startTestGateway({ kinds: ['PIXIESET'] });
    try {
      const put = (key: string) =>
        fetch(`${t.url}/graphql`, { method: 'PUT', headers: { authorization: `Bearer ${key}` } });
      for (let i = 0; i < 10; i++) expect((await put(t.apiKey)).status).toBe(201);
      const refused = await put(t.apiKey);
      expect(refused.status).toBe(429);
      expect(await refused.json()).toEqual({
        errors: [
          {
            message:
              'This API key has 10 reserved event streams not yet connected, the most allowed; connect one first.',
            extensions: { code: 'LIMIT_EXCEEDED', limit: 'sseReservations', max: 10 },
          },
        ],
      });
      // Another key has its own.
      expect((await put(t.limitedKey)).status).toBe(201);
    } finally {
      await t.close();
    }
  });
});
