import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CatalogSync, ConversationCatalog } from '../../../src/connectors/catalog';
import {
  AdmissionRefused,
  BACKGROUND_TENANT,
  FairShare,
  tenantOf,
  type Refusal,
} from '../../../src/connectors/fairShare';
import { HttpClient } from '../../../src/connectors/http';
import { catalogStores, conversationModel } from '../../utils/catalog-stores';
import { rejection } from '../../utils/errors';
import { waitFor } from '../../utils/wait';

/**
 * The fair admission of one source's upstream calls (connectors/fairShare.ts): free slots go round-robin between
 * tenants (API keys, the background), and the last slots of the rate window are kept for tenants that have used
 * little of it. Clock-driven cases use an injected clock; none asserts a duration.
 */

/** The refusal a rejected acquire carries (fails the test on admission or any other error). */
async function refusal(p: Promise<unknown>): Promise<Refusal> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AdmissionRefused) return e.refusal;
    throw e;
  }
  throw new Error('expected a refusal, the call was admitted');
}

/** Acquires `n` slots for `tenant` without waiting and releases each at once; returns how many were admitted. */
async function takeAll(f: FairShare, tenant: string, n: number): Promise<number> {
  let admitted = 0;
  for (let i = 0; i < n; i++) {
    try {
      const release = await f.acquire(tenant, 0);
      release();
      admitted++;
    } catch (e) {
      if (!(e instanceof AdmissionRefused)) throw e;
    }
  }
  return admitted;
}

describe('FairShare', () => {
  it('serves waiting tenants in turn: one key with many calls queued does not push another key back', async () => {
    const f = new FairShare({ maxConcurrency: 1, rate: null, maxQueued: 100 });
    const order: string[] = [];
    const first = await f.acquire('a', 1000);
    const calls = [
      ...Array.from({ length: 5 }, (_, i) => ({ tenant: 'a', i })),
      { tenant: 'b', i: 0 },
      { tenant: 'c', i: 0 },
    ].map(({ tenant, i }) =>
      f.acquire(tenant, 5000).then((release) => {
        order.push(`${tenant}${i}`);
        release();
      }),
    );
    expect(f.state).toMatchObject({ inFlight: 1, queued: 7 });
    first();
    await Promise.all(calls);
    // a was served last (its first call), so b and c go before a's queued calls, then a's in order.
    expect(order).toEqual(['b0', 'c0', 'a0', 'a1', 'a2', 'a3', 'a4']);
  });

  it('keeps the last slots of the window for light keys: a heavy key stops at limit - reserve', async () => {
    let now = 1_000_000;
    const f = new FairShare({
      maxConcurrency: 10,
      rate: { limit: 60, windowMs: 60_000 },
      keyReserve: 0.25,
      maxQueued: 100,
      now: () => now,
    });
    expect(f.reserve).toBe(15);
    expect(f.lightMax).toBe(7);
    expect(await takeAll(f, 'heavy', 70)).toBe(45);
    const refused = await refusal(f.acquire('heavy', 0));
    expect(refused).toEqual({ kind: 'share', used: 45, retryAfterMs: 60_000 });
    // Another key finds the reserve, up to lightMax; a third key the rest.
    expect(await takeAll(f, 'b', 10)).toBe(7);
    expect(await takeAll(f, 'c', 10)).toBe(7);
    expect(await takeAll(f, 'd', 10)).toBe(1);
    expect(await refusal(f.acquire('e', 0))).toEqual({ kind: 'rate', retryAfterMs: 60_000 });
    expect(f.state.sentInWindow).toBe(60);
    // The window slides: once the heavy key's admissions leave it, it may go again.
    now += 60_000;
    expect(f.used('heavy')).toBe(0);
    expect(await takeAll(f, 'heavy', 1)).toBe(1);
  });

  it('says how long a refused key waits: until enough of its own or others’ admissions leave the window', async () => {
    let now = 0;
    const f = new FairShare({
      maxConcurrency: 10,
      rate: { limit: 4, windowMs: 1000 },
      keyReserve: 0.5,
      maxQueued: 100,
      now: () => now,
    });
    // reserve 2, light below 1: a takes 2 (at 0 and 100), then only the reserve is free.
    expect(await takeAll(f, 'a', 1)).toBe(1);
    now = 100;
    expect(await takeAll(f, 'a', 5)).toBe(1);
    now = 200;
    expect(await refusal(f.acquire('a', 0))).toEqual({ kind: 'share', used: 2, retryAfterMs: 800 });
    expect(await takeAll(f, 'b', 5)).toBe(1);
    expect(await takeAll(f, 'c', 5)).toBe(1);
    // Full: a's first admission leaving (at 1000) frees a slot, but only a reserve one, and a is still heavy
    // (1 admission, lightMax 1); its second leaving (at 1100) lets it in.
    expect(await refusal(f.acquire('a', 0))).toEqual({ kind: 'rate', retryAfterMs: 900 });
    expect(await refusal(f.acquire('d', 0))).toEqual({ kind: 'rate', retryAfterMs: 800 });
  });

  it('turns the reserve off with keyReserve 0: one key may use the whole window', async () => {
    const f = new FairShare({ maxConcurrency: 1, rate: { limit: 5, windowMs: 60_000 }, keyReserve: 0, maxQueued: 10 });
    expect(await takeAll(f, 'a', 10)).toBe(5);
  });

  it('admits a waiting call once the window frees a slot for it, before a heavier key', async () => {
    const f = new FairShare({ maxConcurrency: 4, rate: { limit: 2, windowMs: 100 }, keyReserve: 0, maxQueued: 10 });
    expect(await takeAll(f, 'a', 2)).toBe(2);
    const order: string[] = [];
    const waiting = [f.acquire('a', 5000), f.acquire('a', 5000), f.acquire('b', 5000)].map((p, i) =>
      p.then((release) => {
        order.push(i === 2 ? 'b' : 'a');
        release();
      }),
    );
    await Promise.all(waiting);
    // b had not been served: it gets the first slot the window frees.
    expect(order[0]).toBe('b');
    expect(order).toHaveLength(3);
  });

  it('refuses a call that waited its whole budget for a concurrency slot, and one past the queue bound', async () => {
    const f = new FairShare({ maxConcurrency: 1, rate: null, maxQueued: 1 });
    const held = await f.acquire('a', 1000);
    const waited = f.acquire('b', 20);
    expect(await refusal(f.acquire('c', 1000))).toEqual({ kind: 'queue', retryAfterMs: 1000 });
    expect(await refusal(waited)).toEqual({ kind: 'concurrency', retryAfterMs: 20 });
    expect(f.state).toMatchObject({ inFlight: 1, queued: 0 });
    held();
    held(); // a second release is ignored
    expect(f.state.inFlight).toBe(0);
  });

  it('gives up a wait when its signal aborts, taking nothing', async () => {
    const f = new FairShare({ maxConcurrency: 1, rate: { limit: 10, windowMs: 60_000 }, maxQueued: 10 });
    const held = await f.acquire('a', 1000);
    const c = new AbortController();
    const waiting = f.acquire('b', 5000, c.signal);
    c.abort(new Error('client gone'));
    await expect(waiting).rejects.toThrow('client gone');
    expect(f.state).toMatchObject({ inFlight: 1, queued: 0, sentInWindow: 1 });
    expect(f.used('b')).toBe(0);
    held();
    const next = await f.acquire('b', 1000);
    next();
    await waitFor(() => f.state.inFlight === 0, { timeoutMs: 1000, what: 'the slot released' });
  });
});

