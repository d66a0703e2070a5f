import { Writable } from 'node:stream';
import type { Config } from '../../src/config/schema';
import { createGateway, type Gateway } from '../../src/server/createGateway';
import { createLogger } from '../../src/server/logger';
import { ResponseCache } from '../../src/server/responseCache';
import { SANDBOX_API_KEY, SANDBOX_LIMITED_KEY, startEmbedded, type Embedded } from '../../src/sandbox/embedded';
import { eventually } from '../utils/wait';

/**
 * The response cache (issue 13 target 4, README "Response cache"): whole query answers per API key, operation and
 * variables, dropped by the change events the gateway hears. Upstream requests are counted from the emulators'
 * own logs. The gateway runs on a fake clock that stands still unless a test moves it, so an answer can only
 * become fresh again through an invalidation, never because time passed; only the TTL tests move it.
 */

const INBOX = /* GraphQL */ `
  query Inbox {
    conversations(first: 50) {
      nodes {
        id
        nativeId
        source {
          id
        }
        lastMessage {
          content
        }
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

interface Row {
  id: string;
  nativeId: string;
  source: { id: string };
  lastMessage: { content: string | null } | null;
}
type Inbox = { conversations: { nodes: Row[] } };
type Result<T> = { data?: T; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };

const quiet = () =>
  createLogger({
    level: 'warn',
    destination: new Writable({
      write: (_c, _e, cb) => cb(),
    }),
  });

const TTL = 5_000;

describe('response cache', () => {
  let embedded: Embedded;
  let gateway: Gateway;
  let now = Date.now();

  const gql = async <T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    key = SANDBOX_API_KEY,
  ): Promise<Result<T>> => {
    const res = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await res.json()) as Result<T>;
  };
  const inbox = async (key = SANDBOX_API_KEY): Promise<Row[]> => {
    const r = await gql<Inbox>(INBOX, undefined, key);
    expect(r.errors).toBeUndefined();
    return r.data!.conversations.nodes;
  };
  /** Requests made for operations (the live engine's own carry request ids `live-<source>-<n>`). */
  const upstream = (): string[] => {
    const out: string[] = [];
    for (const [id, emu] of embedded.sandbox.emulators)
      for (const r of emu.requests())
        if (!String(r.headers['x-request-id'] ?? '').startsWith('live-')) out.push(`${id} ${r.method} ${r.path}`);
    return out;
  };
  const clearUpstream = () => {
    for (const emu of embedded.sandbox.emulators.values()) emu.clearRequests();
  };
  const metric = async (name: string): Promise<number> => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  beforeAll(async () => {
    embedded = await startEmbedded({ port: 0, scale: 1, rateLimitPerMinute: 1_000_000 });
    const config: Config = { ...embedded.config, cache: { ttlMs: TTL, responses: { enabled: true } } };
    gateway = await createGateway({ config, clock: () => now, logger: quiet(), production: false });
    embedded.sandbox.setWebhookBase(gateway.url);
    // Executions count as covered by a change signal when they start after it began, on this clock.
    now += 1;
  });
  afterAll(async () => {
    await gateway?.close();
    await embedded?.sandbox.close();
  });

  it('a repeated inbox page is answered from the cache: the same answer, 0 upstream requests, a hit on /metrics', async () => {
    const cold = await inbox();
    expect(new Set(cold.map((r) => r.source.id)).size).toBe(4);
    clearUpstream();
    const hits = await metric('switchboard_response_cache_hits_total');
    expect(await inbox()).toEqual(cold);
    expect(upstream()).toEqual([]);
    expect(await metric('switchboard_response_cache_hits_total')).toBe(hits + 1);
    expect(await metric('switchboard_response_cache_entries')).toBeGreaterThan(0);
  });

  it("a vendor's webhook drops the answers over its source: the next page shows the new message", async () => {
    const row = (await inbox()).find((r) => r.source.id === 'chatwoot')!;
    const invalidations = await metric('switchboard_response_cache_invalidations_total{source="chatwoot"}');
    // Chatwoot's emulator sends its webhook to the gateway; the clock stands still, so only that can refresh.
    embedded.sandbox.emulators.get('chatwoot')!.controls.simulateIncoming({
      conversationId: row.nativeId,
      content: 'response-cache webhook',
    });
    await eventually(
      async () =>
        expect((await inbox()).find((r) => r.id === row.id)?.lastMessage?.content).toBe('response-cache webhook'),
      { timeoutMs: 10_000 },
    );
    expect(await metric('switchboard_response_cache_invalidations_total{source="chatwoot"}')).toBeGreaterThan(
      invalidations,
    );
  });

  it("the gateway's own send drops every answer before it answers: the next page shows it, no wait", async () => {
    const row = (await inbox()).find((r) => r.source.id === 'protocol')!;
    await inbox();
    const content = `own send ${now}`;
    const sent = await gql(SEND, { id: row.id, content });
    expect(sent.errors).toBeUndefined();
    expect((await inbox()).find((r) => r.id === row.id)?.lastMessage?.content).toBe(content);
  });

  it('answers are kept per API key: a key that sees one source never gets the answer over four', async () => {
    await inbox();
    const limited = await inbox(SANDBOX_LIMITED_KEY);
    expect(new Set(limited.map((r) => r.source.id))).toEqual(new Set(['pixieset']));
    // Its own answer is cached for it in turn.
    clearUpstream();
    expect(await inbox(SANDBOX_LIMITED_KEY)).toEqual(limited);
    expect(upstream()).toEqual([]);
  });

  it('a source without a trusted change signal bounds the answer to the configured TTL', async () => {
    // Pixieset and Monica poll, and nobody here subscribes: their changes are not heard.
    const before = await inbox();
    const row = before.find((r) => r.source.id === 'monica')!;
    embedded.sandbox.emulators.get('monica')!.controls.simulateIncoming({
      conversationId: row.nativeId,
      content: 'unannounced',
    });
    clearUpstream();
    expect(await inbox()).toEqual(before);
    expect(upstream()).toEqual([]);
    now += TTL;
    await inbox();
    expect(upstream().some((r) => r.startsWith('pixieset '))).toBe(true);
  });

  it('identical queries arriving while one executes wait for its answer: one execution, one upstream request', async () => {
    // The limited key sees Pixieset only, so no change event of another source (the earlier tests' webhooks and
    // catalog refreshes) can make the first execution's answer unstorable meanwhile.
    await inbox(SANDBOX_LIMITED_KEY);
    // Expired (past the TTL of the unwatched polling sources), and Pixieset slow, so the second arrives meanwhile.
    now += TTL;
    const pixieset = embedded.sandbox.emulators.get('pixieset')!;
    pixieset.setFaults({ latencyMs: 300 });
    try {
      clearUpstream();
      const misses = await metric('switchboard_response_cache_misses_total');
      const hits = await metric('switchboard_response_cache_hits_total');
      const [a, b] = await Promise.all([inbox(SANDBOX_LIMITED_KEY), inbox(SANDBOX_LIMITED_KEY)]);
      expect(b).toEqual(a);
      expect(upstream().filter((r) => r.startsWith('pixieset '))).toHaveLength(1);
      expect(await metric('switchboard_response_cache_misses_total')).toBe(misses + 1);
      expect(await metric('switchboard_response_cache_hits_total')).toBe(hits + 1);
    } finally {
      pixieset.setFaults({});
    }
  });

  it('mutations, operations selecting health and answers with errors are never served from the cache', async () => {
    const health = `{ sources { id health { status } } }`;
    await gql(health);
    const misses = await metric('switchboard_response_cache_misses_total');
    const hits = await metric('switchboard_response_cache_hits_total');
    await gql(health);
    const notFound = `{ conversation(id: "Q29udmVyc2F0aW9uOm5vcGU6eA==") { id } }`;
    const a = await gql(notFound);
    expect(a.errors?.length).toBeGreaterThan(0);
    const b = await gql(notFound);
    expect(b.errors?.length).toBeGreaterThan(0);
    // The errored query missed twice (never stored); the health query never reached the cache.
    expect(await metric('switchboard_response_cache_hits_total')).toBe(hits);
    expect(await metric('switchboard_response_cache_misses_total')).toBe(misses + 2);
  });
});

describe('ResponseCache', () => {
  let now = 1_000;
  let trusted: number | null = 0;
  const cache = () =>
    new ResponseCache({
      sources: [
        { sourceId: 'a', trustedMaxAgeMs: 60_000, trustedSince: () => trusted },
        { sourceId: 'b', trustedMaxAgeMs: 60_000, trustedSince: () => trusted },
      ],
      ttlMs: 100,
      maxBytes: 1_000_000,
      now: () => now,
    });

  it('does not store an answer whose source changed while it was executed', () => {
    const c = cache();
    const t = c.ticket();
    c.invalidate('b');
    c.set('k', ['a', 'b'], { x: 1 }, t);
    expect(c.get('k')).toBeUndefined();
    c.set('k', ['a', 'b'], { x: 2 }, c.ticket());
    expect(c.get('k')).toEqual({ x: 2 });
  });

  it('a change of any source it depends on drops it; another source leaves it', () => {
    const c = cache();
    c.set('k', ['a'], { x: 1 }, c.ticket());
    c.invalidate('b');
    expect(c.get('k')).toEqual({ x: 1 });
    c.invalidate('a');
    expect(c.get('k')).toBeUndefined();
  });

  it('serves a trusted answer up to the catalog age, an untrusted one up to the TTL, and stores nothing with TTL 0 untrusted', () => {
    trusted = 0;
    const c = cache();
    c.set('k', ['a', 'b'], { x: 1 }, c.ticket());
    now += 59_999;
    expect(c.get('k')).toEqual({ x: 1 });
    now += 1;
    expect(c.get('k')).toBeUndefined();
    trusted = null;
    c.set('k', ['a', 'b'], { x: 1 }, c.ticket());
    now += 99;
    expect(c.get('k')).toEqual({ x: 1 });
    now += 1;
    expect(c.get('k')).toBeUndefined();
    const zero = new ResponseCache({
      sources: [{ sourceId: 'a', trustedMaxAgeMs: 60_000, trustedSince: () => null }],
      ttlMs: 0,
      maxBytes: 1_000_000,
      now: () => now,
    });
    zero.set('k', ['a'], { x: 1 }, zero.ticket());
    expect(zero.get('k')).toBeUndefined();
    expect(zero.size().entries).toBe(0);
  });
});
