import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';
import type { Config } from '../../src/config/schema';
import { createWsClient } from '../utils/ws';
import { startTestGateway, tuneSources, type TestGateway } from '../utils/gateway';

/**
 * Limits, each refused with a clear error before any upstream call: depth, aliases, cost, tokens, page size,
 * body size, the operation deadline, upload sizes; introspection and GraphiQL off in production; CSRF.
 */
type Err = { message: string; extensions?: Record<string, unknown> };

const withServer =
  (over: Partial<Config['server']>) =>
  (c: Config): Config => ({ ...c, server: { ...c.server, ...over } });

describe('query limits', () => {
  let t: TestGateway;
  const upstreamCalls = () => [...t.embedded.sandbox.emulators.values()].reduce((n, e) => n + e.requests().length, 0);
  beforeAll(async () => {
    t = await startTestGateway({
      kinds: ['PIXIESET', 'PROTOCOL'],
      configure: withServer({ limits: { maxDepth: 8, maxAliases: 3, maxCost: 1000 }, maxBodyBytes: 30_000 }),
    });
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(() => {
    for (const e of t.embedded.sandbox.emulators.values()) e.clearRequests();
  });

  it('refuses a query deeper than maxDepth with LIMIT_EXCEEDED naming the limit and the depth', async () => {
    const ok = await t.gql(
      `{ conversations(first: 1) { edges { node { lastMessage { conversation { lastMessage { sender { name } } } } } } } }`,
    );
    expect(ok.body.errors).toBeUndefined();
    for (const e of t.embedded.sandbox.emulators.values()) e.clearRequests();
    const r = await t.gql(
      `{ conversations(first: 1) { edges { node { lastMessage { conversation { lastMessage { conversation { source { id } } } } } } } } }`,
    );
    expect(r.body.errors).toEqual([
      {
        message: 'Query depth limit of 8 exceeded, found 9.',
        extensions: { code: 'LIMIT_EXCEEDED', limit: 'depth', max: 8 },
      },
    ]);
    expect(r.body.data).toBeUndefined();
    expect(upstreamCalls()).toBe(0);
  });

  it('counts depth through fragments too', async () => {
    const r = await t.gql(`
      query { conversations(first: 1) { ...C } }
      fragment C on ConversationConnection { edges { node { lastMessage { conversation { messages { edges { node { id } } } } } } } }
    `);
    expect(r.body.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/^Query depth limit of 8 exceeded, found \d+\.$/),
      extensions: { code: 'LIMIT_EXCEEDED' },
    });
  });

  it('refuses more aliases than maxAliases', async () => {
    const r = await t.gql(`{ a: sources { id } b: sources { id } c: sources { id } d: sources { id } }`);
    expect(r.body.errors).toEqual([
      {
        message: 'Aliases limit of 3 exceeded, found 4.',
        extensions: { code: 'LIMIT_EXCEEDED', limit: 'aliases', max: 3 },
      },
    ]);
  });

  it('refuses an operation above maxCost, counting pages by their first/last, variables included', async () => {
    const q = `query($n: Int) { conversations(first: $n) { edges { node { id messages(last: 10) { edges { node { id content } } } } } } }`;
    const small = await t.gql(q, { n: 2 });
    expect(small.body.errors).toBeUndefined();
    for (const e of t.embedded.sandbox.emulators.values()) e.clearRequests();
    const big = await t.gql(q, { n: 50 });
    expect(big.status).toBe(400);
    expect(big.body.errors).toEqual([
      {
        message: expect.stringMatching(
          /^The operation's cost is \d+, above the limit of 1000 \(every field costs 1, and a paginated field multiplies its selection by first or last/,
        ),
        extensions: { code: 'LIMIT_EXCEEDED', limit: 'cost', max: 1000, cost: expect.any(Number) },
      },
    ]);
    expect(big.body.errors![0]!.extensions!.cost).toBeGreaterThan(1000);
    expect(upstreamCalls()).toBe(0);
    // Without first/last a connection counts as a page of 20.
    const implicit = await t.gql(
      `{ conversations { edges { node { messages { edges { node { id content sender { name } } } } } } } }`,
    );
    expect(implicit.body.errors?.[0]?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'cost' });
  });

  it('refuses a fragment bomb', async () => {
    const frags = ['fragment F0 on Source { id name }'];
    for (let i = 1; i < 16; i++) frags.push(`fragment F${i} on Source { ...F${i - 1} ...F${i - 1} }`);
    const r = await t.gql(`{ sources { ...F15 } } ${frags.join(' ')}`);
    expect(r.body.errors?.[0]?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED' });
    expect(upstreamCalls()).toBe(0);
  });

  it('refuses a document above maxTokens while parsing (GRAPHQL_PARSE_FAILED naming the limit)', async () => {
    const r = await t.gql(`{ sources { ${'id '.repeat(6000)} } }`);
    expect(r.body.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/more (that|than) 5000 tokens/),
      extensions: { code: 'GRAPHQL_PARSE_FAILED' },
    });
  });

  it('refuses a page above 100 with BAD_USER_INPUT', async () => {
    const r = await t.gql(`{ conversations(first: 101) { edges { cursor } } }`);
    expect(r.body.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/at most 100, but got 101/),
      extensions: { code: 'BAD_USER_INPUT', field: 'first' },
    });
  });

  it('refuses a body above maxBodyBytes with HTTP 413 LIMIT_EXCEEDED naming the size and the limit', async () => {
    const r = await t.gql(`{ sources { id } }`, { pad: 'x'.repeat(40_000) });
    expect(r.status).toBe(413);
    expect(r.body.errors).toEqual([
      {
        message: expect.stringMatching(/^The request body is \d+ bytes, larger than the limit of 30000 bytes\.$/),
        extensions: { code: 'LIMIT_EXCEEDED' },
      },
    ]);
  });

  it('applies the same limits over graphql-ws', async () => {
    const client = createWsClient(t.wsUrl, t.apiKey);
    const errorsOf = (query: string) =>
      new Promise<unknown>((resolve) => {
        client.subscribe({ query }, { next: () => undefined, error: resolve, complete: () => resolve(null) });
      });
    const deep = (await errorsOf(
      `query{ conversations(first: 1) { edges { node { lastMessage { conversation { lastMessage { conversation { source { id } } } } } } } } }`,
    )) as Err[];
    expect(deep).toEqual([
      expect.objectContaining({
        message: 'Query depth limit of 8 exceeded, found 9.',
        extensions: expect.objectContaining({ code: 'LIMIT_EXCEEDED' }),
      }),
    ]);
    const aliased = (await errorsOf(`subscription { a: unreadCountChanged { b: total c: total d: total } }`)) as Err[];
    expect(aliased[0]!.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'aliases' });
    const costly = (await errorsOf(
      `query { conversations(first: 80) { edges { node { messages(last: 50) { edges { node { id } } } } } } }`,
    )) as Err[];
    expect(costly[0]!.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'cost' });
    const broken = (await errorsOf(`query { sources { `)) as Err[];
    expect(broken[0]!.extensions).toMatchObject({ code: 'GRAPHQL_PARSE_FAILED' });
    // The socket survived all of that.
    const ok = await new Promise<unknown>((resolve, reject) => {
      client.subscribe({ query: '{ sources { id } }' }, { next: resolve, error: reject, complete: () => undefined });
    });
    expect(ok).toMatchObject({ data: { sources: [{ id: 'pixieset' }, { id: 'protocol' }] } });
    await client.dispose();

    // A message larger than maxBodyBytes closes that socket with graphql-ws's 4400 (Bad request, which its
    // clients do not retry) and a reason naming the limit (issue 12 item 9; it was ws's bare 1009).
    const raw = new WebSocket(t.wsUrl, 'graphql-transport-ws');
    const closed = await new Promise<{ code: number; reason: string }>((resolve) => {
      raw.on('open', () => raw.send(JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(40_000) } })));
      raw.on('close', (c, r) => resolve({ code: c, reason: r.toString() }));
    });
    expect(closed.code).toBe(4400);
    expect(closed.reason).toMatch(/^Message too big: at most \d+ bytes$/);
  });
});

