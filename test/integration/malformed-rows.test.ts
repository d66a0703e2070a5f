import type { SourceKind } from '../../src/connectors/types';
import { startTestGateway, tuneSources, type TestGateway } from '../utils/gateway';

/**
 * Issue 12 item 14: one odd row in a vendor's list page is left out and reported once (an error entry with its
 * source and id, a log line, a metric); the rest of the page and the source keep working. The emulator spoils one
 * row of one answer (fault `malformedRow`).
 */
const INBOX = `query($s: [ID!]) { conversations(first: 50, filter: { sources: $s }) { edges { node { id } } } }`;
const MESSAGES = `query($id: ID!) { conversation(id: $id) { id messages(first: 50) { edges { node { id } } } } }`;

type Body = {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
};

async function skippedCount(t: TestGateway, source: string): Promise<number> {
  const m = await t.gateway.metrics.registry.getSingleMetric('switchboard_errors_total')!.get();
  return m.values
    .filter((v) => v.labels.code === 'SOURCE_BAD_RESPONSE' && v.labels.source === source)
    .reduce((a, v) => a + v.value, 0);
}

interface Spoil {
  /** Which GET (by path) answers the list. */
  path: RegExp;
  /** The dotted path of the list in the JSON body. */
  list: string;
  /** Fields that make one row malformed. */
  set: Record<string, unknown>;
}

const CASES: Array<[SourceKind, Spoil, Spoil]> = [
  [
    'CHATWOOT',
    { path: /\/conversations$/, list: 'data.payload', set: { timestamp: 'yesterday' } },
    // A message's `"sender": {}` is an optional part now, left out of a row that is kept (malformed-objects.test.ts).
    { path: /\/messages$/, list: 'payload', set: { created_at: { at: 'noon' } } },
  ],
  [
    'PIXIESET',
    { path: /\/conversations\/$/, list: 'data', set: { status: 42 } },
    { path: /\/conversations\/conv_[A-Za-z0-9]+\/$/, list: 'data.messages', set: { sender_type: 'robot' } },
  ],
  [
    'PROTOCOL',
    { path: /\/conversations$/, list: 'data', set: { last_active_at: 'yesterday' } },
    { path: /\/messages$/, list: 'data', set: { conversation_id: 42 } },
  ],
  [
    'MONICA',
    { path: /\/conversations$/, list: 'data', set: { happened_at: 5 } },
    { path: /\/conversations\/\d+$/, list: 'data.messages', set: { written_by_me: 'yes' } },
  ],
];

describe.each(CASES)(
  '%s: a malformed row is left out and reported, the rest keeps working',
  (kind, convRow, msgRow) => {
    let t: TestGateway;
    let source: string;
    beforeAll(async () => {
      // The catalog is re-read by every inbox query, so the spoiled page is read by the next one.
      t = await startTestGateway({ kinds: [kind], configure: (c) => tuneSources(c, () => ({ catalogMaxAgeMs: 1 })) });
      source = t.embedded.config.sources[0]!.id;
    });
    afterAll(async () => {
      await t.close();
    });
    const emu = () => t.embedded.sandbox.emulators.get(source)!;

    it('a conversation list page with one malformed row', async () => {
      const before = await t.gql<{ conversations: { edges: unknown[] } }>(INBOX, { s: [source] });
      expect(before.body.errors ?? []).toEqual([]);
      const n = before.body.data!.conversations.edges.length;
      const listPath = emu()
        .requests()
        .find((r) => r.method === 'GET' && convRow.path.test(r.path))!.path;
      emu().setFaults({ malformedRow: { path: listPath, index: 1, list: convRow.list, set: convRow.set } });
      const logFrom = t.logs.length;
      const metricBefore = await skippedCount(t, source);
      try {
        const r = (await t.gql(INBOX, { s: [source] })).body as Body;
        const edges = (r.data?.conversations as { edges: unknown[] }).edges;
        expect(edges).toHaveLength(n - 1);
        expect(r.errors?.map((e) => e.extensions)).toEqual([
          { code: 'SOURCE_BAD_RESPONSE', source, rowId: expect.any(String), what: expect.any(String) },
        ]);
      } finally {
        emu().setFaults({});
      }
      expect(await skippedCount(t, source)).toBe(metricBefore + 1);
      const lines = t.logs.slice(logFrom).filter((l) => l.includes('vendor row skipped'));
      expect(lines).toHaveLength(1);
    });

    it('a message page with one malformed row', async () => {
      const inbox = await t.gql<{ conversations: { edges: Array<{ node: { id: string } }> } }>(INBOX, { s: [source] });
      const id = inbox.body.data!.conversations.edges[0]!.node.id;
      emu().clearRequests();
      const ok = (await t.gql(MESSAGES, { id })).body as Body;
      expect(ok.errors ?? []).toEqual([]);
      const n = (ok.data!.conversation as { messages: { edges: unknown[] } }).messages.edges.length;
      expect(n).toBeGreaterThan(1);
      const msgPath = emu()
        .requests()
        .find((r) => r.method === 'GET' && msgRow.path.test(r.path))!.path;
      emu().setFaults({ malformedRow: { path: msgPath, index: 0, list: msgRow.list, set: msgRow.set } });
      try {
        const r = (await t.gql(MESSAGES, { id })).body as Body;
        expect(r.errors?.map((e) => e.extensions)).toEqual([
          { code: 'SOURCE_BAD_RESPONSE', source, rowId: expect.any(String), what: expect.any(String) },
        ]);
        expect((r.data!.conversation as { messages: { edges: unknown[] } }).messages.edges.length).toBe(n - 1);
      } finally {
        emu().setFaults({});
      }
    });
  },
);