describe('tenants', () => {
  it("charges a catalog sync to the background, whichever key's operation started it", async () => {
    const stores = catalogStores('in memory');
    try {
      const tenants: Record<string, string> = {};
      const sync = new CatalogSync(new ConversationCatalog(stores.instance(), 's', 60_000), {
        readAll: async (scope, cache: string) => {
          tenants.readAll = tenantOf(scope);
          tenants.cache = cache;
          return [conversationModel('a')];
        },
        readOne: async () => null,
        cache: (scope) => tenantOf(scope),
      });
      await sync.all({ requestId: 'r1', tenant: 'key-a' });
      // The sync's pages are the background's; the operation's own cache (its loaders) stays the key's.
      expect(tenants).toEqual({ readAll: BACKGROUND_TENANT, cache: 'key-a' });
      await sync.resync({ requestId: 'r2', tenant: 'key-b' });
      expect(tenants.readAll).toBe(BACKGROUND_TENANT);
    } finally {
      await stores.close();
    }
  });
});

describe("HttpClient: each scope's tenant has its share", () => {
  let server: Server;
  let base: string;
  let hits = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('refuses a heavy key its last slots without marking the source degraded; other keys and the background go on', async () => {
    // 8 a minute: 2 kept for light tenants (fewer than 1 admission).
    const c = new HttpClient({ sourceId: 'src', baseUrl: base, rateLimitPerMinute: 8, keyReserve: 0.25 });
    const a = { requestId: 'a', tenant: 'key-a' };
    for (let i = 0; i < 6; i++) await c.get(a, '/x');
    const refused = await rejection(c.get(a, '/x'));
    expect(refused.extensions).toMatchObject({ code: 'SOURCE_RATE_LIMITED', source: 'src', retryAfter: 61 });
    expect(refused.message).toBe(
      'Source "src" allows 8 requests a minute; 6 of them went to the same API key, and the last 2 are kept for other keys; no call was made.',
    );
    expect(c.health().status).toBe('UP');
    await c.get({ requestId: 'b', tenant: 'key-b' }, '/x');
    await c.get({ requestId: 'poll' }, '/x'); // the background
    const full = await rejection(c.get({ requestId: 'c', tenant: 'key-c' }, '/x'));
    expect(full.message).toMatch(/allows 8 requests a minute and the gateway has used them/);
    expect(c.health().status).toBe('DEGRADED');
    expect(hits).toBe(8);
  });
});