describe('the operation deadline', () => {
  it('aborts upstream calls still running at server.operationTimeoutMs: SOURCE_TIMEOUT for them, LIMIT_EXCEEDED, the rest answered', async () => {
    const t = await startTestGateway({
      kinds: ['PIXIESET', 'PROTOCOL'],
      configure: (c) => withServer({ operationTimeoutMs: 300 })(tuneSources(c, () => ({ timeoutMs: 20_000 }))),
    });
    try {
      t.embedded.sandbox.emulators.get('pixieset')!.setFaults({ hang: true });
      const r = await t.gql<{ conversations: { edges: Array<{ node: { source: { id: string } } }> } }>(
        `{ conversations(first: 5) { edges { node { source { id } } } } }`,
      );
      expect(r.status).toBe(200);
      expect(r.body.errors).toEqual([
        {
          message: `The operation's deadline passed while waiting for source "pixieset".`,
          extensions: { code: 'SOURCE_TIMEOUT', source: 'pixieset' },
        },
        {
          message: 'The operation exceeded its deadline of 300 ms.',
          extensions: { code: 'LIMIT_EXCEEDED', limit: 'deadline', max: 300 },
        },
      ]);
      expect(new Set(r.body.data!.conversations.edges.map((e) => e.node.source.id))).toEqual(new Set(['protocol']));
      // The cancelled call does not count against the source.
      const h = await t.gql<{
        sources: Array<{ id: string; health: { circuit: string; lastErrorCode: string | null } }>;
      }>(`{ sources { id health { circuit lastErrorCode } } }`);
      expect(h.body.data!.sources.find((s) => s.id === 'pixieset')!.health).toEqual({
        circuit: 'CLOSED',
        lastErrorCode: null,
      });
    } finally {
      await t.close();
    }
  });
});

