import { createHash } from 'node:crypto';
import { ResponseCache } from '../../src/server/responseCache';
import { responseCacheGateway, type ResponseCacheGateway } from '../utils/responseCacheGateway';
import { eventually } from '../utils/wait';

/**
 * Response cache hits answered before Apollo's pipeline (server/middleware/responseCacheHit.ts, README "Response
 * cache"): the same bytes and headers as Apollo's answer, and every rule a request obeys (API key, per-key limits,
 * request id, metrics, logs). Whether a request took the fast path is read from its debug log line
 * (`responseCache: "hit"`), which only the fast path writes. The gateway's clock stands still, so nothing expires
 * and the key's minute never turns.
 */

const INBOX = /* GraphQL */ `
  query Inbox($n: Int) {
    conversations(first: $n) {
      nodes {
        id
        subject
        source {
          id
        }
        lastMessage {
          content
        }
      }
    }
  }
`;

/** A key with 4 operations a minute (its own `apiKeys[].limits`). */
const LIMITED = 'response-cache-hit-limited';
const LIMITED_PER_MINUTE = 4;
/** A key with one operation at a time. */
const ONE_AT_A_TIME = 'response-cache-hit-one-at-a-time';
const sha = (k: string) => createHash('sha256').update(k).digest('hex');

describe('response cache hits before Apollo', () => {
  let g: ResponseCacheGateway;
  const upstream = () => [...g.embedded.sandbox.emulators.values()].reduce((n, e) => n + e.requests().length, 0);
  const clearUpstream = () => {
    for (const e of g.embedded.sandbox.emulators.values()) e.clearRequests();
  };

  beforeAll(async () => {
    g = await responseCacheGateway({
      idPrefix: 'hit',
      webhooks: false,
      configure: (c) => ({
        ...c,
        apiKeys: [
          ...c.apiKeys,
          {
            name: 'limited-rate',
            sha256: sha(LIMITED),
            sources: ['*'],
            limits: { operationsPerMinute: LIMITED_PER_MINUTE },
          },
          { name: 'one-at-a-time', sha256: sha(ONE_AT_A_TIME), sources: ['*'], limits: { concurrentOperations: 1 } },
        ],
      }),
    });
  });
  afterAll(async () => {
    await g?.close();
  });

  it('a hit is byte-identical to the miss, with the same headers, its own request id, counted and logged', async () => {
    const body = { query: INBOX, variables: { n: 20 } };
    for (const [tag, accept] of [
      ['none', undefined],
      ['graphql-response', 'application/graphql-response+json, application/json'],
    ] as const) {
      const h: Record<string, string> = accept ? { accept } : {};
      const miss = await g.post(body, { ...h, 'x-request-id': `miss-${tag}` });
      expect(miss.status).toBe(200);
      expect(JSON.parse(miss.text)).toMatchObject({ data: { conversations: { nodes: expect.any(Array) } } });
      expect(await g.fast(`miss-${tag}`)).toBe(false);
      // The first hit for an Accept value goes through Apollo (its content type is learned from it), then fast.
      const viaApollo = await g.post(body, h);
      expect(viaApollo.text).toBe(miss.text);
      clearUpstream();
      const hits = await g.metric('switchboard_response_cache_hits_total');
      const ops = await g.metric(
        'switchboard_graphql_operations_total{operation="query",transport="http",outcome="success"}',
      );
      const hit = await g.post(body, { ...h, 'x-request-id': `hit-${tag}` });
      expect(await g.fast(`hit-${tag}`)).toBe(true);
      expect(hit.status).toBe(200);
      expect(hit.text).toBe(miss.text);
      for (const name of ['content-type', 'content-length', 'etag'])
        expect([name, hit.headers.get(name)]).toEqual([name, miss.headers.get(name)]);
      expect(hit.headers.get('content-type')).toBe(
        accept ? 'application/graphql-response+json; charset=utf-8' : 'application/json; charset=utf-8',
      );
      expect(hit.headers.get('x-request-id')).toBe(`hit-${tag}`);
      expect(upstream()).toBe(0);
      expect(await g.metric('switchboard_response_cache_hits_total')).toBe(hits + 1);
      expect(
        await g.metric('switchboard_graphql_operations_total{operation="query",transport="http",outcome="success"}'),
      ).toBe(ops + 1);
      const access = g.logLines.find((l) => l.requestId === `hit-${tag}` && l.msg === 'request');
      expect(access).toMatchObject({ method: 'POST', route: '/graphql', status: 200, keyName: 'sandbox' });
      // res.send's conditional handling as for Apollo's body: a POST is never "fresh", so no 304.
      const conditional = await g.post(body, { ...h, 'if-none-match': miss.headers.get('etag')! });
      expect(conditional.status).toBe(200);
      expect(conditional.text).toBe(miss.text);
    }
  });

  it('upstream stats: a hit carries extensions.upstream with no requests, as a hit through Apollo does', async () => {
    const body = { query: INBOX, variables: { n: 20 } };
    // An Accept value not seen before: the first hit goes through Apollo, the second takes the fast path.
    const h = { accept: 'application/json', 'x-upstream-stats': '1' };
    const viaApollo = await g.post(body, { ...h, 'x-request-id': 'stats-1' });
    const viaFast = await g.post(body, { ...h, 'x-request-id': 'stats-2' });
    expect(await g.fast('stats-1')).toBe(false);
    expect(await g.fast('stats-2')).toBe(true);
    expect(viaFast.text).toBe(viaApollo.text);
    expect(JSON.parse(viaFast.text).extensions).toEqual({ upstream: { total: 0, bySource: [] } });
  });

  it('a cached query still needs a valid API key', async () => {
    const body = { query: INBOX, variables: { n: 20 } };
    expect((await g.post(body)).status).toBe(200);
    const none = await g.post(body, { 'x-request-id': 'no-key' }, null);
    expect(none.status).toBe(401);
    expect(JSON.parse(none.text).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const wrong = await g.post(body, { 'x-request-id': 'wrong-key' }, 'not-a-key');
    expect(wrong.status).toBe(401);
    expect(await g.fast('no-key')).toBe(false);
    expect(await g.fast('wrong-key')).toBe(false);
  });

  it("hits count in the key's operations per minute; past the limit a cached query is refused with 429", async () => {
    const body = { query: INBOX, variables: { n: 10 } };
    // 1: the miss, 2: the hit that teaches the content type (through Apollo), 3 and 4: fast hits.
    for (let i = 1; i <= LIMITED_PER_MINUTE; i++) {
      const r = await g.post(body, { 'x-request-id': `limited-${i}` }, LIMITED);
      expect(r.status).toBe(200);
    }
    expect(await g.fast(`limited-${LIMITED_PER_MINUTE}`)).toBe(true);
    const refused = await g.post(body, { 'x-request-id': 'limited-over' }, LIMITED);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(JSON.parse(refused.text).errors[0].extensions).toMatchObject({
      code: 'LIMIT_EXCEEDED',
      limit: 'operationsPerMinute',
      max: LIMITED_PER_MINUTE,
    });
    expect(await g.fast('limited-over')).toBe(false);
    // The other key is not affected.
    expect((await g.post(body)).status).toBe(200);
    expect(await g.metric('switchboard_key_limit_refusals_total{key="limited-rate",limit="operationsPerMinute"}')).toBe(
      1,
    );
  });

  it("a hit counts in the key's concurrent operations: while another of its operations runs, it is refused", async () => {
    const cached = { query: INBOX, variables: { n: 7 } };
    for (let i = 1; i <= 3; i++)
      expect((await g.post(cached, { 'x-request-id': `one-${i}` }, ONE_AT_A_TIME)).status).toBe(200);
    expect(await g.fast('one-3')).toBe(true);
    const pixieset = g.embedded.sandbox.emulators.get('pixieset')!;
    pixieset.clearRequests();
    pixieset.setFaults({ latencyMs: 1_500 });
    try {
      // Another page (not cached) holds the key's one operation while Pixieset answers slowly.
      const slow = g.post({ query: INBOX, variables: { n: 3 } }, {}, ONE_AT_A_TIME);
      await eventually(() => expect(pixieset.requests().length).toBeGreaterThan(0));
      const refused = await g.post(cached, { 'x-request-id': 'one-refused' }, ONE_AT_A_TIME);
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.text).errors[0].extensions).toMatchObject({
        code: 'LIMIT_EXCEEDED',
        limit: 'concurrentOperations',
        max: 1,
      });
      expect((await slow).status).toBe(200);
    } finally {
      pixieset.setFaults({});
    }
    // Free again: the hit is served (fast) and releases its hold at once.
    expect((await g.post(cached, { 'x-request-id': 'one-after' }, ONE_AT_A_TIME)).status).toBe(200);
    expect(await g.fast('one-after')).toBe(true);
    expect((await g.post(cached, {}, ONE_AT_A_TIME)).status).toBe(200);
  });

  it('a request with extensions (persisted queries) or another operation name is not answered from these bytes', async () => {
    const body = { query: INBOX, variables: { n: 20 } };
    await g.post(body);
    const named = await g.post({ ...body, operationName: 'Other' }, { 'x-request-id': 'other-name' });
    expect(await g.fast('other-name')).toBe(false);
    expect(named.status).not.toBe(200);
    expect(JSON.parse(named.text).errors).toHaveLength(1);
    const withExtensions = await g.post({ ...body, extensions: {} }, { 'x-request-id': 'with-ext' });
    expect(await g.fast('with-ext')).toBe(false);
    expect(withExtensions.status).toBe(200);
  });
});

