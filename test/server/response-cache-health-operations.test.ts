import { responseCacheGateway, type ResponseCacheGateway } from '../utils/responseCacheGateway';

/**
 * The response cache never stores an operation that selects `health` (server/responseCache.ts, README "Response
 * cache": a source's health moves with calls, not with change events). Whether a document is cacheable is decided
 * per operation: a document may hold one operation that selects health and one that does not. Whether a request was
 * answered from the cache is read from the fast path's debug line (`responseCache: "hit"`). The clock stands still.
 */
describe('response cache and operations that select health', () => {
  let g: ResponseCacheGateway;
  beforeAll(async () => {
    g = await responseCacheGateway({ idPrefix: 'health' });
  });
  afterAll(async () => {
    await g?.close();
  });

  it('a lone health operation is never answered from the cache', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await g.post({ query: `query OnlyHealth { sources { id health { status } } }` });
      expect(r.status).toBe(200);
      expect(await g.fast(r.id)).toBe(false);
    }
  });

  it('a document with a page operation and a health operation: the health one is never cached, even after the page one was', async () => {
    const query = `query Page { conversations(first: 2) { nodes { id } } } query Health { sources { id health { status } } }`;
    // The page operation is cacheable: its third request is a fast-path hit.
    const page = [];
    for (let i = 0; i < 3; i++) page.push(await g.post({ query, operationName: 'Page' }));
    expect(await g.fast(page[2]!.id)).toBe(true);
    // The health operation of the same document is executed every time.
    for (let i = 0; i < 3; i++) {
      const r = await g.post({ query, operationName: 'Health' });
      expect(JSON.parse(r.text).data.sources.length).toBeGreaterThan(0);
      expect([i, await g.fast(r.id)]).toEqual([i, false]);
    }
  });
});
