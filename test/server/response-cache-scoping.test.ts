import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../src/config/schema';
import { SANDBOX_API_KEY, SANDBOX_LIMITED_KEY } from '../../src/sandbox/embedded';
import {
  INBOX,
  responseCacheGateway,
  type Answer,
  type Raw,
  type ResponseCacheGateway,
} from '../utils/responseCacheGateway';
import { eventually } from '../utils/wait';

/**
 * Adversarial probes of the response cache's fast path (server/middleware/responseCacheHit.ts, README "Response
 * cache"), continued from response-cache-operation-names.test.ts: a hit is answered before Apollo's pipeline, so
 * every rule a request obeys through Apollo must still hold for it: whose answer it is (API key and its sources),
 * which variables, which transport (GET), what refuses a request before Apollo (body errors, safelist), what
 * changes an answer (a write through the gateway, a vendor's webhook), what is never stored (errors, mutations,
 * refused introspection, an over-cost operation) and the headers a hit carries. Whether a request took the fast
 * path is read from its debug line (`responseCache: "hit"`), which only the fast path writes. The gateway's clock
 * stands still (nothing expires, no key's minute turns), so only an invalidation can refresh an answer.
 */

/** Two pages of different sizes: the answer tells which variable went where. */
const TWO = /* GraphQL */ `
  query Two($n: Int, $m: Int) {
    a: conversations(first: $n) {
      nodes {
        id
      }
    }
    b: conversations(first: $m) {
      nodes {
        id
      }
    }
  }
`;
const SEND = /* GraphQL */ `
  mutation Send($id: ID!, $content: String!) {
    sendMessage(input: { conversationId: $id, content: $content }) {
      id
      content
    }
  }
`;
/** A second key that sees every source, as the sandbox key does (another key id, the same sources). */
const OTHER_KEY = 'response-cache-scoping-other';
/** Cost limit of the first gateway: a page of 2 costs far less, a page of 500 far more (README "Limits"). */
const MAX_COST = 1_000;
const sha = (k: string) => createHash('sha256').update(k).digest('hex');

type Row = { id: string; nativeId: string; source: { id: string }; lastMessage: { content: string | null } | null };

/** The probes' gateway (test/utils/responseCacheGateway.ts) with a 64 KB body limit, and `configure`'s changes. */
const probeGateway = (configure: (c: Config) => Config) =>
  responseCacheGateway({
    idPrefix: 'scoping',
    configure: (c) => configure({ ...c, server: { ...c.server, maxBodyBytes: 64 * 1024 } }),
  });

