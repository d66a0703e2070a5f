import { connect } from 'node:net';
import fc from 'fast-check';
import WebSocket from 'ws';
import { toGlobalId } from '../../src/schema/ids';
import { createWsClient } from '../utils/ws';
import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * Thousands of random and malformed requests over HTTP and graphql-ws (fixed seed): random bytes, wrong JSON
 * types, huge strings, deep nesting, bad ids and cursors, bad content types and headers, invalid UTF-8. The
 * gateway answers every one without a 5xx, without an unexpected (INTERNAL_SERVER_ERROR) error, without an
 * unhandled rejection or exception, and still answers a normal query afterwards.
 */
const SEED = 20261121;
const HTTP_RUNS = 1600;
const WS_RUNS = 300;

interface HttpCase {
  method: 'GET' | 'POST' | 'PUT' | 'OPTIONS';
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array | string;
}

// ---- generators ----

/** Percent-encodes bytes as they are (so invalid UTF-8 stays invalid). */
const pct = (bytes: Uint8Array) => [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

const junk = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\uD800',
    '💥',
    '"',
    '\\',
    '{',
    '}',
    '$',
    '#',
    '...',
    'null',
    '-1',
    '1e309',
    'NaN',
  ),
);
const hugeString = fc.integer({ min: 10_000, max: 200_000 }).map((n) => 'x'.repeat(n));
const weirdNumber = fc.oneof(
  fc.integer(),
  fc.constantFrom(-1, 0, 101, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 1.5, -0),
  fc.double(),
);
const base64url = fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b).toString('base64url'));
const badId = fc.oneof(
  junk,
  base64url,
  fc
    .tuple(
      fc.constantFrom('Conversation', 'Message', 'Participant', 'Attachment', 'Source', 'Nope'),
      fc.constantFrom('pixieset', 'protocol', 'chatwoot', 'monica', 'x', ''),
      junk,
    )
    .map(([type, source, native]) => toGlobalId(type as 'Conversation', source, native)),
);
const badCursor = fc.oneof(
  junk,
  base64url,
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
);
const anyJson = fc.jsonValue({ maxDepth: 3 });
const wrongType = fc.oneof(anyJson, weirdNumber, junk, fc.constant(null), fc.array(junk, { maxLength: 3 }));

/** Syntactically plausible operations over the real schema, with hostile arguments. */
const realistic = fc.oneof(
  fc.record({
    query: fc.constant(
      'query($id: ID!) { conversation(id: $id) { id subject participants { id name } messages(last: 3) { edges { cursor node { id content } } } } }',
    ),
    variables: fc.record({ id: fc.oneof(badId, wrongType) }),
  }),
  fc.record({
    query: fc.constant(
      'query($f: Int, $a: String, $l: Int, $b: String, $s: String) { conversations(first: $f, after: $a, last: $l, before: $b, filter: { search: $s }) { totalCount pageInfo { endCursor } edges { node { id } } } }',
    ),
    variables: fc.record({
      f: fc.option(fc.oneof(weirdNumber, wrongType)),
      a: fc.option(fc.oneof(badCursor, wrongType)),
      l: fc.option(weirdNumber),
      b: fc.option(badCursor),
      s: fc.option(fc.oneof(junk, hugeString)),
    }),
  }),
  fc.record({
    query: fc.constant(
      'query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Conversation { subject } ... on Message { content } } }',
    ),
    variables: fc.record({ ids: fc.oneof(fc.array(badId, { maxLength: 120 }), wrongType) }),
  }),
  fc.record({
    query: fc.constant('query($s: [ID!]) { unreadCount(sources: $s) { total bySource { source { id } total } } }'),
    variables: fc.record({ s: fc.oneof(fc.array(junk, { maxLength: 5 }), wrongType) }),
  }),
  fc.record({
    query: fc.constant('mutation($input: SendMessageInput!) { sendMessage(input: $input) { id content } }'),
    variables: fc.record({
      input: fc.oneof(
        fc.record({
          conversationId: badId,
          content: fc.oneof(junk, hugeString),
          idempotencyKey: fc.option(fc.oneof(junk, hugeString)),
          attachmentIds: fc.option(fc.array(badId, { maxLength: 3 })),
        }),
        wrongType,
      ),
    }),
  }),
  fc.record({
    query: fc.constant(
      'mutation($input: CreateAttachmentUploadInput!) { createAttachmentUpload(input: $input) { url maxSize } }',
    ),
    variables: fc.record({
      input: fc.oneof(
        fc.record({
          conversationId: badId,
          filename: fc.oneof(junk, hugeString),
          contentType: junk,
          size: weirdNumber,
        }),
        wrongType,
      ),
    }),
  }),
  fc.record({
    query: fc.constant(
      'mutation($id: ID!) { markConversationRead(id: $id) { id } deleteMessage(id: $id) { deleted } }',
    ),
    variables: fc.record({ id: fc.oneof(badId, wrongType) }),
  }),
  fc.record({
    query: fc.constant('query($d: DateTime) { sources { id health { status lastSuccessAt } } }'),
    variables: fc.record({ d: wrongType }),
  }),
);

