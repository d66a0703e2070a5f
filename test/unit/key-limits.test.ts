import { createHash } from 'node:crypto';
import type { ApiKeyConfig, Config } from '../../src/config/schema';
import { parseConfig } from '../../src/config/load';
import { GatewayError } from '../../src/errors';
import type { Viewer } from '../../src/schema/context';
import { KeyLimits } from '../../src/server/keyLimits';
import { thrown } from '../utils/errors';

/** The per-key limits (server/keyLimits.ts) with a fake clock: what each refusal says, and how defaults layer. */
const hash = (k: string) => createHash('sha256').update(k).digest('hex');
const key = (name: string, limits?: ApiKeyConfig['limits']) => ({
  name,
  sha256: hash(name),
  sources: ['*'],
  ...(limits ? { limits } : {}),
});
const viewer = (name: string): Viewer => ({ keyName: name, keyId: hash(name), sourceIds: new Set() });

function config(keyLimits: Record<string, unknown> | undefined, keys: ReturnType<typeof key>[]): Config {
  return parseConfig(
    {
      server: keyLimits ? { keyLimits } : {},
      sources: [{ id: 'm', kind: 'MONICA', baseUrl: 'http://127.0.0.1:1/api', credentials: { token: 't' } }],
      apiKeys: keys,
    },
    {},
  );
}

describe('KeyLimits', () => {
  it('layers a key’s own limits over server.keyLimits over the defaults; null lifts a limit', () => {
    const l = new KeyLimits(
      config({ operationsPerMinute: 100, subscriptionsPerKey: 7 }, [
        key('plain'),
        key('own', { operationsPerMinute: 5, concurrentOperations: null }),
      ]),
    );
    expect(l.limitsOf(hash('plain'))).toEqual({
      operationsPerMinute: 100,
      concurrentOperations: 20,
      subscriptionsPerSocket: 100,
      subscriptionsPerKey: 7,
    });
    expect(l.limitsOf(hash('own'))).toEqual({
      operationsPerMinute: 5,
      concurrentOperations: null,
      subscriptionsPerSocket: 100,
      subscriptionsPerKey: 7,
    });
  });

  it('refuses past operationsPerMinute with retryAfter until the oldest operation leaves the minute', () => {
    let now = 1_000_000;
    const l = new KeyLimits(config({ operationsPerMinute: 3 }, [key('a'), key('b')]), () => now);
    l.admit(viewer('a'), 'query').release();
    now += 10_000;
    l.admit(viewer('a'), 'query').release();
    l.admit(viewer('a'), 'subscription').release();
    now += 5_000;
    const e = thrown(() => l.admit(viewer('a'), 'mutation'));
    expect(e.extensions).toEqual({ code: 'LIMIT_EXCEEDED', limit: 'operationsPerMinute', max: 3, retryAfter: 45 });
    expect(e.message).toBe('This API key started 3 operations within a minute, the most allowed; retry in 45 s.');
    // A refusal counts nothing; another key has its own minute.
    expect(l.usage(hash('a')).operationsInMinute).toBe(3);
    l.admit(viewer('b'), 'query');
    now += 45_000;
    l.admit(viewer('a'), 'query');
  });

  it('adds HTTP 429 and a Retry-After header for HTTP', () => {
    const l = new KeyLimits(config({ operationsPerMinute: 1 }, [key('a')]), () => 0);
    l.admit(viewer('a'), 'query', { http: true });
    const e = thrown(() => l.admit(viewer('a'), 'query', { http: true }));
    expect(e.extensions.http).toEqual({ status: 429, headers: new Map([['retry-after', '60']]) });
  });

  it('counts queries and mutations running at once until released', () => {
    const l = new KeyLimits(config({ concurrentOperations: 2 }, [key('a')]));
    const one = l.admit(viewer('a'), 'query');
    l.admit(viewer('a'), 'mutation');
    expect(thrown(() => l.admit(viewer('a'), 'query')).extensions).toMatchObject({
      limit: 'concurrentOperations',
      max: 2,
      retryAfter: 1,
    });
    // Subscriptions do not run "at once": they have their own limits.
    l.admit(viewer('a'), 'subscription');
    one.release();
    one.release();
    expect(l.usage(hash('a')).running).toBe(1);
    l.admit(viewer('a'), 'query');
  });

  it('counts subscriptions per socket and per key until released', () => {
    const l = new KeyLimits(config({ subscriptionsPerSocket: 2, subscriptionsPerKey: 3 }, [key('a')]));
    const s1 = {};
    const s2 = {};
    const first = l.admit(viewer('a'), 'subscription', { socket: s1 });
    l.admit(viewer('a'), 'subscription', { socket: s1 });
    const perSocket = thrown(() => l.admit(viewer('a'), 'subscription', { socket: s1 }));
    expect(perSocket).toBeInstanceOf(GatewayError);
    expect(perSocket.extensions).toEqual({
      code: 'LIMIT_EXCEEDED',
      limit: 'subscriptionsPerSocket',
      max: 2,
      retryAfter: 30,
    });
    l.admit(viewer('a'), 'subscription', { socket: s2 });
    expect(thrown(() => l.admit(viewer('a'), 'subscription', { socket: s2 })).extensions).toMatchObject({
      limit: 'subscriptionsPerKey',
      max: 3,
    });
    first.release();
    expect(l.socketUsage(s1)).toBe(1);
    l.admit(viewer('a'), 'subscription', { socket: s2 });
    expect(l.usage(hash('a')).subscriptions).toBe(3);
  });
});
