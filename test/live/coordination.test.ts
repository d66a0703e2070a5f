import { Redis } from 'ioredis';
import { createMemoryCoordination, createRedisCoordination, type LiveCoordination } from '../../src/live/coordination';
import { deleteKeys } from '../utils/redis';
import { eventually, measure, randomPrefix, REDIS_URL, sleep } from './helpers';

type Backend = 'in memory' | 'Redis';

/**
 * One suite, both backends: what one instance sees of its own leases, seen keys, totals and clock must be the same
 * in memory and through Redis (the server picks one by configuration). What instances agree on through Redis
 * is the second suite.
 */
describe.each<Backend>(['in memory', 'Redis'])('live coordination %s', (backend) => {
  const clients: Redis[] = [];
  const coordinators: LiveCoordination[] = [];
  let prefix: string;
  const make = (): LiveCoordination => {
    let c: LiveCoordination;
    if (backend === 'Redis') {
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      clients.push(redis);
      c = createRedisCoordination(redis, prefix);
    } else c = createMemoryCoordination();
    coordinators.push(c);
    return c;
  };
  beforeEach(() => {
    prefix = randomPrefix('coord');
  });
  afterEach(async () => {
    await Promise.allSettled(coordinators.splice(0).map((c) => c.close()));
    await Promise.allSettled(clients.splice(0).map((r) => r.quit()));
  });

  it('grants a free lease, confirms it to its holder, and gives it up on release', async () => {
    const c = make();
    expect(c.leases.holds('poll:x')).toBe(false);
    expect(await c.leases.acquire('poll:x', 2000)).toBe(true);
    expect(await c.leases.acquire('poll:x', 2000)).toBe(true);
    expect(c.leases.holds('poll:x')).toBe(true);
    expect(c.leases.holds('poll:y')).toBe(false);
    await c.leases.release('poll:x');
    expect(c.leases.holds('poll:x')).toBe(false);
    expect(await c.leases.acquire('poll:x', 2000)).toBe(true);
  });

  it('releases every lease it holds on close', async () => {
    const c = make();
    expect(await c.leases.acquire('poll:x', 2000)).toBe(true);
    expect(await c.leases.acquire('poll:y', 2000)).toBe(true);
    await c.close();
    expect(c.leases.holds('poll:x')).toBe(false);
    expect(c.leases.holds('poll:y')).toBe(false);
    const next = make();
    expect(await next.leases.acquire('poll:x', 2000)).toBe(true);
  });

  it('says a key is new once within its time to live, and again after it', async () => {
    const c = make();
    expect(await c.firstSeen([], 1000)).toEqual([]);
    expect(await c.firstSeen(['s:e1', 's:e2', 's:e1'], 86_400_000)).toEqual([true, true, false]);
    expect(await c.firstSeen(['s:e2', 's:e3'], 86_400_000)).toEqual([false, true]);
    expect(await c.firstSeen(['s:short'], 50)).toEqual([true]);
    await eventually(async () => expect(await c.firstSeen(['s:short'], 50)).toEqual([true]), 2000, 25);
  });

  it('records unread totals as first, same, changed or stale', async () => {
    const c = make();
    expect(await c.recordUnread('s', '[1,1]', 100)).toBe('first');
    expect(await c.recordUnread('s', '[1,1]', 110)).toBe('same');
    expect(await c.recordUnread('s', '[2,1]', 120)).toBe('changed');
    expect(await c.recordUnread('s', '[1,1]', 115)).toBe('stale'); // a slow read that started earlier
    expect(await c.recordUnread('s', '[2,1]', 120)).toBe('same'); // as old as the recorded one: not stale
    expect(await c.recordUnread('other', '[2,1]', 1)).toBe('first'); // per source
  });

  it('tells the time in epoch ms, never going back', async () => {
    const c = make();
    const a = await c.now();
    const b = await c.now();
    expect(b).toBeGreaterThanOrEqual(a);
    expect(Math.abs(a - Date.now())).toBeLessThan(60_000);
  });
});

