import { Writable } from 'node:stream';
import type { Config } from '../../src/config/schema';
import { createGateway, type Gateway } from '../../src/server/createGateway';
import { createLogger } from '../../src/server/logger';
import { SANDBOX_API_KEY, SANDBOX_LIMITED_KEY, startEmbedded, type Embedded } from '../../src/sandbox/embedded';
import { ReadCacheStore } from '../../src/connectors/readCache';
import { CachedSession } from '../../src/connectors/readCache/session';
import type { Connector, ConnectorSession } from '../../src/connectors/types';
import { ReadCacheWiring } from '../../src/server/connectors';
import { cacheOutageFixture } from '../utils/cacheOutage';
import { deleteKeys, randomPrefix, REDIS_URL, redisClients } from '../utils/redis';
import { eventually } from '../utils/wait';
import { createWsClient, subscribe } from '../utils/ws';

/**
 * The read cache (issue 13 target 3, README "Read cache"): message pages, conversation details and participants
 * answered from the cache and dropped by every change the gateway hears of. Upstream requests are counted from
 * the emulators' own logs. The gateways run on a fake clock that stands still unless a test moves it, so an
 * answer can only become fresh again through an invalidation, never because time passed; only the TTL test moves
 * it.
 */

const THREAD = /* GraphQL */ `
  query Thread($id: ID!) {
    conversation(id: $id) {
      id
      subject
      unreadCount
      participants {
        id
        name
      }
      messages(last: 20) {
        edges {
          node {
            id
            content
            sender {
              id
              name
            }
          }
        }
      }
    }
  }
`;
const FIRST = /* GraphQL */ `
  query First($s: [ID!]) {
    conversations(first: 1, filter: { sources: $s }) {
      nodes {
        id
        nativeId
      }
    }
  }
`;
const SEND = /* GraphQL */ `
  mutation Send($id: ID!, $content: String!) {
    sendMessage(input: { conversationId: $id, content: $content }) {
      id
    }
  }
`;

type Thread = {
  conversation: { messages: { edges: Array<{ node: { content: string | null } }> } } | null;
};

interface Instance {
  gateway: Gateway;
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    key?: string,
  ): Promise<{ data?: T; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> }>;
}

const quiet = () =>
  createLogger({
    level: 'warn',
    destination: new Writable({
      write: (_c, _e, cb) => cb(),
    }),
  });

async function startInstance(embedded: Embedded, cache: Config['cache'], clock: () => number, redisPrefix?: string) {
  const config: Config = {
    ...embedded.config,
    // Pixieset polled often, for the test of a watched polling source.
    sources: embedded.config.sources.map((s) => (s.id === 'pixieset' ? { ...s, pollIntervalMs: 200 } : s)),
    cache,
    ...(redisPrefix ? { redis: { url: REDIS_URL, keyPrefix: redisPrefix } } : {}),
  };
  const gateway = await createGateway({ config, clock, logger: quiet(), production: false });
  const instance: Instance = {
    gateway,
    async gql(query, variables, key = SANDBOX_API_KEY) {
      const res = await fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query, variables }),
      });
      return (await res.json()) as never;
    },
  };
  return instance;
}

function upstream(embedded: Embedded): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [id, emu] of embedded.sandbox.emulators) {
    const r = emu.requests().map((x) => `${x.method} ${x.path}`);
    if (r.length > 0) out[id] = r;
  }
  return out;
}
/** A source's requests made for operations, not by the live engine (its request ids are `live-<source>-<n>`). */
const operationRequests = (embedded: Embedded, source: string) =>
  embedded.sandbox.emulators
    .get(source)!
    .requests()
    .filter((r) => !String(r.headers['x-request-id'] ?? '').startsWith('live-'))
    .map((r) => `${r.method} ${r.path}`);
const clearUpstream = (embedded: Embedded) => {
  for (const emu of embedded.sandbox.emulators.values()) emu.clearRequests();
};

async function firstConversation(g: Instance, source: string): Promise<{ id: string; nativeId: string }> {
  const r = await g.gql<{ conversations: { nodes: Array<{ id: string; nativeId: string }> } }>(FIRST, { s: [source] });
  expect(r.errors).toBeUndefined();
  const c = r.data?.conversations.nodes[0];
  if (!c) throw new Error(`no conversation in ${source}`);
  return c;
}

async function thread(g: Instance, id: string): Promise<string[]> {
  const r = await g.gql<Thread>(THREAD, { id });
  expect(r.errors).toBeUndefined();
  return (r.data?.conversation?.messages.edges ?? []).map((e) => e.node.content ?? '');
}