describe('response cache fast path: scoping, variables, transports, invalidation, headers, refusals', () => {
  let g: ResponseCacheGateway;
  const rows = (r: Raw): Row[] =>
    (JSON.parse(r.text) as { data: { conversations: { nodes: Row[] } } }).data.conversations.nodes;

  beforeAll(async () => {
    g = await probeGateway((c) => ({
      ...c,
      server: { ...c.server, limits: { ...c.server.limits, maxCost: MAX_COST } },
      apiKeys: [...c.apiKeys, { name: 'other', sha256: sha(OTHER_KEY), sources: ['*'] }],
    }));
  });
  afterAll(async () => {
    await g?.close();
  });

  it("another key's cached answer is never served: not to a key with the same sources, nor to one that sees fewer", async () => {
    const body = { query: INBOX, variables: { n: 30 } };
    const hit = await g.warm(body);
    expect(new Set(rows(hit).map((r) => r.source.id)).size).toBeGreaterThan(1);

    const other = await g.post(body, {}, OTHER_KEY);
    expect(await g.fast(other.id)).toBe(false);
    expect(other.status).toBe(200);
    // The same sources: the same answer, executed for that key.
    expect(rows(other)).toEqual(rows(hit));

    const limited = await g.post(body, {}, SANDBOX_LIMITED_KEY);
    expect(await g.fast(limited.id)).toBe(false);
    expect(limited.status).toBe(200);
    expect(new Set(rows(limited).map((r) => r.source.id))).toEqual(new Set(['pixieset']));
    // Its own answer is then cached for it, and still only its source.
    const limitedHit = await g.post(body, {}, SANDBOX_LIMITED_KEY);
    expect(await g.fast(limitedHit.id)).toBe(true);
    expect(limitedHit.text).toBe(limited.text);
    // And the first key's hit is still its own.
    const again = await g.post(body);
    expect(await g.fast(again.id)).toBe(true);
    expect(again.text).toBe(hit.text);
  });

  it('no key, an unknown key, the key id (its sha256) presented as a key: 401 UNAUTHENTICATED, never the cached bytes', async () => {
    const body = { query: INBOX, variables: { n: 30 } };
    await g.warm(body);
    for (const key of [null, 'not-a-key', sha(SANDBOX_API_KEY), `${SANDBOX_API_KEY}x`]) {
      const r = await g.post(body, {}, key);
      expect(await g.fast(r.id)).toBe(false);
      expect([r.status, JSON.parse(r.text).errors[0].extensions.code]).toEqual([401, 'UNAUTHENTICATED']);
      expect(r.text).not.toContain('"data"');
    }
    const basic = await g.post(
      body,
      { authorization: `Basic ${Buffer.from(`x:${SANDBOX_API_KEY}`).toString('base64')}` },
      null,
    );
    expect(await g.fast(basic.id)).toBe(false);
    expect(basic.status).toBe(401);
  });

  it('variables: the same values in another key order give the same answer; other values, types or a missing one never the cached bytes', async () => {
    const hit = await g.warm({ query: TWO, variables: { n: 2, m: 3 } });
    const sizes = (r: Raw) => {
      const d = JSON.parse(r.text).data as { a: { nodes: unknown[] }; b: { nodes: unknown[] } };
      return [d.a.nodes.length, d.b.nodes.length];
    };
    expect(sizes(hit)).toEqual([2, 3]);

    const reordered = await g.post({ query: TWO, variables: { m: 3, n: 2 } });
    expect([reordered.status, reordered.text]).toEqual([200, hit.text]);

    const swapped = await g.post({ query: TWO, variables: { n: 3, m: 2 } });
    expect(await g.fast(swapped.id)).toBe(false);
    expect(sizes(swapped)).toEqual([3, 2]);

    const missing = await g.post({ query: TWO, variables: { n: 2 } });
    expect(await g.fast(missing.id)).toBe(false);
    expect(sizes(missing)[0]).toBe(2);
    expect(sizes(missing)[1]).not.toBe(3);

    // "2" is not an Int: graphql-js refuses the variable (BAD_USER_INPUT), whatever the cache holds for 2.
    const typed = await g.post({ query: TWO, variables: { n: '2', m: 3 } });
    expect(await g.fast(typed.id)).toBe(false);
    expect(typed.status).toBe(400);
    expect(JSON.parse(typed.text)).toEqual({
      errors: [expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) })],
    });
  });

  it("GET is Apollo's (never the fast path) and answers the same data; a mutation over GET is still refused", async () => {
    const hit = await g.warm({ query: INBOX, variables: { n: 7 } });
    const viaGet = await g.get({ query: INBOX, variables: JSON.stringify({ n: 7 }) });
    expect(await g.fast(viaGet.id)).toBe(false);
    expect(viaGet.status).toBe(200);
    expect(JSON.parse(viaGet.text)).toEqual(JSON.parse(hit.text));

    const row = rows(hit)[0]!;
    const mutation = await g.get({ query: SEND, variables: JSON.stringify({ id: row.id, content: 'over GET' }) });
    expect(await g.fast(mutation.id)).toBe(false);
    expect(mutation.status).toBe(405);
    const after = await g.post({ query: INBOX, variables: { n: 7 } });
    expect(after.text).toBe(hit.text);
  });

  it('a mutation is never answered from the cache, and a write through the gateway changes the next answer at once', async () => {
    const before = await g.warm({ query: INBOX, variables: { n: 30 } });
    const row = rows(before).find((r) => r.source.id === 'protocol')!;
    const ids: string[] = [];
    for (const content of ['scoping write 1', 'scoping write 1']) {
      const sent = await g.post({ query: SEND, variables: { id: row.id, content } });
      expect(await g.fast(sent.id)).toBe(false);
      expect(sent.status).toBe(200);
      const m = JSON.parse(sent.text).data.sendMessage as { id: string; content: string };
      expect(m.content).toBe(content);
      ids.push(m.id);
      const next = await g.post({ query: INBOX, variables: { n: 30 } });
      expect(await g.fast(next.id)).toBe(false);
      expect(rows(next).find((r) => r.id === row.id)?.lastMessage?.content).toBe(content);
    }
    // Two sends, two messages: the second was executed, not the first one's answer again.
    expect(new Set(ids).size).toBe(2);
  });

  it("a vendor's webhook drops the cached bytes: the next answer shows the change, then it is cached again", async () => {
    const body = { query: INBOX, variables: { n: 30 } };
    const before = await g.warm(body);
    const row = rows(before).find((r) => r.source.id === 'chatwoot')!;
    const content = 'scoping webhook';
    g.embedded.sandbox.emulators.get('chatwoot')!.controls.simulateIncoming({ conversationId: row.nativeId, content });
    let changed: Answer = before;
    await eventually(
      async () => {
        changed = await g.post(body);
        expect(rows(changed).find((r) => r.id === row.id)?.lastMessage?.content).toBe(content);
      },
      { timeoutMs: 10_000 },
    );
    expect(await g.fast(changed.id)).toBe(false);
    const again = await g.post(body);
    expect(await g.fast(again.id)).toBe(true);
    expect(again.text).toBe(changed.text);
  });

  it("a hit carries Apollo's headers for the same answer, its own request id, and nothing of the key", async () => {
    const body = { query: INBOX, variables: { n: 5 } };
    const accept = 'application/graphql-response+json';
    // The miss under another Accept value; then the first request with this one is a hit through Apollo's
    // pipeline (its plugin: the fast path has not yet learned this Accept's content type), the reference.
    const miss = await g.post(body, { accept: 'application/json' });
    const viaApollo = await g.post(body, { accept });
    expect(await g.fast(viaApollo.id)).toBe(false);
    const hit = await g.post(body, { accept });
    expect(await g.fast(hit.id)).toBe(true);
    expect(hit.text).toBe(miss.text);
    expect(hit.text).toBe(viaApollo.text);
    const headers = (r: Raw) =>
      Object.fromEntries([...r.headers].filter(([name]) => !['date', 'x-request-id', 'keep-alive'].includes(name)));
    expect(headers(hit)).toEqual(headers(viaApollo));
    expect(hit.headers.get('content-type')).toBe('application/graphql-response+json; charset=utf-8');
    expect(hit.headers.get('x-request-id')).toBe(hit.id);
    // Without a request id of its own, a hit gets a fresh one.
    const res = await fetch(`${g.gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${SANDBOX_API_KEY}` },
      body: JSON.stringify(body),
    });
    expect(await res.text()).toBe(hit.text);
    const generated = res.headers.get('x-request-id');
    expect(generated).toEqual(expect.any(String));
    expect(generated).not.toBe(hit.id);
    expect(await g.fast(generated!)).toBe(true);
    for (const secret of [SANDBOX_API_KEY, sha(SANDBOX_API_KEY)]) {
      expect(hit.text).not.toContain(secret);
      for (const [, value] of hit.headers) expect(value).not.toContain(secret);
    }
  });

  it('over-size and invalid bodies, bad variables or operation names get their coded errors, never the cached bytes', async () => {
    const body = { query: INBOX, variables: { n: 4 } };
    await g.warm(body);
    const cases: Array<[string, string, number, string]> = [
      ['too big', JSON.stringify({ ...body, variables: { n: 4, pad: 'x'.repeat(70 * 1024) } }), 413, 'LIMIT_EXCEEDED'],
      ['not JSON', JSON.stringify(body).slice(0, -2), 400, 'BAD_REQUEST'],
      ['variables an array', JSON.stringify({ ...body, variables: [4] }), 400, 'BAD_REQUEST'],
      ['variables a string', JSON.stringify({ ...body, variables: '{"n":4}' }), 400, 'BAD_REQUEST'],
      ['operationName a number', JSON.stringify({ ...body, operationName: 4 }), 400, 'BAD_REQUEST'],
    ];
    for (const [name, text, status, code] of cases) {
      const r = await g.post(text);
      expect([name, await g.fast(r.id)]).toEqual([name, false]);
      expect([name, r.status, JSON.parse(r.text).errors?.[0]?.extensions?.code]).toEqual([name, status, code]);
      expect([name, JSON.parse(r.text).data]).toEqual([name, undefined]);
    }
  });

  it('answers with errors are never stored: a missing conversation is executed every time', async () => {
    const body = { query: `query Missing { conversation(id: "Q29udmVyc2F0aW9uOm5vcGU6eA==") { id } }` };
    for (let i = 0; i < 4; i++) {
      const r = await g.post(body);
      expect(await g.fast(r.id)).toBe(false);
      expect(JSON.parse(r.text).errors?.length).toBeGreaterThan(0);
    }
  });

  it('introspection refused in production is refused every time; an allowed __typename query is cached', async () => {
    const refused = { query: `query Schema { __schema { queryType { name } } }` };
    for (let i = 0; i < 4; i++) {
      const r = await g.post(refused);
      expect(await g.fast(r.id)).toBe(false);
      expect(r.status).toBe(400);
      expect(JSON.parse(r.text).errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(r.text).not.toContain('"data"');
    }
    const allowed = await g.warm({ query: `query Name { __typename }` });
    expect(JSON.parse(allowed.text)).toEqual({ data: { __typename: 'Query' } });
  });

  it('the cost of `first: $n` is per variables: a large $n is refused after a small one passed and is cached, every time', async () => {
    const small = await g.warm({ query: INBOX, variables: { n: 2 } });
    expect(rows(small)).toHaveLength(2);
    for (let i = 0; i < 3; i++) {
      const big = await g.post({ query: INBOX, variables: { n: 500 } });
      expect(await g.fast(big.id)).toBe(false);
      expect(JSON.parse(big.text)).toEqual({
        errors: [
          expect.objectContaining({
            extensions: expect.objectContaining({ code: 'LIMIT_EXCEEDED', limit: 'cost' }),
          }),
        ],
      });
      expect(big.text).not.toContain('"data"');
      const again = await g.post({ query: INBOX, variables: { n: 2 } });
      expect(again.text).toBe(small.text);
    }
    // One document, two operations: the cheap one passing does not let the costly one through.
    const doc = `query Cheap { __typename } query Costly($n: Int) { conversations(first: $n) { nodes { id lastMessage { content } } } }`;
    expect((await g.post({ query: doc, operationName: 'Cheap' })).status).toBe(200);
    expect((await g.post({ query: doc, operationName: 'Costly', variables: { n: 1 } })).status).toBe(200);
    for (const operationName of ['Costly', 'Costly']) {
      const r = await g.post({ query: doc, operationName, variables: { n: 500 } });
      expect(JSON.parse(r.text).errors?.[0]?.extensions).toMatchObject({ code: 'LIMIT_EXCEEDED', limit: 'cost' });
    }
  });

  it('APQ: a query registered by hash is cached under its text; a hash-only request is answered by Apollo with the same data', async () => {
    const query = `query Apq { conversations(first: 3) { nodes { id } } }`;
    const extensions = { persistedQuery: { version: 1, sha256Hash: sha(query) } };
    const registered = await g.post({ query, extensions });
    expect(registered.status).toBe(200);
    const byHash = await g.post({ extensions });
    expect(await g.fast(byHash.id)).toBe(false);
    expect(JSON.parse(byHash.text)).toEqual(JSON.parse(registered.text));
    const wrongHash = await g.post({ query, extensions: { persistedQuery: { version: 1, sha256Hash: sha('x') } } });
    expect(await g.fast(wrongHash.id)).toBe(false);
    expect(wrongHash.status).toBe(400);
    const free = await g.warm({ query });
    expect(JSON.parse(free.text)).toEqual(JSON.parse(registered.text));
  });
});