/** Leases, seen event ids and last published totals across instances (two coordinators on one Redis). */
describe('live coordination across instances through Redis', () => {
  let prefix: string;
  const clients: Redis[] = [];
  const coordinators: LiveCoordination[] = [];
  const instance = () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    clients.push(redis);
    const c = createRedisCoordination(redis, prefix);
    coordinators.push(c);
    return { redis, c };
  };
  beforeEach(() => {
    prefix = randomPrefix('coord');
  });
  afterEach(async () => {
    await Promise.allSettled(coordinators.splice(0).map((c) => c.close()));
    await Promise.allSettled(clients.splice(0).map((r) => (r.status === 'end' ? undefined : r.quit())));
  });

  it('grants a lease to one instance at a time and hands it over on release', async () => {
    const a = instance();
    const b = instance();
    expect(await a.c.leases.acquire('poll:x', 2000)).toBe(true);
    expect(await b.c.leases.acquire('poll:x', 2000)).toBe(false);
    expect(await a.c.leases.acquire('poll:x', 2000)).toBe(true); // the holder confirms (and renews) it
    expect(a.c.leases.holds('poll:x')).toBe(true);
    expect(b.c.leases.holds('poll:x')).toBe(false);
    await a.c.leases.release('poll:x');
    expect(await b.c.leases.acquire('poll:x', 2000)).toBe(true);
    expect(await a.c.leases.acquire('poll:x', 2000)).toBe(false);
  });

  it('keeps a lease alive past its time to live while the holder lives (background renewal)', async () => {
    const a = instance();
    const b = instance();
    expect(await a.c.leases.acquire('poll:x', 300)).toBe(true);
    await sleep(1000);
    expect(await b.c.leases.acquire('poll:x', 300)).toBe(false);
    expect(await a.redis.pttl(`${prefix}live:lease:poll:x`)).toBeGreaterThan(0);
  });

  it('lets the lease of a holder that died expire, and another instance takes it within the lease time', async () => {
    const a = instance();
    const b = instance();
    const ttl = 1000;
    expect(await a.c.leases.acquire('poll:x', ttl)).toBe(true);
    // The holder dies: its connection drops without a release, so nothing renews the lease any more.
    a.redis.disconnect();
    const died = Date.now();
    expect(await b.c.leases.acquire('poll:x', ttl)).toBe(false);
    // Within the lease time (the wait's timeout, with slack for a loaded machine).
    await eventually(async () => expect(await b.c.leases.acquire('poll:x', ttl)).toBe(true), ttl + 500, 25);
    const handover = Date.now() - died;
    measure('lease takeover after the holder died (ttl 1000 ms, checked every 25 ms)', handover, 'ms');
  });

  it('applies an event id once across instances, for a day', async () => {
    const a = instance();
    const b = instance();
    expect(await a.c.firstSeen(['s:e1', 's:e2'], 86_400_000)).toEqual([true, true]);
    expect(await b.c.firstSeen(['s:e2', 's:e3', 's:e1'], 86_400_000)).toEqual([false, true, false]);
    expect(await a.redis.pttl(`${prefix}live:event:s:e3`)).toBeGreaterThan(86_000_000);
  });

  it('records unread totals once per change, and drops reads older than the recorded one', async () => {
    const a = instance();
    const b = instance();
    expect(await a.c.recordUnread('s', '[1,1]', 100)).toBe('first');
    expect(await b.c.recordUnread('s', '[1,1]', 110)).toBe('same');
    expect(await b.c.recordUnread('s', '[2,1]', 120)).toBe('changed');
    expect(await a.c.recordUnread('s', '[2,1]', 130)).toBe('same'); // the other instance published it already
    expect(await a.c.recordUnread('s', '[1,1]', 115)).toBe('stale'); // a slow read that started earlier
    expect(await b.c.recordUnread('s', '[3,2]', 140)).toBe('changed');
    // Reads are stamped on Redis's clock, which every instance shares.
    const [ta, tb] = [await a.c.now(), await b.c.now()];
    expect(tb).toBeGreaterThanOrEqual(ta);
    expect(Math.abs(ta - Date.now())).toBeLessThan(60_000);
  });
});

/** A Redis health stand-in that the test turns down and up (server/redisHealth.ts is the gateway's). */
function switchableHealth() {
  let down = false;
  const listeners = new Set<(up: boolean) => void>();
  return {
    isDown: () => down,
    guard: async <T>(run: () => Promise<T>, fallback: () => T | Promise<T>): Promise<T> => (down ? fallback() : run()),
    onChange(l: (up: boolean) => void) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    set(isDown: boolean) {
      down = isDown;
      for (const l of listeners) l(!isDown);
    },
  };
}

/** The keys under a prefix (SCAN, not KEYS). */
async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

describe('live coordination while Redis is down (issue 12 item 2)', () => {
  let prefix: string;
  const clients: Redis[] = [];
  const coordinators: LiveCoordination[] = [];
  const instance = () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    const health = switchableHealth();
    const c = createRedisCoordination(redis, prefix, { health, maxSeenKeys: 100 });
    clients.push(redis);
    coordinators.push(c);
    return { redis, health, c };
  };
  beforeEach(() => {
    prefix = randomPrefix('coord-down');
  });
  afterEach(async () => {
    await Promise.allSettled(coordinators.splice(0).map((c) => c.close()));
    if (clients[0]) await deleteKeys(clients[0], prefix);
    await Promise.allSettled(clients.splice(0).map((r) => r.quit()));
  });

  it('claims event ids locally (each instance on its own), and writes nothing to Redis', async () => {
    const a = instance();
    const b = instance();
    a.health.set(true);
    b.health.set(true);
    expect(await a.c.firstSeen(['s:e1', 's:e2'], 60_000)).toEqual([true, true]);
    expect(await a.c.firstSeen(['s:e1'], 60_000)).toEqual([false]); // a redelivery to this instance: dropped
    expect(await b.c.firstSeen(['s:e1'], 60_000)).toEqual([true]); // another instance cannot know
    expect(await keysUnder(a.redis, prefix)).toEqual([]);
    // Back up: Redis again (the local claims are not in it).
    a.health.set(false);
    expect(await a.c.firstSeen(['s:e1'], 60_000)).toEqual([true]);
    expect(await b.c.firstSeen(['s:e1'], 60_000)).toEqual([false]);
  });

  it('grants every lease locally, and goes through Redis again once it is back', async () => {
    const a = instance();
    const b = instance();
    expect(await a.c.leases.acquire('poll:x', 5_000)).toBe(true);
    a.health.set(true);
    b.health.set(true);
    expect(await b.c.leases.acquire('poll:x', 5_000)).toBe(true); // each instance polls for itself
    expect(b.c.leases.holds('poll:x')).toBe(true);
    b.health.set(false);
    expect(await b.c.leases.acquire('poll:x', 5_000)).toBe(false); // a holds it in Redis
    expect(b.c.leases.holds('poll:x')).toBe(false);
  });

  it('records unread totals and tells the time locally', async () => {
    const a = instance();
    a.health.set(true);
    expect(await a.c.recordUnread('s', '[1,1]', 100)).toBe('first');
    expect(await a.c.recordUnread('s', '[2,1]', 110)).toBe('changed');
    expect(await a.c.recordUnread('s', '[1,1]', 105)).toBe('stale');
    expect(Math.abs((await a.c.now()) - Date.now())).toBeLessThan(1_000);
    expect(await keysUnder(a.redis, prefix)).toEqual([]);
  });
});