describe('ResponseCache.stringify (Apollo stringifyResult)', () => {
  const cache = new ResponseCache({
    sources: [{ sourceId: 'a', trustedMaxAgeMs: 60_000, trustedSince: () => 0 }],
    ttlMs: 1_000,
    maxBytes: 1_000_000,
    now: () => 10,
  });
  const apollo = (v: unknown) => `${JSON.stringify(v)}\n`;

  it("writes exactly Apollo's JSON for a stored answer, with or without extensions, and for anything else", () => {
    const data = { conversations: { nodes: [{ id: 'x', subject: 'é "quoted" \u2028', n: 1.5, none: null }] } };
    expect(cache.set('k', ['a'], data, cache.ticket())).toBe(true);
    const ext = { upstream: { total: 0, bySource: [] } };
    for (const value of [
      { errors: undefined, data, extensions: undefined },
      { errors: undefined, data, extensions: ext },
      { errors: [{ message: 'm' }], data, extensions: undefined },
      { errors: undefined, data: { other: 1 }, extensions: undefined },
      { errors: [{ message: 'only errors' }] },
    ])
      expect(cache.stringify(value)).toBe(apollo(value));
    // The stored answer's JSON is reused: nothing is serialized again.
    const spy = jest.spyOn(JSON, 'stringify');
    try {
      cache.stringify({ errors: undefined, data, extensions: undefined });
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});
