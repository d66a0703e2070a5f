import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * Issue 12 item 12 (search): `filter.search` is bounded (256 characters) before any source is asked; a 900 KB
 * search once went into Chatwoot's URL and came back 431.
 */
describe('filter.search is bounded for every source', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t.close();
  });

  const query = `query($s: String) { conversations(first: 5, filter: { search: $s }) { edges { node { id } } } }`;
  const upstream = () => [...t.embedded.sandbox.emulators.values()].reduce((n, e) => n + e.requests().length, 0);
  const clear = () => {
    for (const e of t.embedded.sandbox.emulators.values()) e.clearRequests();
  };

  it('a search over 256 characters is BAD_USER_INPUT with no upstream request', async () => {
    for (const s of ['x'.repeat(257), 'y'.repeat(900 * 1024)]) {
      clear();
      const r = await t.gql(query, { s });
      expect(r.body.data?.conversations ?? null).toBeNull();
      expect(r.body.errors?.map((e) => e.extensions)).toEqual([
        { code: 'BAD_USER_INPUT', field: 'filter.search', maxLength: 256 },
      ]);
      expect(upstream()).toBe(0);
    }
  });

  it('a search of exactly 256 characters is still asked of the sources', async () => {
    clear();
    const r = await t.gql(query, { s: 'z'.repeat(256) });
    expect(r.body.errors ?? []).toEqual([]);
    expect(r.body.data?.conversations).toEqual({ edges: [] });
  });
});
