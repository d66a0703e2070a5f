import { createConnector } from '../../src/connectors/registry';
import type { Connector, ConnectorSession, RequestScope } from '../../src/connectors/types';
import { startEmbedded, type Embedded } from '../../src/sandbox/embedded';
import type { Faults } from '../../src/sandbox/kit/server';
import { startTestGateway, tuneSources } from '../utils/gateway';

/**
 * One source failing in each way the emulators can fail (their fault knobs) costs the other sources nothing
 * but its own error entry: the inbox, unread counts, node(s) and per-row fields keep every other source's
 * data. Then the per-source policies end to end: Retry-After, the circuit breaker, the rate cap.
 */

type Err = { message: string; path?: Array<string | number>; extensions?: Record<string, unknown> };
type Edge = { node: { id: string; source: { id: string } } };

const SOURCES = ['pixieset', 'protocol', 'chatwoot', 'monica'] as const;
const FAULTS: Array<[string, string, Faults]> = [
  ['answers 500 (errorRate 1)', 'SOURCE_UNAVAILABLE', { errorRate: 1 }],
  ['never answers (hang)', 'SOURCE_TIMEOUT', { hang: true }],
  ['answers 429 with Retry-After', 'SOURCE_RATE_LIMITED', { rateLimitRetryAfter: 30 }],
  ['answers truncated JSON (malformed)', 'SOURCE_BAD_RESPONSE', { malformed: true }],
  ['drops the connection (refuse)', 'SOURCE_UNAVAILABLE', { refuse: true }],
];

const INBOX_AND_UNREAD = /* GraphQL */ `
  {
    conversations(first: 40) {
      totalCount
      edges {
        node {
          id
          source {
            id
          }
        }
      }
    }
    unreadCount {
      total
      bySource {
        source {
          id
        }
        total
      }
    }
  }
`;

/** The first conversation id of each source, read through a healthy gateway. */
async function firstIds(embedded: Embedded): Promise<Record<string, string>> {
  const t = await startTestGateway({ embedded });
  try {
    const ids: Record<string, string> = {};
    for (const s of SOURCES) {
      const r = await t.gql<{ conversations: { edges: Edge[] } }>(
        `query($s: [ID!]) { conversations(first: 1, filter: { sources: $s }) { edges { node { id source { id } } } } }`,
        { s: [s] },
      );
      ids[s] = r.body.data!.conversations.edges[0]!.node.id;
    }
    return ids;
  } finally {
    await t.close();
  }
}

