/**
 * What the cache wiring suites share for Redis outages (README "Read cache" and "Response cache": while Redis is
 * down no source is trusted, nor what was read or executed before it came back): a config of one Chatwoot source
 * whose webhook is configured (trusted for its catalog age while the changes are heard), a Redis health whose outage
 * the test switches, a live engine that hears no change, and an in-memory pub/sub (the test closes it).
 */
import { parseConfig } from '../../src/config/load';
import type { LiveEngine } from '../../src/live/engine';
import { createInMemoryPubSub } from '../../src/live/transports/inMemory';
import type { RedisHealth } from '../../src/server/redisHealth';

/** The fixture of a source `cw` (an address nobody answers: nothing here calls it), with `cache` as a config file has it. */
export function cacheOutageFixture(cache: Record<string, unknown>) {
  const config = parseConfig(
    {
      sources: [
        {
          id: 'cw',
          kind: 'CHATWOOT',
          baseUrl: 'http://127.0.0.1:9',
          accountId: 1,
          credentials: { apiAccessToken: 'token' },
          webhookSecret: 'a-secret-of-the-webhook',
        },
      ],
      apiKeys: [{ name: 'k', sha256: '0'.repeat(64), sources: ['*'] }],
      cache,
    },
    {},
  );
  const listeners: Array<(up: boolean) => void> = [];
  let down = false;
  /** Only isDown and onChange: what the caches read of Redis's health. */
  const health = {
    isDown: () => down,
    onChange: (l: (up: boolean) => void) => {
      listeners.push(l);
      return () => undefined;
    },
  } as unknown as RedisHealth;
  const live = { onChange: () => () => undefined, pollingSince: () => null } as unknown as LiveEngine;
  return {
    config,
    health,
    live,
    pubsub: createInMemoryPubSub(),
    /** Redis goes down (`true`) or comes back (`false`): the health's listeners are told. */
    setDown(d: boolean) {
      down = d;
      for (const l of listeners) l(!d);
    },
  };
}