describe('response cache fast path in safelist mode', () => {
  const REGISTERED = `query Registered { conversations(first: 3) { nodes { id } } }`;
  let dir: string;
  let g: ResponseCacheGateway;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'response-cache-safelist-'));
    const manifest = join(dir, 'safelist.json');
    writeFileSync(manifest, JSON.stringify({ [sha(REGISTERED)]: REGISTERED }));
    g = await probeGateway((c) => ({
      ...c,
      server: { ...c.server, persistedQueries: { ...c.server.persistedQueries, safelist: manifest } },
    }));
  });
  afterAll(async () => {
    await g?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a registered operation is cached; a free-form text that is not registered is refused every time, never a hit', async () => {
    const hit = await g.warm({ query: REGISTERED });
    const byHash = await g.post({ extensions: { persistedQuery: { version: 1, sha256Hash: sha(REGISTERED) } } });
    expect(JSON.parse(byHash.text)).toEqual(JSON.parse(hit.text));
    // The same operation with other whitespace is another text, not registered: refused before the cache.
    for (const query of [`${REGISTERED} `, REGISTERED.replace('first: 3', 'first: 4'), `{ __typename }`]) {
      for (let i = 0; i < 3; i++) {
        const r = await g.post({ query });
        expect(await g.fast(r.id)).toBe(false);
        expect([r.status, JSON.parse(r.text).errors[0].extensions.code]).toEqual([400, 'PERSISTED_QUERY_NOT_FOUND']);
      }
    }
  });
});
