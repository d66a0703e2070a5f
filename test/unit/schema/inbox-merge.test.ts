import fc from 'fast-check';
import { catalogPage, markInboxOrder } from '../../../src/connectors/catalog';
import { compareConversations, type ConversationModel } from '../../../src/connectors/types';
import type { GatewayContext } from '../../../src/schema/context';
import { mergedCompare, resolveInbox } from '../../../src/schema/inbox';
import { conversationModel as conv } from '../../utils/catalog-stores';

/**
 * The inbox's merge of per-source runs (src/schema/inbox.ts: a k-way merge that stops one item past the page, and
 * positions without a search), over sessions that serve sorted in-memory streams: every forward and backward walk
 * equals the brute force (all sources' conversations in one sort), and pageInfo says exactly whether more lie each way.
 */
type Streams = Record<string, ConversationModel[]>;

function contextOver(streams: Streams): GatewayContext {
  const sorted = Object.fromEntries(
    Object.entries(streams).map(([s, items]) => [s, markInboxOrder([...items].sort(compareConversations))]),
  );
  return {
    sourceErrors: [],
    visibleSources: () => Object.keys(sorted).map((id) => ({ id })),
    session: (s: string) => ({
      listConversations: async (req: { offset: number; limit: number; filter: object }) =>
        catalogPage(sorted[s] ?? [], req.filter, req.offset, req.limit, () => true),
    }),
  } as unknown as GatewayContext;
}

const key = (c: ConversationModel) => `${c.sourceId}/${c.nativeId}`;
const arbStreams: fc.Arbitrary<Streams> = fc
  .dictionary(
    fc.constantFrom('a', 'b', 'c', 'd'),
    fc.uniqueArray(
      fc.record({ id: fc.integer({ min: 1, max: 60 }), at: fc.option(fc.integer({ min: 0, max: 8 }), { nil: null }) }),
      { selector: (r) => r.id, maxLength: 25 },
    ),
  )
  .map((d) =>
    Object.fromEntries(
      Object.entries(d).map(([s, rows]) => [
        s,
        rows.map((r) =>
          conv(String(r.id), { sourceId: s, lastMessageAt: r.at === null ? null : new Date(r.at * 1000) }),
        ),
      ]),
    ),
  );

describe('the inbox merge', () => {
  it('walks forward and backward through exactly the sorted union, with exact hasNextPage and hasPreviousPage', async () => {
    await fc.assert(
      fc.asyncProperty(arbStreams, fc.integer({ min: 1, max: 7 }), async (streams, size) => {
        const ctx = contextOver(streams);
        const all = Object.values(streams).flat().sort(mergedCompare).map(key);
        // Forward.
        const seen: string[] = [];
        let after: string | null = null;
        for (let guard = 0; guard < 200; guard++) {
          const page = await resolveInbox(ctx, { first: size, after });
          const ids = page.edges.map((e) => key(e.node));
          expect(ids).toEqual(all.slice(seen.length, seen.length + size));
          expect(page.hasPreviousPage).toBe(seen.length > 0);
          seen.push(...ids);
          expect(page.hasNextPage).toBe(seen.length < all.length);
          expect(page.totalCount).toBe(all.length);
          if (!page.hasNextPage || page.edges.length === 0) break;
          after = page.edges[page.edges.length - 1]!.cursor;
        }
        expect(seen).toEqual(all);
        // Backward.
        const back: string[] = [];
        let before: string | null = null;
        for (let guard = 0; guard < 200; guard++) {
          const page = await resolveInbox(ctx, { last: size, before });
          const ids = page.edges.map((e) => key(e.node));
          const end = all.length - back.length;
          expect(ids).toEqual(all.slice(Math.max(0, end - size), end));
          expect(page.hasNextPage).toBe(back.length > 0);
          back.unshift(...ids);
          expect(page.hasPreviousPage).toBe(back.length < all.length);
          if (!page.hasPreviousPage || page.edges.length === 0) break;
          before = page.edges[0]!.cursor;
        }
        expect(back).toEqual(all);
      }),
      { numRuns: 150 },
    );
  });

  it('says there is a previous page after one item of a single source (the cursor’s own item, at position 0)', async () => {
    const ctx = contextOver({ a: [conv('1', { sourceId: 'a' }), conv('2', { sourceId: 'a' })] });
    const first = await resolveInbox(ctx, { first: 1 });
    expect(first.hasPreviousPage).toBe(false);
    const second = await resolveInbox(ctx, { first: 1, after: first.edges[0]!.cursor });
    expect(second.edges.map((e) => e.node.nativeId)).toEqual(['2']);
    expect(second.hasPreviousPage).toBe(true);
    expect(second.hasNextPage).toBe(false);
  });
});
