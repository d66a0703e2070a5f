import { INBOX, responseCacheGateway, type Raw, type ResponseCacheGateway } from '../utils/responseCacheGateway';

/**
 * Adversarial probes of the response cache's fast path (server/middleware/responseCacheHit.ts, README "Response
 * cache"): a hit is answered before Apollo's pipeline, so every rule a request obeys through Apollo must still
 * hold for it. Each probe warms the cache (the miss, then the request that teaches the Accept's content type),
 * then sends the variant under test and compares it with what Apollo answers. Whether a request took the fast
 * path is read from its debug line (`responseCache: "hit"`), which only the fast path writes. The gateway's clock
 * stands still (nothing expires, no key's minute turns).
 */

describe('response cache and operation names', () => {
  let g: ResponseCacheGateway;
  beforeAll(async () => {
    g = await responseCacheGateway({
      idPrefix: 'adv',
      configure: (c) => ({ ...c, server: { ...c.server, maxBodyBytes: 64 * 1024 } }),
    });
  });
  afterAll(async () => {
    await g?.close();
  });

  // Apollo without the response cache answers both 400 OPERATION_RESOLUTION_FAILURE ('Unknown operation named "…".').
  const unknownName = (r: Raw, operationName: string) =>
    expect([r.status, JSON.parse(r.text)]).toEqual([
      400,
      {
        errors: [
          {
            message: `Unknown operation named "${operationName}".`,
            extensions: { code: 'OPERATION_RESOLUTION_FAILURE' },
          },
        ],
      },
    ]);

  it('an operation name the document does not have: 400 OPERATION_RESOLUTION_FAILURE, as without the cache', async () => {
    for (const operationName of ['', 'Other']) {
      const r = await g.post({ query: INBOX, variables: { n: 4 }, operationName });
      unknownName(r, operationName);
    }
  });

  it('operationName "" is a name (graphql-js looks for an operation called ""): never the answer cached without one', async () => {
    const body = { query: INBOX, variables: { n: 3 } };
    await g.warm(body);
    const r = await g.post({ ...body, operationName: '' });
    expect(await g.fast(r.id)).toBe(false);
    unknownName(r, '');
  });
});