const deepNesting = fc
  .integer({ min: 20, max: 3000 })
  .chain((n) =>
    fc.constantFrom(
      `{ ${'conversation(id: "x") { lastMessage { conversation { '.repeat(n)} id ${'} } } '.repeat(n)} }`,
      `${'{'.repeat(n)}${'}'.repeat(n)}`,
      `query { sources { ${'...on Source { '.repeat(n)}id${' }'.repeat(n)} } }`,
      `[${'['.repeat(n)}`,
    ),
  );
const manyAliases = fc
  .integer({ min: 1, max: 500 })
  .map((n) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: sources { id }`).join(' ')} }`);
const queryText = fc.oneof(
  junk,
  hugeString,
  deepNesting,
  manyAliases,
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.constantFrom(
    '{ __schema { types { name fields { name } } } }',
    'subscription { unreadCountChanged { total } }',
    '{ sources { id } }',
    'query A { sources { id } } query B { sources { id } }',
  ),
);

const jsonBody = fc.oneof(
  realistic.map((b) => JSON.stringify(b)),
  fc
    .record({
      query: queryText,
      variables: fc.option(wrongType),
      operationName: fc.option(fc.oneof(junk, weirdNumber)),
    })
    .map((b) => JSON.stringify(b)),
  fc
    .record({
      query: wrongType,
      variables: wrongType,
      extensions: fc.option(
        fc.oneof(
          wrongType,
          fc.record({
            persistedQuery: fc.record({
              version: wrongType,
              sha256Hash: fc.oneof(junk, fc.stringMatching(/^[0-9a-f]{64}$/)),
            }),
          }),
        ),
      ),
    })
    .map((b) => JSON.stringify(b)),
  fc.array(realistic, { maxLength: 3 }).map((b) => JSON.stringify(b)), // batches
  anyJson.map((v) => JSON.stringify(v)),
);
const invalidUtf8 = fc.tuple(jsonBody, fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([json, bytes]) => {
  const at = Math.floor(json.length / 2);
  return Buffer.concat([
    Buffer.from(json.slice(0, at)),
    Buffer.from([0xff, 0xfe, ...bytes]),
    Buffer.from(json.slice(at)),
  ]);
});
const body = fc.oneof(
  { weight: 6, arbitrary: jsonBody },
  { weight: 1, arbitrary: invalidUtf8 },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2000 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 500 }) },
);
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,60}$/);
const contentType = fc.oneof(
  { weight: 5, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'application/graphql',
      'application/graphql-response+json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
      'multipart/form-data; boundary=zz',
      '',
      '*/*',
      'application/json;;;',
    ),
  },
  { weight: 1, arbitrary: headerValue },
);
const headers = fc.record({
  'content-type': contentType,
  accept: fc.oneof(
    fc.constantFrom(
      'application/json',
      'application/graphql-response+json',
      'text/html',
      '*/*',
      'multipart/mixed',
      'text/event-stream',
    ),
    headerValue,
  ),
  authorization: fc.oneof(
    { weight: 6, arbitrary: fc.constant('KEY') },
    { weight: 1, arbitrary: headerValue },
    {
      weight: 1,
      arbitrary: fc.constantFrom('Bearer', 'Bearer ', 'bearer KEY', `Bearer ${'k'.repeat(600)}`, 'Basic a2V5'),
    },
  ),
  'x-request-id': fc.option(headerValue, { nil: undefined }),
  'apollo-require-preflight': fc.option(fc.constant('true'), { nil: undefined }),
  'x-upstream-stats': fc.option(fc.constantFrom('1', '0', 'yes'), { nil: undefined }),
});
const path = fc.oneof(
  { weight: 8, arbitrary: fc.constant('/graphql') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '/graphql/',
      '/graphql?query=%7B%7D',
      '/webhooks/chatwoot',
      '/webhooks/protocol',
      '/webhooks/nope',
      '/uploads/nope',
      '/uploads/',
      '/healthz',
      '/graphiql/',
      '/metrics',
      '/%E0%A4%A',
      '/graphql?extensions=%7B',
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(junk, fc.uint8Array({ maxLength: 6 }))
      .map(([s, raw]) => `/graphql?query=${pct(Buffer.from(s))}&variables=${pct(Buffer.from(raw))}`),
  },
);

