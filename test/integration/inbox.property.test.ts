import fc from 'fast-check';
import type { ConversationFilterInput, ConversationModel, SourceKind } from '../../src/connectors/types';
import { mergedCompare } from '../../src/schema/inbox';
import { toGlobalId } from '../../src/schema/ids';
import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * Property tests of the one inbox over the four emulators: for random datasets (sizes per source from empty to
 * thousands, ties included), walking every page forward and backward with random page sizes yields exactly
 * the sorted union of the sources, and each filter agrees with a brute-force filter of the same data.
 */
const QUERY = /* GraphQL */ `
  query Walk($first: Int, $after: String, $last: Int, $before: String, $filter: ConversationFilter) {
    conversations(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
      totalCount
      pageInfo {
        hasNextPage
        hasPreviousPage
        startCursor
        endCursor
      }
      edges {
        node {
          id
        }
      }
    }
  }
`;
type Page = {
  conversations: {
    totalCount: number | null;
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
    edges: Array<{ node: { id: string } }>;
  };
};
type GqlFilter = {
  sources?: string[];
  status?: string[];
  unreadOnly?: boolean;
  labels?: string[];
  participantId?: string;
};

async function page(t: TestGateway, vars: Record<string, unknown>): Promise<Page['conversations']> {
  const r = await t.gql<Page>(QUERY, vars);
  if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
  return r.body.data!.conversations;
}

async function walkForward(t: TestGateway, sizes: number[], filter?: GqlFilter): Promise<string[]> {
  const out: string[] = [];
  let after: string | null = null;
  for (let i = 0; i < 10_000; i++) {
    const c = await page(t, { first: sizes[i % sizes.length], after, filter });
    out.push(...c.edges.map((e) => e.node.id));
    expect(c.pageInfo.hasPreviousPage).toBe(after !== null && out.length > c.edges.length);
    if (!c.pageInfo.hasNextPage) return out;
    after = c.pageInfo.endCursor;
  }
  throw new Error('walk did not end');
}

async function walkBackward(t: TestGateway, sizes: number[], filter?: GqlFilter): Promise<string[]> {
  const out: string[] = [];
  let before: string | null = null;
  for (let i = 0; i < 10_000; i++) {
    const c = await page(t, { last: sizes[i % sizes.length], before, filter });
    out.unshift(...c.edges.map((e) => e.node.id));
    if (!c.pageInfo.hasPreviousPage) return out;
    before = c.pageInfo.startCursor;
  }
  throw new Error('walk did not end');
}

/** Ground truth: every source's whole stream read through its connector, merged by the documented order. */
async function everything(t: TestGateway): Promise<ConversationModel[]> {
  const all: ConversationModel[] = [];
  for (const c of t.gateway.services.connectors) {
    const s = c.openSession({ requestId: 'truth' });
    for (let offset = 0; ; offset += 100) {
      const p = await s.listConversations({ offset, limit: 100, filter: {} });
      all.push(...p.items);
      if (offset + 100 >= p.total) break;
    }
  }
  return all.sort(mergedCompare);
}

const gid = (c: ConversationModel) => toGlobalId('Conversation', c.sourceId, c.nativeId);

function bruteForce(
  all: ConversationModel[],
  f: ConversationFilterInput & { sources?: string[]; participant?: { sourceId: string; nativeId: string } },
) {
  return all.filter((c) => {
    if (f.sources && !f.sources.includes(c.sourceId)) return false;
    if (f.status && !f.status.includes(c.status)) return false;
    if (f.unreadOnly && !((c.unreadCount ?? 0) > 0)) return false;
    if (f.labels && !f.labels.some((l) => c.labels.includes(l))) return false;
    if (
      f.participant &&
      (c.sourceId !== f.participant.sourceId ||
        !(c.participants ?? []).some((p) => p.nativeId === f.participant?.nativeId))
    )
      return false;
    return true;
  });
}

const KINDS: SourceKind[] = ['PIXIESET', 'PROTOCOL', 'CHATWOOT', 'MONICA'];
const SIZE = fc.constantFrom(0, 0.25, 1, 3);
const PAGE_SIZES = fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 8 });