async function metric(g: Instance, name: string, source: string): Promise<number> {
  const text = await (await fetch(`${g.gateway.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{source="${source}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('read cache on one instance', () => {
  let embedded: Embedded;
  let g: Instance;
  let now = Date.now();
  const TTL = 5_000;

  beforeAll(async () => {
    embedded = await startEmbedded({ port: 0, scale: 1, rateLimitPerMinute: 1_000_000 });
    g = await startInstance(embedded, { enabled: true, ttlMs: TTL }, () => now);
    embedded.sandbox.setWebhookBase(g.gateway.url);
    // Reads count as covered by a change signal when they start after it began, on this clock.
    now += 1;
  });
  afterAll(async () => {
    await g?.gateway.close();
    await embedded?.sandbox.close();
  });

  it.each(['pixieset', 'protocol', 'chatwoot', 'monica'])(
    'a repeated thread page of %s costs 0 upstream requests once warm',
    async (source) => {
      const c = await firstConversation(g, source);
      const cold = await thread(g, c.id);
      clearUpstream(embedded);
      const hits = await metric(g, 'switchboard_read_cache_hits_total', source);
      expect(await thread(g, c.id)).toEqual(cold);
      expect(upstream(embedded)).toEqual({});
      expect(await metric(g, 'switchboard_read_cache_hits_total', source)).toBeGreaterThan(hits);
    },
  );

  it("a webhook naming the conversation drops it: the next read goes upstream and shows the vendor's new message", async () => {
    const c = await firstConversation(g, 'chatwoot');
    await thread(g, c.id);
    const invalidations = await metric(g, 'switchboard_read_cache_invalidations_total', 'chatwoot');
    clearUpstream(embedded);
    // Chatwoot's emulator sends its webhook to the gateway; the clock stands still, so only that can refresh.
    embedded.sandbox.emulators.get('chatwoot')!.controls.simulateIncoming({
      conversationId: c.nativeId,
      content: 'read-cache webhook',
    });
    await eventually(async () => expect(await thread(g, c.id)).toContain('read-cache webhook'), { timeoutMs: 10_000 });
    expect(upstream(embedded).chatwoot?.some((r) => r.includes('/messages'))).toBe(true);
    expect(await metric(g, 'switchboard_read_cache_invalidations_total', 'chatwoot')).toBeGreaterThan(invalidations);
  });

  it('a webhook naming another conversation leaves this one cached', async () => {
    const r = await g.gql<{ conversations: { nodes: Array<{ id: string; nativeId: string }> } }>(
      `{ conversations(first: 2, filter: { sources: ["chatwoot"] }) { nodes { id nativeId } } }`,
    );
    const [a, b] = r.data!.conversations.nodes;
    await thread(g, a!.id);
    await thread(g, b!.id);
    embedded.sandbox.emulators.get('chatwoot')!.controls.simulateIncoming({
      conversationId: b!.nativeId,
      content: 'only b changed',
    });
    await eventually(async () => expect(await thread(g, b!.id)).toContain('only b changed'), { timeoutMs: 10_000 });
    clearUpstream(embedded);
    await thread(g, a!.id);
    expect(upstream(embedded)).toEqual({});
  });

  it.each(['monica', 'pixieset', 'protocol', 'chatwoot'])(
    "the gateway's own send on %s drops the thread at once: the next read shows it",
    async (source) => {
      const c = await firstConversation(g, source);
      await thread(g, c.id);
      await thread(g, c.id);
      const content = `own send ${source} ${now}`;
      const sent = await g.gql(SEND, { id: c.id, content });
      expect(sent.errors).toBeUndefined();
      // No wait: the write dropped the cached page before it answered.
      expect(await thread(g, c.id)).toContain(content);
    },
  );

  it('a polling source nobody watches is served for the configured TTL, then read again', async () => {
    const c = await firstConversation(g, 'monica');
    await thread(g, c.id);
    // Monica sends no webhooks and nobody subscribes, so nothing tells the gateway of this message.
    embedded.sandbox.emulators.get('monica')!.controls.simulateIncoming({
      conversationId: c.nativeId,
      content: 'unannounced',
    });
    clearUpstream(embedded);
    expect(await thread(g, c.id)).not.toContain('unannounced');
    expect(upstream(embedded)).toEqual({});
    now += TTL;
    expect(await thread(g, c.id)).toContain('unannounced');
    expect(upstream(embedded).monica?.length).toBeGreaterThan(0);
  });

  it('a webhook source is trusted past the TTL (up to its catalog age)', async () => {
    const c = await firstConversation(g, 'protocol');
    await thread(g, c.id);
    now += TTL * 2;
    clearUpstream(embedded);
    await thread(g, c.id);
    expect(upstream(embedded)).toEqual({});
    // Protocol's catalog age is 10 minutes (its profile): past it, the cache reads again like the catalog would.
    now += 10 * 60_000;
    await thread(g, c.id);
    expect(upstream(embedded).protocol?.length).toBeGreaterThan(0);
  });

  it('a polling source somebody watches is trusted past the TTL, and its poll drops what changed', async () => {
    const c = await firstConversation(g, 'pixieset');
    const client = createWsClient(g.gateway.wsUrl, SANDBOX_API_KEY);
    try {
      const sub = subscribe(client, `subscription { conversationChanged(sources: ["pixieset"]) { nativeId } }`);
      await eventually(() => expect(g.gateway.services.live.pollingSince('pixieset')).not.toBeNull());
      // The cache counts the poller from when it first sees it (this read); what it read before keeps the TTL.
      await thread(g, c.id);
      now += TTL + 1;
      await thread(g, c.id);
      now += TTL * 2;
      clearUpstream(embedded);
      await thread(g, c.id);
      // The poller's own requests (live-<source>-<n>) land meanwhile; the thread itself costs none.
      expect(operationRequests(embedded, 'pixieset')).toEqual([]);
      embedded.sandbox.emulators.get('pixieset')!.controls.simulateIncoming({
        conversationId: c.nativeId,
        content: 'found by the poll',
      });
      await eventually(async () => expect(await thread(g, c.id)).toContain('found by the poll'), {
        timeoutMs: 10_000,
      });
      sub.dispose();
    } finally {
      await client.dispose();
    }
    // Nobody watches any more: the poller stops, and the answer is back to the TTL.
    await eventually(() => expect(g.gateway.services.live.pollingSince('pixieset')).toBeNull());
    now += TTL * 2;
    clearUpstream(embedded);
    await thread(g, c.id);
    expect(operationRequests(embedded, 'pixieset').length).toBeGreaterThan(0);
  });

  it('a key that may not see a source gets nothing of its cached answers', async () => {
    // The limited key sees only the first configured source (pixieset).
    const c = await firstConversation(g, 'chatwoot');
    expect((await thread(g, c.id)).length).toBeGreaterThan(0);
    clearUpstream(embedded);
    const r = await g.gql<Thread>(THREAD, { id: c.id }, SANDBOX_LIMITED_KEY);
    expect(r.data?.conversation ?? null).toBeNull();
    expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(JSON.stringify(r)).not.toContain('"content"');
    expect(upstream(embedded)).toEqual({});
  });

  it('reports its size on /metrics', async () => {
    expect(await metric(g, 'switchboard_read_cache_entries', 'chatwoot')).toBeGreaterThan(0);
    expect(await metric(g, 'switchboard_read_cache_bytes', 'chatwoot')).toBeGreaterThan(0);
    expect(await metric(g, 'switchboard_read_cache_misses_total', 'chatwoot')).toBeGreaterThan(0);
  });
});

describe('read cache across two instances sharing Redis', () => {
  let embedded: Embedded;
  let a: Instance;
  let b: Instance;
  const prefix = randomPrefix('readcache');
  const now = Date.now();
  const redis = redisClients();

  beforeAll(async () => {
    embedded = await startEmbedded({ port: 0, kinds: ['MONICA', 'CHATWOOT'], scale: 1, rateLimitPerMinute: 1_000_000 });
    a = await startInstance(embedded, { enabled: true }, () => now, prefix);
    b = await startInstance(embedded, { enabled: true }, () => now, prefix);
    embedded.sandbox.setWebhookBase(a.gateway.url);
  });
  afterAll(async () => {
    await b?.gateway.close();
    await a?.gateway.close();
    await embedded?.sandbox.close();
    await deleteKeys(redis.open(), prefix);
    await redis.closeAll();
  });

  it.each(['monica', 'chatwoot'])("a send through A drops B's cached %s thread", async (source) => {
    const c = await firstConversation(b, source);
    await thread(b, c.id);
    clearUpstream(embedded);
    await thread(b, c.id);
    expect(upstream(embedded)).toEqual({});
    const content = `through A ${source}`;
    expect((await a.gql(SEND, { id: c.id, content })).errors).toBeUndefined();
    // B hears of it over Redis pub/sub; the clocks stand still, so nothing else can refresh B's copy.
    await eventually(async () => expect(await thread(b, c.id)).toContain(content), { timeoutMs: 10_000 });
  });

  it("a webhook that reaches A drops B's cached thread", async () => {
    const c = await firstConversation(b, 'chatwoot');
    await thread(b, c.id);
    embedded.sandbox.emulators.get('chatwoot')!.controls.simulateIncoming({
      conversationId: c.nativeId,
      content: 'webhook at A',
    });
    await eventually(async () => expect(await thread(b, c.id)).toContain('webhook at A'), { timeoutMs: 10_000 });
  });
});

describe('read cache store', () => {
  const policy = (trusted: boolean) => ({
    sourceId: 's',
    trustedMaxAgeMs: 60_000,
    trustedSince: () => (trusted ? 0 : null),
  });

  it('does not keep a read that was in flight while its conversation changed', () => {
    const store = new ReadCacheStore({ ttlMs: 1000, maxBytes: 1 << 20 });
    store.addSource(policy(true));
    const before = store.ticket('s');
    store.invalidate('s', 'c1');
    store.set('s', 'k1', 'c1', 'old page', before);
    expect(store.get('s', 'k1')).toBeUndefined();
    // Another conversation's change does not stop it.
    const other = store.ticket('s');
    store.invalidate('s', 'c2');
    store.set('s', 'k1', 'c1', 'page', other);
    expect(store.get('s', 'k1')).toEqual({ value: 'page' });
  });

  it('drops a conversation, or the whole source for a change that names none', () => {
    const store = new ReadCacheStore({ ttlMs: 1000, maxBytes: 1 << 20 });
    store.addSource(policy(true));
    for (const [k, g] of [
      ['a', 'c1'],
      ['b', 'c1'],
      ['c', 'c2'],
    ] as const)
      store.set('s', k, g, k, store.ticket('s'));
    store.invalidate('s', 'c1');
    expect([store.get('s', 'a'), store.get('s', 'b'), store.get('s', 'c')]).toEqual([
      undefined,
      undefined,
      { value: 'c' },
    ]);
    store.invalidate('s', null);
    expect(store.get('s', 'c')).toBeUndefined();
    expect(store.size()).toEqual([{ sourceId: 's', entries: 0, bytes: 0 }]);
  });

  it("passes listContacts through to the vendor's session, uncached, exactly when the vendor has it (people read it)", async () => {
    const store = new ReadCacheStore({ ttlMs: 1000, maxBytes: 1 << 20 });
    const page = { items: [], next: null };
    const listContacts = jest.fn(async () => page);
    const open = (inner: Partial<ConnectorSession>) =>
      new CachedSession(
        's',
        () => inner as ConnectorSession,
        { requestId: 't' },
        store,
        async () => undefined,
        {},
      );
    const listed = open({ listContacts });
    expect(await listed.listContacts?.({ first: 10 })).toBe(page);
    expect(await listed.listContacts?.({ first: 10 })).toBe(page);
    expect(listContacts).toHaveBeenCalledTimes(2);
    expect(open({}).listContacts).toBeUndefined();
  });

  it('stays within maxBytes, forgetting the least recently used first', () => {
    const store = new ReadCacheStore({ ttlMs: 1000, maxBytes: 10_000 });
    store.addSource(policy(true));
    const page = 'x'.repeat(1000); // about 2.3 KB estimated
    for (let i = 0; i < 20; i++) store.set('s', `k${i}`, `c${i}`, page, store.ticket('s'));
    const [size] = store.size();
    expect(size!.bytes).toBeLessThanOrEqual(10_000);
    expect(size!.entries).toBeLessThan(20);
    expect(store.get('s', 'k19')).toBeDefined();
    expect(store.get('s', 'k0')).toBeUndefined();
  });

  it('keeps nothing of an untrusted source when ttlMs is 0', () => {
    const store = new ReadCacheStore({ ttlMs: 0, maxBytes: 1 << 20 });
    store.addSource(policy(false));
    store.set('s', 'k', 'c', 'page', store.ticket('s'));
    expect(store.get('s', 'k')).toBeUndefined();
    expect(store.size()[0]!.entries).toBe(0);
  });
});

describe('read cache wiring while Redis is down', () => {
  it('trusts nothing while Redis is down, and nothing read before it came back', async () => {
    let now = 1_000_000;
    const { config, health, live, pubsub, setDown } = cacheOutageFixture({ enabled: true, ttlMs: 1000 });
    const wiring = ReadCacheWiring.fromConfig(config, { now: () => now })!;
    let reads = 0;
    const session = {
      loadConversation: (id: string) => {
        reads++;
        return Promise.resolve({ nativeId: id, reads });
      },
    } as unknown as ConnectorSession;
    const connector = wiring.wrap({ id: 'cw', openSession: () => session } as unknown as Connector, config.sources[0]!);
    await wiring.attach({ live, pubsub, health });
    const read = () => connector.openSession({ requestId: 'r' }).loadConversation('1');
    try {
      now += 1;
      await read();
      now += 5000; // past the TTL, within Chatwoot's catalog age: trusted
      await read();
      expect(reads).toBe(1);
      setDown(true);
      await read(); // Redis down: only the TTL holds, and the answer is older than that
      expect(reads).toBe(2);
      setDown(false);
      now += 1;
      await read(); // the answer read while Redis was down, within the TTL
      expect(reads).toBe(2);
      now += 5000;
      await read(); // past the TTL: it was read before Redis came back, so it is not trusted
      expect(reads).toBe(3);
      now += 5000;
      await read(); // read after Redis came back: trusted past the TTL
      expect(reads).toBe(3);
    } finally {
      await wiring.close();
      await pubsub.close();
    }
  });
});
