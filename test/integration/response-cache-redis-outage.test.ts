import { Writable } from 'node:stream';
import type { Config } from '../../src/config/schema';
import { createGateway, type Gateway } from '../../src/server/createGateway';
import { createLogger } from '../../src/server/logger';
import { responseCacheFromConfig } from '../../src/server/responseCache';
import { SANDBOX_API_KEY, startEmbedded, type Embedded } from '../../src/sandbox/embedded';
import { cacheOutageFixture } from '../utils/cacheOutage';
import { randomPrefix } from '../utils/redis';
import { startThrowawayRedis, stopRedis, type ThrowawayRedis } from '../utils/redis-global-setup';
import { eventually } from '../utils/wait';

/**
 * The response cache during a Redis outage (README "Response cache", the read cache's promise): while Redis is down
 * other instances' changes cannot reach this instance, so no source is trusted, and an answer is served at most
 * `cache.ttlMs`; answers executed before Redis came back keep to that TTL too.
 */

const TTL = 1_000;
const INBOX = `{ conversations(first: 10) { nodes { id lastMessage { content } } } }`;

describe('the response cache while Redis is down (a killed redis-server)', () => {
  let redis: ThrowawayRedis;
  let embedded: Embedded;
  let gateway: Gateway;
  let now = Date.now();

  const inbox = async () => {
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SANDBOX_API_KEY}` },
      body: JSON.stringify({ query: INBOX }),
    });
    return (await res.json()) as { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> };
  };
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  beforeAll(async () => {
    redis = await startThrowawayRedis();
    // Chatwoot alone: its webhook is configured, so its answers are trusted for its catalog age (10 minutes) while
    // this instance hears every change.
    embedded = await startEmbedded({ kinds: ['CHATWOOT'], port: 0, scale: 1, rateLimitPerMinute: 1_000_000 });
    const config: Config = {
      ...embedded.config,
      redis: { url: redis.url, keyPrefix: randomPrefix('response-cache-outage'), commandTimeoutMs: 10_000 },
      cache: { ttlMs: TTL, responses: { enabled: true } },
    };
    const logger = createLogger({ level: 'fatal', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    gateway = await createGateway({ config, clock: () => now, logger, production: true });
    embedded.sandbox.setWebhookBase(gateway.url);
  });
  afterAll(async () => {
    await gateway?.close();
    await embedded?.sandbox.close();
    if (redis) await stopRedis(redis);
  });

  it('serves an answer past the TTL while Redis is up, and not once Redis is down', async () => {
    // Once the cache's subscriptions are live, an answer executed after that is trusted past the TTL.
    await eventually(async () => {
      now += 1;
      expect((await inbox()).errors).toBeUndefined();
      now += TTL + 1;
      const hits = await metric('switchboard_response_cache_hits_total');
      await inbox();
      expect(await metric('switchboard_response_cache_hits_total')).toBe(hits + 1);
    });
    // Stored within the TTL of the check above, and older than the TTL from here on.
    now += TTL + 1;
    const exited = new Promise<void>((resolve) => redis.child.once('exit', () => resolve()));
    redis.child.kill('SIGKILL');
    await exited;
    await eventually(async () => expect(await metric('switchboard_redis_up')).toBe(0), { timeoutMs: 10_000 });
    const hits = await metric('switchboard_response_cache_hits_total');
    const misses = await metric('switchboard_response_cache_misses_total');
    const answer = await inbox();
    // Executed again, with the outage's warning; not the stored answer.
    expect(answer.errors?.map((e) => e.extensions?.code)).toContain('REDIS_UNAVAILABLE');
    expect(await metric('switchboard_response_cache_hits_total')).toBe(hits);
    expect(await metric('switchboard_response_cache_misses_total')).toBe(misses + 1);
  });
});

describe('responseCacheFromConfig and Redis health', () => {
  it('trusts nothing while Redis is down, and nothing executed before it came back', async () => {
    let now = 1_000_000;
    const { config, health, live, pubsub, setDown } = cacheOutageFixture({ ttlMs: TTL, responses: { enabled: true } });
    const wired = responseCacheFromConfig(config, { live, pubsub, health, now: () => now })!;
    const { cache } = wired;
    const store = (k: string) => cache.set(k, ['cw'], { k }, cache.ticket());
    try {
      await eventually(() => {
        now += 1;
        store('up');
        now += TTL + 1;
        expect(cache.get('up')).toEqual({ k: 'up' });
      });
      setDown(true);
      // Past the TTL: not served while Redis is down.
      expect(cache.get('up')).toBeUndefined();
      store('down');
      now += 1;
      setDown(false);
      now += 1;
      // Executed while Redis was down: within the TTL only.
      expect(cache.get('down')).toEqual({ k: 'down' });
      now += TTL;
      expect(cache.get('down')).toBeUndefined();
      // Executed after Redis came back: trusted past the TTL again.
      now += 1;
      store('back');
      now += TTL + 1;
      expect(cache.get('back')).toEqual({ k: 'back' });
    } finally {
      await wired.close();
      await pubsub.close();
    }
  });
});
