import { createMemoryCoordination, MEMORY_SEEN_KEYS_MAX } from '../../src/live/coordination';
import { createMemoryIdempotencyStore, IDEMPOTENCY_MEMORY_MAX_KEYS } from '../../src/server/idempotency';
import { createLogger } from '../../src/server/logger';
import { createGatewayMetrics } from '../../src/server/metrics';
import { createMemoryPersistedQueryCache, PERSISTED_MEMORY_MAX_QUERIES } from '../../src/server/persisted';

/**
 * Issue 12 item 18: every in-memory store is bounded by size as well as by age, and reports its size. Each store
 * here takes many more inserts than its bound and holds exactly the bound, the least recently used forgotten.
 */

/** Collects the size probes a store registers, as the metrics do. */
function sizes() {
  const probes = new Map<string, () => number>();
  return { track: (store: string, size: () => number) => probes.set(store, size), of: (s: string) => probes.get(s)!() };
}

describe('in-memory stores are bounded by count', () => {
  it('idempotency keeps at most maxKeys results, forgetting the least recently used', async () => {
    const s = sizes();
    const store = createMemoryIdempotencyStore(86_400_000, { maxKeys: 100, trackSize: s.track });
    let calls = 0;
    const run = (key: string) => store.run(key, 'f', async () => ++calls);
    for (let i = 0; i < 1000; i++) await run(`k${i}`);
    expect(calls).toBe(1000);
    expect(s.of('idempotency')).toBe(100);
    // The newest 100 are remembered (no call), the older ones are forgotten (a new call each).
    await expect(run('k999')).resolves.toBe(1000);
    await expect(run('k900')).resolves.toBe(901);
    expect(calls).toBe(1000);
    await expect(run('k0')).resolves.toBe(1001);
    expect(s.of('idempotency')).toBe(100);
  });

  it('idempotency results still expire by age within the bound', async () => {
    const s = sizes();
    const store = createMemoryIdempotencyStore(30, { maxKeys: 100, trackSize: s.track });
    let calls = 0;
    await store.run('k', 'f', async () => ++calls);
    await expect(store.run('k', 'f', async () => ++calls)).resolves.toBe(1);
    await new Promise((r) => setTimeout(r, 60));
    await expect(store.run('k', 'f', async () => ++calls)).resolves.toBe(2);
  });

  it('webhook event ids and delivery keys: at most maxSeenKeys, the least recently claimed forgotten', async () => {
    const s = sizes();
    const c = createMemoryCoordination({ maxSeenKeys: 100, trackSize: s.track });
    const keys = Array.from({ length: 1000 }, (_, i) => `chatwoot:e${i}`);
    expect(await c.firstSeen(keys, 86_400_000)).toEqual(keys.map(() => true));
    expect(s.of('live_seen_events')).toBe(100);
    expect(await c.firstSeen(['chatwoot:e999', 'chatwoot:e900', 'chatwoot:e899', 'chatwoot:e0'], 86_400_000)).toEqual([
      false,
      false,
      true,
      true,
    ]);
    expect(s.of('live_seen_events')).toBe(100);
    await c.close();
  });

  it('persisted queries: at most maxQueries', async () => {
    const s = sizes();
    const cache = createMemoryPersistedQueryCache({ maxQueries: 100, trackSize: s.track });
    for (let i = 0; i < 1000; i++) await cache.set(`apq:${i}`, `{ q${i} }`, { ttl: 86_400 });
    expect(s.of('persisted_queries')).toBe(100);
    expect(await cache.get('apq:999')).toBe('{ q999 }');
    expect(await cache.get('apq:0')).toBeUndefined();
  });

  it('the defaults are bounds', () => {
    expect([IDEMPOTENCY_MEMORY_MAX_KEYS, MEMORY_SEEN_KEYS_MAX, PERSISTED_MEMORY_MAX_QUERIES]).toEqual([
      10_000, 50_000, 10_000,
    ]);
  });

  it('the default bound holds for idempotency (10,000 keys)', async () => {
    const s = sizes();
    const store = createMemoryIdempotencyStore(undefined, { trackSize: s.track });
    for (let i = 0; i < 12_000; i++) await store.run(`k${i}`, 'f', async () => i);
    expect(s.of('idempotency')).toBe(10_000);
  });

  it('the default bound holds for webhook event ids (50,000 keys)', async () => {
    const s = sizes();
    const c = createMemoryCoordination({ trackSize: s.track });
    await c.firstSeen(
      Array.from({ length: 60_000 }, (_, i) => `s:${i}`),
      86_400_000,
    );
    expect(s.of('live_seen_events')).toBe(50_000);
    await c.close();
  });
});

describe('switchboard_memory_store_entries', () => {
  it('reports each tracked store by name, read at scrape time', async () => {
    const metrics = createGatewayMetrics({
      connectors: [],
      logger: createLogger({ level: 'silent' }),
      defaultMetrics: false,
    });
    const store = createMemoryIdempotencyStore(undefined, { maxKeys: 5, trackSize: metrics.trackStore });
    const c = createMemoryCoordination({ trackSize: metrics.trackStore });
    for (let i = 0; i < 8; i++) await store.run(`k${i}`, 'f', async () => i);
    await c.firstSeen(['s:a', 's:b', 's:a'], 1000);
    const body = (await metrics.render()).body;
    expect(body).toContain('# TYPE switchboard_memory_store_entries gauge');
    expect(body).toContain('switchboard_memory_store_entries{store="idempotency"} 5');
    expect(body).toContain('switchboard_memory_store_entries{store="live_seen_events"} 2');
    await c.close();
  });
});