const httpCase: fc.Arbitrary<HttpCase> = fc.record({
  method: fc.oneof(
    { weight: 8, arbitrary: fc.constant('POST' as const) },
    { weight: 2, arbitrary: fc.constant('GET' as const) },
    { weight: 1, arbitrary: fc.constantFrom('PUT' as const, 'OPTIONS' as const) },
  ),
  path,
  headers: headers.map(
    (h) => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string>,
  ),
  body,
});

/** graphql-ws frames: random text, wrong message shapes, and subscribe payloads with hostile operations. */
const wsFrame = fc.oneof(
  junk,
  anyJson.map((v) => JSON.stringify(v)),
  fc
    .record({
      type: fc.constantFrom('subscribe', 'complete', 'ping', 'pong', 'next', 'connection_init', 'nope'),
      id: fc.oneof(fc.uuid(), junk, weirdNumber),
      payload: fc.oneof(wrongType, fc.record({ query: queryText, variables: fc.option(wrongType) }), realistic),
    })
    .map((m) => JSON.stringify(m)),
);

// ---- helpers ----

async function pool<T>(items: T[], size: number, run: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}

describe('fuzzing the gateway', () => {
  let t: TestGateway;
  const problems: string[] = [];
  const onRejection = (e: unknown) => problems.push(`unhandledRejection: ${String(e)}`);
  const onException = (e: unknown) => problems.push(`uncaughtException: ${String(e)}`);

  beforeAll(async () => {
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
    t = await startTestGateway({ configure: (c) => ({ ...c, server: { ...c.server, maxBodyBytes: 300_000 } }) });
  });
  afterAll(async () => {
    await t.close();
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  });

  it(`answers ${HTTP_RUNS} random and malformed HTTP requests without a 5xx or an unexpected error`, async () => {
    const cases = fc.sample(httpCase, { seed: SEED, numRuns: HTTP_RUNS });
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let sent = 0;
    await pool(cases, 8, async (c) => {
      const h = { ...c.headers };
      if (h.authorization === 'KEY') h.authorization = `Bearer ${t.apiKey}`;
      let res: Response;
      try {
        res = await fetch(`${t.url}${c.path}`, {
          method: c.method,
          headers: h,
          body:
            c.method === 'GET' || c.method === 'OPTIONS'
              ? undefined
              : typeof c.body === 'string'
                ? c.body
                : new Uint8Array(c.body ?? []),
        });
      } catch (e) {
        // fetch itself refuses some inputs (an invalid URL); nothing reached the gateway.
        if (e instanceof TypeError && !/fetch failed/.test(e.message)) return;
        failures.push(`${c.method} ${c.path}: ${String(e)} (cause ${String((e as { cause?: unknown }).cause)})`);
        return;
      }
      sent++;
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500 || (c.path !== '/metrics' && text.includes('INTERNAL_SERVER_ERROR'))) {
        failures.push(
          `${res.status} for ${c.method} ${c.path} ${JSON.stringify(h)} ${String(c.body).slice(0, 300)} → ${text.slice(0, 300)}`,
        );
      }
    });
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(HTTP_RUNS * 0.9);
    // The mix reached every layer: success, GraphQL errors, body-parser errors and auth.
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([200, 400, 401]));
  });

  it('survives malformed raw HTTP', async () => {
    const raw = [
      'GARBAGE\r\n\r\n',
      'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{',
      'POST /graphql HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n',
      `GET /graphql HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      'POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{"qu',
    ];
    for (const r of raw) {
      const answer = await new Promise<string>((resolve) => {
        const s = connect(Number(new URL(t.url).port), '127.0.0.1');
        let got = '';
        const end = setTimeout(() => s.end(), 300);
        const done = () => {
          clearTimeout(end);
          resolve(got);
        };
        s.on('data', (d) => (got += d.toString()));
        s.on('error', done);
        s.on('close', done);
        s.write(r);
      });
      expect(answer).not.toMatch(/^HTTP\/1\.1 5\d\d/);
    }
  });

  it(`answers ${WS_RUNS} random graphql-ws frames and operations without crashing`, async () => {
    const frames = fc.sample(fc.array(wsFrame, { minLength: 1, maxLength: 6 }), { seed: SEED, numRuns: WS_RUNS });
    const closeCodes = new Map<number, number>();
    const internal: string[] = [];
    await pool(frames, 6, async (batch) => {
      await new Promise<void>((resolve) => {
        const ws = new WebSocket(t.wsUrl, 'graphql-transport-ws');
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          ws.terminate();
          done();
        }, 2000);
        ws.on('message', (m) => {
          const s = m.toString();
          if (s.includes('INTERNAL_SERVER_ERROR') || s.includes('Internal server error'))
            internal.push(s.slice(0, 300));
        });
        ws.on('close', (code) => {
          closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
          done();
        });
        ws.on('error', () => done());
        let closer: NodeJS.Timeout | undefined;
        ws.on('open', () => {
          ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${t.apiKey}` } }));
          for (const f of batch) ws.send(f);
          ws.send(Buffer.from([0xff, 0x00, 0xfe]));
          closer = setTimeout(() => ws.close(1000), 20);
        });
        ws.on('close', () => clearTimeout(closer));
      });
    });
    expect(internal).toEqual([]);
    // 4500 is graphql-ws's "internal server error" close.
    expect(closeCodes.get(4500) ?? 0).toBe(0);
  });

  it('answers hostile operations through a graphql-ws client with errors, keeping the socket', async () => {
    const ops = fc.sample(fc.oneof(realistic, fc.record({ query: queryText, variables: fc.constant(undefined) })), {
      seed: SEED + 1,
      numRuns: 200,
    });
    const client = createWsClient(t.wsUrl, t.apiKey);
    let closed = false;
    const unexpected: string[] = [];
    await pool(ops, 6, async (op) => {
      await new Promise<void>((resolve) => {
        let settled = false;
        const finish = () => {
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            dispose();
            resolve();
          }
        };
        const dispose = client.subscribe(
          {
            query: typeof op.query === 'string' ? op.query : '',
            variables: op.variables as Record<string, unknown> | undefined,
          },
          {
            next: (v) => {
              const s = JSON.stringify(v);
              if (s.includes('INTERNAL_SERVER_ERROR')) unexpected.push(s.slice(0, 300));
              if (!/subscription/.test(op.query)) return;
              finish(); // one event of a subscription is enough
            },
            error: (e) => {
              if (!Array.isArray(e)) {
                closed = true;
                unexpected.push(`socket error ${String((e as { code?: number }).code ?? e)}`);
              } else if (JSON.stringify(e).includes('INTERNAL_SERVER_ERROR'))
                unexpected.push(JSON.stringify(e).slice(0, 300));
              finish();
            },
            complete: finish,
          },
        );
        const timer = setTimeout(finish, 3000);
      });
    });
    await client.dispose();
    expect(unexpected).toEqual([]);
    expect(closed).toBe(false);
  });

  it('still answers a normal query afterwards, with no unhandled rejection or exception on the way', async () => {
    const r = await t.gql<{ sources: Array<{ id: string }> }>(`{ sources { id } }`);
    expect(r.status).toBe(200);
    expect(r.body.data!.sources.map((s) => s.id)).toEqual(['pixieset', 'protocol', 'chatwoot', 'monica']);
    expect(problems).toEqual([]);
  });
});