describe('the inbox over four sources (property)', () => {
  it('walks forward and backward to exactly the sorted union, for random datasets and page sizes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          seed: fc.integer({ min: 1, max: 10_000 }),
          scales: fc.tuple(SIZE, SIZE, SIZE, SIZE),
          forward: PAGE_SIZES,
          backward: PAGE_SIZES,
        }),
        async ({ seed, scales, forward, backward }) => {
          const t = await startTestGateway({
            seed,
            scales: Object.fromEntries(KINDS.map((k, i) => [k, scales[i]])),
            rateLimitPerMinute: 1_000_000,
          });
          try {
            const truth = (await everything(t)).map(gid);
            expect(new Set(truth).size).toBe(truth.length);
            expect(await walkForward(t, forward)).toEqual(truth);
            expect(await walkBackward(t, backward)).toEqual(truth);
            const first = await page(t, { first: 1 });
            expect(first.totalCount).toBe(truth.length);
          } finally {
            await t.close();
          }
        },
      ),
      { numRuns: 4, seed: 20261121 },
    );
  });

  it('agrees with a brute-force filter for every filter field, in both directions', async () => {
    const t = await startTestGateway({ seed: 7, scale: 2, rateLimitPerMinute: 1_000_000 });
    try {
      const all = await everything(t);
      const withContact = all.find(
        (c) => c.sourceId === 'chatwoot' && (c.participants ?? []).some((p) => p.kind === 'CONTACT'),
      )!;
      const contact = withContact.participants!.find((p) => p.kind === 'CONTACT')!;
      await fc.assert(
        fc.asyncProperty(
          fc.record(
            {
              sources: fc.subarray(['pixieset', 'protocol', 'chatwoot', 'monica'], { minLength: 1 }),
              status: fc.subarray(['OPEN', 'PENDING', 'SNOOZED', 'RESOLVED', 'ARCHIVED'], { minLength: 1 }),
              unreadOnly: fc.boolean(),
              labels: fc.subarray(['billing', 'bug', 'vip', 'feedback', 'sales', 'urgent'], { minLength: 1 }),
              participant: fc.constant(true),
            },
            { requiredKeys: [] },
          ),
          fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 4 }),
          async (f, sizes) => {
            const gql: GqlFilter = {
              ...(f.sources ? { sources: f.sources } : {}),
              ...(f.status ? { status: f.status } : {}),
              ...(f.unreadOnly !== undefined ? { unreadOnly: f.unreadOnly } : {}),
              ...(f.labels ? { labels: f.labels } : {}),
              ...(f.participant
                ? { participantId: toGlobalId('Participant', contact.sourceId, contact.nativeId) }
                : {}),
            };
            const expected = bruteForce(all, {
              sources: f.sources,
              status: f.status as ConversationFilterInput['status'],
              unreadOnly: f.unreadOnly,
              labels: f.labels,
              participant: f.participant ? { sourceId: contact.sourceId, nativeId: contact.nativeId } : undefined,
            }).map(gid);
            expect(await walkForward(t, sizes, gql)).toEqual(expected);
            expect(await walkBackward(t, sizes, gql)).toEqual(expected);
          },
        ),
        { numRuns: 25, seed: 42 },
      );
    } finally {
      await t.close();
    }
  });

  it('walks thousands of conversations per source to exactly the sorted union', async () => {
    const t = await startTestGateway({ seed: 3, scale: 100, rateLimitPerMinute: 1_000_000 });
    try {
      const truth = (await everything(t)).map(gid);
      expect(truth.length).toBeGreaterThanOrEqual(7_500);
      expect(await walkForward(t, [100, 37, 100, 64])).toEqual(truth);
      expect(await walkBackward(t, [100, 51])).toEqual(truth);
    } finally {
      await t.close();
    }
  });

  it('keeps its promise while messages arrive during the walk: no duplicates, and every unchanged conversation exactly once', async () => {
    const t = await startTestGateway({ seed: 11, scale: 2, rateLimitPerMinute: 1_000_000 });
    try {
      const all = await everything(t);
      const byGid = new Map(all.map((c) => [gid(c), c]));
      const touched = new Set<string>();
      const rnd = fc.sample(fc.integer({ min: 0, max: all.length - 1 }), { numRuns: 400, seed: 5 });
      const seen: string[] = [];
      let after: string | null = null;
      for (let i = 0; ; i++) {
        const c = await page(t, { first: 7, after });
        seen.push(...c.edges.map((e) => e.node.id));
        // Between pages, clients write into two random conversations.
        for (const j of [rnd[2 * i] ?? 0, rnd[2 * i + 1] ?? 0]) {
          const target = all[j]!;
          touched.add(gid(target));
          t.embedded.sandbox.emulators
            .get(target.sourceId)!
            .controls.simulateIncoming({ conversationId: target.nativeId, content: 'Just checking in' });
        }
        if (!c.pageInfo.hasNextPage) break;
        after = c.pageInfo.endCursor;
      }
      expect(new Set(seen).size).toBe(seen.length);
      const unchanged = [...byGid.keys()].filter((id) => !touched.has(id));
      const seenSet = new Set(seen);
      expect(unchanged.filter((id) => !seenSet.has(id))).toEqual([]);
      expect(touched.size).toBeGreaterThan(10);
    } finally {
      await t.close();
    }
  });
});