describe.each(SOURCES)('partial results when %s fails', (failing) => {
  let embedded: Embedded;
  let ids: Record<string, string>;
  const healthy = SOURCES.filter((s) => s !== failing);

  beforeAll(async () => {
    embedded = await startEmbedded({ port: 0 });
    ids = await firstIds(embedded);
  });
  afterAll(async () => {
    await embedded.sandbox.close();
  });
  afterEach(() => {
    for (const e of embedded.sandbox.emulators.values()) e.setFaults({});
  });

  it.each(FAULTS)(
    'when it %s: every other source answers, plus one %s entry naming it',
    async (_what, code, faults) => {
      const t = await startTestGateway({
        embedded,
        configure: (c) =>
          tuneSources(c, (s) => ({
            timeoutMs: s.id === failing ? 300 : 5000,
            retries: 1,
            circuitBreaker: { failures: 1000, halfOpenAfterMs: 10_000 },
          })),
      });
      try {
        embedded.sandbox.emulators.get(failing)!.setFaults(faults);

        const r = await t.gql<{
          conversations: { totalCount: number | null; edges: Edge[] };
          unreadCount: { bySource: Array<{ source: { id: string } }> };
        }>(INBOX_AND_UNREAD);
        expect(r.status).toBe(200);
        expect(r.body.errors).toEqual([
          { message: expect.any(String), extensions: expect.objectContaining({ code, source: failing }) },
        ]);
        const listed = new Set(r.body.data!.conversations.edges.map((e) => e.node.source.id));
        expect([...listed].sort()).toEqual([...healthy].sort());
        expect(r.body.data!.conversations.totalCount).toBeNull(); // unknown while a source is missing
        const unreadSources = r.body.data!.unreadCount.bySource.map((b) => b.source.id);
        expect(unreadSources).not.toContain(failing);
        if (code === 'SOURCE_RATE_LIMITED') expect(r.body.errors![0]!.extensions!.retryAfter).toBeGreaterThan(0);

        // Source.health shows it, and only for the failing source.
        const h = await t.gql<{
          sources: Array<{ id: string; health: { status: string; lastErrorCode: string | null } }>;
        }>(`{ sources { id health { status lastErrorCode circuit } } }`);
        for (const s of h.body.data!.sources) {
          if (s.id === failing) {
            expect(['DEGRADED', 'DOWN']).toContain(s.health.status);
            expect(s.health.lastErrorCode).toBe(code);
          } else {
            expect(s.health).toMatchObject({ status: 'UP', lastErrorCode: null });
          }
        }

        // node and nodes: the failing source's positions are null with an error naming it; the others resolve.
        const others = healthy.map((s) => ids[s]!);
        const n = await t.gql<{ nodes: Array<{ id: string } | null>; node: { id: string } | null }>(
          `query($ids: [ID!]!, $id: ID!) { nodes(ids: $ids) { id } node(id: $id) { id } }`,
          { ids: [...others, ids[failing]], id: ids[failing] },
        );
        expect(n.status).toBe(200);
        expect(n.body.data!.nodes).toEqual([...others.map((id) => ({ id })), null]);
        expect(n.body.data!.node).toBeNull();
        const paths = (n.body.errors ?? []).map((e: Err) => e.path?.join('.')).sort();
        expect(paths).toEqual(['node', `nodes.${others.length}`]);
        for (const e of n.body.errors as Err[]) expect(e.extensions).toMatchObject({ code, source: failing });
      } finally {
        await t.close();
      }
    },
  );

  it('nulls the per-row fields of its conversations when it fails after listing them, and nothing else', async () => {
    const emulator = embedded.sandbox.emulators.get(failing)!;
    const t = await startTestGateway({
      embedded,
      configure: (c) =>
        tuneSources(c, () => ({ retries: 0, circuitBreaker: { failures: 1000, halfOpenAfterMs: 10_000 } })),
      // The failing source starts answering 500 the moment its list has arrived: every later call fails.
      connectors: (c) =>
        c.sources.map((s) =>
          s.id === failing
            ? failAfterListing(createConnector(s), () => emulator.setFaults({ errorRate: 1 }))
            : createConnector(s),
        ),
    });
    try {
      emulator.clearRequests();
      const r = await t.gql<{
        conversations: { edges: Array<{ node: Record<string, unknown> & { source: { id: string } } }> };
      }>(/* GraphQL */ `
        {
          conversations(first: 40) {
            edges {
              node {
                id
                source {
                  id
                }
                unreadCount
                participants {
                  id
                  name
                }
                lastMessage {
                  id
                  content
                  sender {
                    name
                  }
                }
                messages(last: 2) {
                  edges {
                    node {
                      id
                    }
                  }
                }
              }
            }
          }
        }
      `);
      expect(r.status).toBe(200);
      const edges = r.body.data!.conversations.edges;
      expect(new Set(edges.map((e) => e.node.source.id))).toEqual(new Set(SOURCES));
      const errors = (r.body.errors ?? []) as Err[];
      // Sources that serve every row field from the list (Monica's catalog) make no later call to fail.
      const failedCalls = emulator.requests().filter((x) => x.status === 500).length;
      if (failedCalls > 0) expect(errors.length).toBeGreaterThan(0);
      else expect(errors).toEqual([]);
      for (const e of errors) {
        expect(e.extensions).toMatchObject({ code: 'SOURCE_UNAVAILABLE', source: failing });
        // A field error: its path ends at a field of one of the failing source's rows, which is null.
        expect(e.path?.slice(0, 3)).toEqual(['conversations', 'edges', expect.any(Number)]);
        const row = edges[e.path![2] as number]!.node;
        expect(row.source.id).toBe(failing);
        expect(row[e.path![4] as string]).toBeNull();
      }
      // Every other source's rows are complete.
      for (const e of edges.filter((x) => x.node.source.id !== failing)) {
        expect(e.node.participants).not.toBeNull();
        expect(e.node.messages).not.toBeNull();
      }
    } finally {
      await t.close();
    }
  });
});

