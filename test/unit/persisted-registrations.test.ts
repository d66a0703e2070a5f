import type { Redis } from 'ioredis';
import { createMemoryPersistedQueryCache, RedisKeyValueCache, RegistrationCounter } from '../../src/server/persisted';

/** Issue 12 item 5: the per-key registration count runs over fixed windows (an injected clock, no waiting). */
describe('RegistrationCounter (in memory)', () => {
  it('allows `max` registrations a key per window, says how long until the next window, and starts again then', async () => {
    let now = 1_000_000 * 60_000 + 15_000; // 15 s into a window of 60 s
    const counter = new RegistrationCounter({ max: 2, windowMs: 60_000 }, () => now);
    expect(await counter.take('a')).toEqual({ ok: true });
    expect(await counter.take('a')).toEqual({ ok: true });
    expect(await counter.take('a')).toEqual({ ok: false, count: 3, retryAfterSeconds: 45 });
    // Another key has its own count.
    expect(await counter.take('b')).toEqual({ ok: true });
    now += 44_500;
    expect(await counter.take('a')).toEqual({ ok: false, count: 4, retryAfterSeconds: 1 });
    now += 500; // the next window
    expect(await counter.take('a')).toEqual({ ok: true });
    expect(await counter.take('a')).toEqual({ ok: true });
    expect((await counter.take('a')).ok).toBe(false);
  });
});

/** A Redis health stand-in that the test turns down and up (server/redisHealth.ts is the gateway's). */
function switchableHealth() {
  let down = false;
  return {
    isDown: () => down,
    guard: async <T>(run: () => Promise<T>, fallback: () => T | Promise<T>): Promise<T> => {
      if (down) return fallback();
      try {
        return await run();
      } catch {
        return fallback();
      }
    },
    onChange: () => () => undefined,
    set(isDown: boolean) {
      down = isDown;
    },
  };
}

/** An ioredis client whose every command fails, counting the commands it was sent. */
function failingRedis() {
  const sent: string[] = [];
  const fail = (name: string) => async () => {
    sent.push(name);
    throw new Error('Connection is closed.');
  };
  const client = { get: fail('get'), set: fail('set'), del: fail('del'), multi: () => ({ exec: fail('multi') }) };
  return { redis: client as unknown as Redis, sent };
}

describe('persisted queries while Redis is down (issue 12 item 2)', () => {
  it("the APQ cache reads and writes this process's cache, without sending a command while Redis is known down", async () => {
    const health = switchableHealth();
    const { redis, sent } = failingRedis();
    const cache = new RedisKeyValueCache(redis, 'p:', 86_400, health, createMemoryPersistedQueryCache());
    health.set(true);
    await cache.set('apq:h1', '{ a }');
    expect(await cache.get('apq:h1')).toBe('{ a }');
    expect(await cache.get('apq:h2')).toBeUndefined(); // registered elsewhere: the client sends the query again
    expect(await cache.delete('apq:h1')).toBe(true);
    expect(sent).toEqual([]);
    // Up but failing: each call falls back too.
    health.set(false);
    await cache.set('apq:h3', '{ b }');
    expect(await cache.get('apq:h3')).toBe('{ b }');
    expect(sent).toEqual(['set', 'get']);
  });

  it('registrations are counted by this process while Redis is down', async () => {
    const health = switchableHealth();
    const { redis, sent } = failingRedis();
    health.set(true);
    const counter = new RegistrationCounter({ max: 1, windowMs: 60_000, redis, prefix: 'p:', health }, () => 0);
    expect(await counter.take('a')).toEqual({ ok: true });
    expect((await counter.take('a')).ok).toBe(false);
    expect(sent).toEqual([]);
  });
});