describe('production mode', () => {
  const INTROSPECT = `{ __schema { queryType { name } } }`;

  it('turns introspection and GraphiQL off (HTTP and graphql-ws)', async () => {
    const t = await startTestGateway({ kinds: ['PIXIESET'], production: true });
    try {
      const r = await t.gql(INTROSPECT);
      expect(r.body.errors?.[0]).toMatchObject({
        message: expect.stringMatching(/introspection/i),
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      });
      const page = await fetch(`${t.url}/graphql`, {
        headers: { accept: 'text/html', authorization: `Bearer ${t.apiKey}` },
      });
      expect(await page.text()).not.toMatch(/<html/i);
      expect((await fetch(`${t.url}/graphiql/`)).status).toBe(404);

      const client = createWsClient(t.wsUrl, t.apiKey);
      const errors = await new Promise<Err[]>((resolve) => {
        client.subscribe(
          { query: INTROSPECT },
          { next: () => undefined, error: (e) => resolve(e as Err[]), complete: () => resolve([]) },
        );
      });
      expect(errors[0]?.message).toMatch(/introspection/i);
      await client.dispose();
      // Ordinary queries still work.
      expect((await t.gql(`{ sources { id } }`)).body).toEqual({ data: { sources: [{ id: 'pixieset' }] } });
    } finally {
      await t.close();
    }
  });

  it('keeps them on when the config says so', async () => {
    const t = await startTestGateway({
      kinds: ['PIXIESET'],
      production: true,
      configure: withServer({ introspection: true, graphiql: true }),
    });
    try {
      expect((await t.gql(INTROSPECT)).body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
      const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
      expect(await page.text()).toMatch(/<html/i);
    } finally {
      await t.close();
    }
  });
});

describe('CSRF', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['PIXIESET'] });
  });
  afterAll(async () => {
    await t.close();
  });

  it('rejects a simple cross-site form POST (no preflight, so no Authorization) and runs nothing', async () => {
    const px = t.embedded.sandbox.emulators.get('pixieset')!;
    px.clearRequests();
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
      const res = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': type, origin: 'https://evil.example' },
        body: 'query=mutation { markConversationRead(id: "x") { id } }',
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    }
    expect(px.requests()).toHaveLength(0);
  });

  it('approves no cross-site preflight, so a browser never sends the Authorization header cross-site', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://evil.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-headers')).toBeNull();
  });

  it('answers a non-JSON POST from a non-browser client with 400, never 5xx', async () => {
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${t.apiKey}` },
      body: '{"query":"{ sources { id } }"}',
    });
    expect(res.status).toBe(400);
  });
});

describe('upload size limits', () => {
  let t: TestGateway;
  let conversationId: string;
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['PROTOCOL'] });
    const r = await t.gql<{ conversations: { edges: Array<{ node: { id: string } }> } }>(
      `{ conversations(first: 1) { edges { node { id } } } }`,
    );
    conversationId = r.body.data!.conversations.edges[0]!.node.id;
  });
  afterAll(async () => {
    await t.close();
  });
  const maxSize = async () =>
    (
      await t.gql<{ sources: Array<{ capabilities: { maxAttachmentSize: number } }> }>(
        `{ sources { capabilities { maxAttachmentSize } } }`,
      )
    ).body.data!.sources[0]!.capabilities.maxAttachmentSize;
  const createUpload = async (size: number) =>
    (
      await t.gql<{
        createAttachmentUpload: { url: string; fields: Array<{ name: string; value: string }>; maxSize: number };
      }>(
        `mutation($input: CreateAttachmentUploadInput!) { createAttachmentUpload(input: $input) { url fields { name value } maxSize } }`,
        { input: { conversationId, filename: 'photo.jpg', contentType: 'image/jpeg', size } },
      )
    ).body;

  it('refuses createAttachmentUpload above the source limit with FILE_TOO_LARGE and maxSize, before any upstream call', async () => {
    const max = await maxSize();
    const pr = t.embedded.sandbox.emulators.get('protocol')!;
    pr.clearRequests();
    const r = await createUpload(max + 1);
    expect(r.errors?.[0]?.extensions).toEqual({ code: 'FILE_TOO_LARGE', source: 'protocol', maxSize: max });
    expect(pr.requests()).toHaveLength(0);
  });

  it('refuses a file larger than declared on /uploads/:id with 413 FILE_TOO_LARGE and maxSize', async () => {
    const max = await maxSize();
    const up = (await createUpload(10)).data!.createAttachmentUpload;
    const pr = t.embedded.sandbox.emulators.get('protocol')!;
    pr.clearRequests();
    const form = new FormData();
    for (const f of up.fields) form.append(f.name, f.value);
    form.append('file', new Blob([Buffer.alloc(11, 1)], { type: 'image/jpeg' }), 'photo.jpg');
    const res = await fetch(up.url, { method: 'POST', body: form });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      error: {
        code: 'FILE_TOO_LARGE',
        message: 'The file is larger than the 10 bytes declared in createAttachmentUpload.',
        source: 'protocol',
        maxSize: max,
      },
    });
    expect(pr.requests()).toHaveLength(0);
  });

  it('refuses an upload whose Content-Length is above the source limit without reading it', async () => {
    const max = await maxSize();
    const up = (await createUpload(max)).data!.createAttachmentUpload;
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        up.url,
        {
          method: 'POST',
          headers: { 'content-type': 'multipart/form-data; boundary=b', 'content-length': String(max + 1_000_000) },
        },
        (r) => {
          let body = '';
          r.on('data', (d: Buffer) => (body += d.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.write('--b\r\n'); // a few bytes of the announced megabytes; the answer comes anyway
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'FILE_TOO_LARGE', source: 'protocol', maxSize: max } });
  });
});