/** A connector whose sessions call `onListed` right after listConversations succeeds. */
function failAfterListing(connector: Connector, onListed: () => void): Connector {
  const wrapSession = (session: ConnectorSession): ConnectorSession =>
    new Proxy(session, {
      get(target, prop, receiver) {
        if (prop === 'listConversations') {
          return async (...args: Parameters<ConnectorSession['listConversations']>) => {
            const page = await target.listConversations(...args);
            onListed();
            return page;
          };
        }
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  return new Proxy(connector, {
    get(target, prop, receiver) {
      if (prop === 'openSession') return (scope: RequestScope) => wrapSession(target.openSession(scope));
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('per-source policies end to end', () => {
  let embedded: Embedded;
  beforeAll(async () => {
    embedded = await startEmbedded({ port: 0, kinds: ['PIXIESET', 'PROTOCOL'] });
  });
  afterAll(async () => {
    await embedded.sandbox.close();
  });
  afterEach(() => {
    for (const e of embedded.sandbox.emulators.values()) e.setFaults({});
  });
  const px = () => embedded.sandbox.emulators.get('pixieset')!;
  const pixiesetCalls = () =>
    px()
      .requests()
      .filter((r) => r.path.startsWith('/api/')).length;
  const INBOX = `{ conversations(first: 5) { edges { node { source { id } } } } }`;
  type Inbox = { conversations: { edges: Edge[] } };
  const sourcesIn = (d: Inbox | undefined) => [...new Set(d?.conversations.edges.map((e) => e.node.source.id))].sort();

  it('honours Retry-After: after a 429 it refuses calls to that source until the time is up, without calling it', async () => {
    const t = await startTestGateway({ embedded, configure: (c) => tuneSources(c, () => ({ retries: 2 })) });
    try {
      px().setFaults({ rateLimitRetryAfter: 30 });
      px().clearRequests();
      const first = await t.gql<Inbox>(INBOX);
      expect(first.body.errors).toEqual([
        {
          message: expect.any(String),
          extensions: { code: 'SOURCE_RATE_LIMITED', source: 'pixieset', retryAfter: 30 },
        },
      ]);
      expect(pixiesetCalls()).toBe(1); // a 429 is not retried
      px().setFaults({});
      const second = await t.gql<Inbox>(INBOX);
      expect(second.body.errors?.[0]?.extensions).toMatchObject({ code: 'SOURCE_RATE_LIMITED', source: 'pixieset' });
      expect(second.body.errors?.[0]?.message).toMatch(/Retry-After/);
      expect(sourcesIn(second.body.data)).toEqual(['protocol']);
      expect(pixiesetCalls()).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('opens the circuit after repeated failures (CIRCUIT_OPEN, no calls), probes half-open, and closes when the source is back', async () => {
    const t = await startTestGateway({
      embedded,
      configure: (c) =>
        tuneSources(c, (s) =>
          s.id === 'pixieset' ? { retries: 0, circuitBreaker: { failures: 2, halfOpenAfterMs: 1500 } } : {},
        ),
    });
    const codes = (r: { body: { errors?: Err[] } }) =>
      (r.body.errors ?? []).map((e) => `${e.extensions?.code}:${e.extensions?.source}`);
    const health = async () =>
      (
        await t.gql<{ sources: Array<{ id: string; health: { status: string; circuit: string } }> }>(
          `{ sources { id health { status circuit } } }`,
        )
      ).body.data!.sources.find((s) => s.id === 'pixieset')!.health;
    try {
      px().setFaults({ errorRate: 1 });
      px().clearRequests();
      expect(codes(await t.gql(INBOX))).toEqual(['SOURCE_UNAVAILABLE:pixieset']);
      expect(codes(await t.gql(INBOX))).toEqual(['SOURCE_UNAVAILABLE:pixieset']);
      expect(pixiesetCalls()).toBe(2);

      const open = await t.gql<Inbox>(INBOX);
      expect(codes(open)).toEqual(['CIRCUIT_OPEN:pixieset']);
      expect(sourcesIn(open.body.data)).toEqual(['protocol']);
      expect(pixiesetCalls()).toBe(2);
      expect(await health()).toEqual({ status: 'DOWN', circuit: 'OPEN' });

      // Half-open while the source still fails: one probe, and open again.
      await new Promise((r) => setTimeout(r, 1600));
      expect(codes(await t.gql(INBOX))).toEqual(['SOURCE_UNAVAILABLE:pixieset']);
      expect(pixiesetCalls()).toBe(3);
      expect(codes(await t.gql(INBOX))).toEqual(['CIRCUIT_OPEN:pixieset']);
      expect(pixiesetCalls()).toBe(3);

      // The source is back: the next probe succeeds and the circuit closes.
      px().setFaults({});
      await new Promise((r) => setTimeout(r, 1600));
      const back = await t.gql<Inbox>(INBOX);
      expect(back.body.errors).toBeUndefined();
      expect(sourcesIn(back.body.data)).toEqual(['pixieset', 'protocol']);
      expect(await health()).toEqual({ status: 'UP', circuit: 'CLOSED' });
      expect(pixiesetCalls()).toBe(4);
    } finally {
      await t.close();
    }
  });

  it('caps the request rate per source: past rateLimitPerMinute the gateway answers SOURCE_RATE_LIMITED without calling', async () => {
    const t = await startTestGateway({
      embedded,
      configure: (c) => tuneSources(c, (s) => (s.id === 'pixieset' ? { rateLimitPerMinute: 3 } : {})),
    });
    try {
      px().clearRequests();
      for (let i = 0; i < 3; i++) expect((await t.gql(INBOX)).body.errors).toBeUndefined();
      const capped = await t.gql<Inbox>(INBOX);
      expect(capped.body.errors).toEqual([
        {
          message: expect.stringMatching(/3 requests a minute/),
          extensions: { code: 'SOURCE_RATE_LIMITED', source: 'pixieset', retryAfter: expect.any(Number) },
        },
      ]);
      expect(sourcesIn(capped.body.data)).toEqual(['protocol']);
      expect(pixiesetCalls()).toBe(3);
      const h = await t.gql<{ sources: Array<{ id: string; health: { status: string } }> }>(
        `{ sources { id health { status } } }`,
      );
      expect(h.body.data!.sources.find((s) => s.id === 'pixieset')!.health.status).toBe('DEGRADED');
    } finally {
      await t.close();
    }
  });

  it('times a hanging source out after its timeoutMs with SOURCE_TIMEOUT', async () => {
    const t = await startTestGateway({
      embedded,
      configure: (c) => tuneSources(c, (s) => (s.id === 'pixieset' ? { timeoutMs: 200, retries: 0 } : {})),
    });
    try {
      px().setFaults({ hang: true });
      const r = await t.gql<Inbox>(INBOX);
      expect(r.body.errors).toEqual([
        {
          message: 'Source "pixieset" did not answer within 200 ms.',
          extensions: { code: 'SOURCE_TIMEOUT', source: 'pixieset' },
        },
      ]);
      expect(sourcesIn(r.body.data)).toEqual(['protocol']);
    } finally {
      await t.close();
    }
  });
});

describe('the default rate cap', () => {
  it('keeps Monica within its 60 requests a minute: the gateway refuses the 61st, the vendor never answers 429', async () => {
    const t = await startTestGateway({ kinds: ['MONICA'] });
    try {
      const mo = t.embedded.sandbox.emulators.get('monica')!;
      const list = await t.gql<{ conversations: { edges: Edge[] } }>(
        `{ conversations(first: 1) { edges { node { id source { id } } } } }`,
      );
      const id = list.body.data!.conversations.edges[0]!.node.id;
      const codes: string[] = [];
      for (let i = 0; i < 70; i++) {
        // Messages are read upstream every time (the conversation itself may come from the warm catalog).
        const r = await t.gql(
          `query($id: ID!) { conversation(id: $id) { id messages(last: 1) { edges { node { id } } } } }`,
          {
            id,
          },
        );
        codes.push(String(r.body.errors?.[0]?.extensions?.code ?? 'OK'));
      }
      const vendor = mo.requests().filter((r) => r.path.startsWith('/api/'));
      expect(vendor.length).toBeLessThanOrEqual(60);
      expect(vendor.filter((r) => r.status === 429)).toEqual([]);
      expect(codes).toContain('SOURCE_RATE_LIMITED');
      expect(codes.filter((c) => c !== 'OK' && c !== 'SOURCE_RATE_LIMITED')).toEqual([]);
    } finally {
      await t.close();
    }
  });
});
