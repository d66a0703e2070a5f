import fc from 'fast-check';
import {
  catalogPage,
  ConversationCatalog,
  filterIsEmpty,
  inInboxOrder,
  markInboxOrder,
} from '../../../src/connectors/catalog';
import {
  createInterner,
  createMemoryCatalogStore,
  insertSorted,
  removeSorted,
} from '../../../src/connectors/catalog-stores/memory';
import {
  compareConversations,
  type ConversationFilterInput,
  type ConversationModel,
} from '../../../src/connectors/types';
import { conversationModel as conv, messageModel } from '../../utils/catalog-stores';

/**
 * The memory store's sorted index and compact entries (issue 13 target 5), and the catalog's page over them:
 * every property is checked against the brute force (sort the whole catalog, filter it, slice it).
 */
const bruteForce = (items: Iterable<ConversationModel>) => [...items].sort(compareConversations);
const ids = (items: readonly ConversationModel[]) => items.map((c) => c.nativeId);

/** Few distinct times and numeric-looking ids, so that ties on lastMessageAt (broken by id) are common. */
const arbTime = fc
  .option(fc.integer({ min: 0, max: 6 }), { nil: null })
  .map((n) => (n === null ? null : new Date(n * 1000)));
const arbId = fc.integer({ min: 1, max: 40 }).map(String);
const arbConversation = fc
  .record({
    id: arbId,
    at: arbTime,
    status: fc.constantFrom('OPEN' as const, 'RESOLVED' as const),
    unread: fc.integer({ min: 0, max: 2 }),
  })
  .map(({ id, at, status, unread }) =>
    conv(id, {
      lastMessageAt: at,
      status,
      unreadCount: unread,
      lastMessage: at ? messageModel(id, { sentAt: new Date(at.getTime()) }) : null,
    }),
  );
const arbStep = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), items: fc.array(arbConversation, { maxLength: 30 }) }),
  fc.record({
    kind: fc.constant('patch' as const),
    upserts: fc.array(arbConversation, { maxLength: 5 }),
    removals: fc.array(arbId, { maxLength: 3 }),
  }),
);

describe('the memory catalog store keeps a sorted index', () => {
  it('reads back every conversation in the inbox order after any mix of full writes and patches (brute force: a map and a sort)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbStep, { minLength: 1, maxLength: 12 }), async (steps) => {
        const store = createMemoryCatalogStore();
        let model: Map<string, ConversationModel> | null = null;
        for (const step of steps) {
          if (step.kind === 'write') {
            await store.write('s', { syncedAt: 1, items: step.items });
            model = new Map(step.items.map((c) => [c.nativeId, c]));
          } else {
            await store.patch('s', step.upserts, step.removals);
            if (model) {
              for (const c of step.upserts) model.set(c.nativeId, c);
              for (const id of step.removals) model.delete(id);
            }
          }
          const snap = await store.read('s');
          if (!model) {
            expect(snap).toBeNull();
            continue;
          }
          const expected = bruteForce(model.values());
          expect(ids(snap!.items)).toEqual(ids(expected));
          expect(snap!.items).toEqual(expected);
          // Known to be sorted: the catalog's page takes it as it is.
          expect(inInboxOrder(snap!.items)).toBe(snap!.items);
        }
        await store.close();
      }),
      { numRuns: 200 },
    );
  });

  it('hands out a new array on each patch and leaves the one a reader holds as it was', async () => {
    const store = createMemoryCatalogStore();
    await store.write('s', { syncedAt: 1, items: [conv('a'), conv('b')] });
    const held = (await store.read('s'))!.items;
    const before = ids(held);
    await store.patch('s', [conv('c', { lastMessageAt: new Date('2027-01-01T00:00:00Z') })], ['a']);
    expect(ids(held)).toEqual(before);
    expect(ids((await store.read('s'))!.items)).toEqual(['c', 'b']);
  });

  it('inserts and removes by binary search, and finds an entry whose key changed under it by a linear search', () => {
    const sorted: ConversationModel[] = [];
    const a = conv('a', { lastMessageAt: new Date(3000) });
    const b = conv('b', { lastMessageAt: new Date(2000) });
    const c = conv('c', { lastMessageAt: null });
    for (const x of [c, a, b]) insertSorted(sorted, x);
    expect(ids(sorted)).toEqual(['a', 'b', 'c']);
    removeSorted(sorted, { ...b, lastMessageAt: new Date(9000) });
    expect(ids(sorted)).toEqual(['a', 'c']);
    removeSorted(sorted, conv('zz'));
    expect(ids(sorted)).toEqual(['a', 'c']);
  });
});

describe('compact entries', () => {
  it('are equal to the models written, share equal participants, senders, label sets and empty lists, and one Date per time', () => {
    const intern = createInterner();
    const ada = messageModel('x').sender!;
    const one = conv('1', { participants: [{ ...ada }], labels: ['a', 'b'] });
    const two = conv('2', { participants: [{ ...ada }], labels: ['a', 'b'] });
    const [c1, c2] = [intern.conversation(one), intern.conversation(two)];
    expect(c1).toEqual(one);
    expect(c2).toEqual(two);
    expect(c1.participants![0]).toBe(c2.participants![0]);
    expect(c1.lastMessage!.sender).toBe(c1.participants![0]);
    expect(c1.labels).toBe(c2.labels);
    expect(c1.lastMessage!.attachments).toBe(c2.lastMessage!.attachments);
    expect(c1.lastMessage!.sentAt).toBe(c1.lastMessageAt);
    expect(c1.lastMessage!.conversationNativeId).toBe(c1.nativeId);
  });

  it('keeps participants that differ in any field apart', () => {
    const intern = createInterner();
    const ada = messageModel('x').sender!;
    const c1 = intern.conversation(conv('1', { participants: [ada] }));
    const c2 = intern.conversation(conv('2', { participants: [{ ...ada, email: null }] }));
    expect(c2.participants![0]!.email).toBeNull();
    expect(c1.participants![0]!.email).toBe('ada@example.com');
  });
});

describe('catalogPage', () => {
  const arbFilter: fc.Arbitrary<ConversationFilterInput> = fc.record({
    status: fc.option(fc.subarray(['OPEN' as const, 'RESOLVED' as const]), { nil: null }),
    unreadOnly: fc.option(fc.boolean(), { nil: null }),
  });
  const matches = (f: ConversationFilterInput) => (c: ConversationModel) =>
    (!f.status || f.status.length === 0 || f.status.includes(c.status)) && (!f.unreadOnly || (c.unreadCount ?? 0) > 0);

  it('answers every window and filter as the brute force does (filter, sort, slice), from sorted or unsorted arrays', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(arbConversation, { selector: (c) => c.nativeId, maxLength: 40 }),
        arbFilter,
        fc.nat(45),
        fc.nat(45),
        fc.boolean(),
        (items, filter, offset, limit, presorted) => {
          const all = presorted ? markInboxOrder(bruteForce(items)) : items;
          const expected = bruteForce(items.filter(matches(filter)));
          const page = catalogPage(all, filter, offset, limit, matches(filter));
          expect(ids(page.items)).toEqual(ids(expected.slice(offset, offset + limit)));
          expect(page.total).toBe(expected.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('does not test a conversation at all without a filter (a slice of the sorted catalog)', () => {
    const all = markInboxOrder(bruteForce([conv('a'), conv('b'), conv('c')]));
    const spy = jest.fn(() => true);
    expect(filterIsEmpty({ status: [], labels: [], unreadOnly: false, search: null })).toBe(true);
    expect(ids(catalogPage(all, { status: [] }, 1, 5, spy).items)).toEqual(['b', 'c']);
    expect(spy).not.toHaveBeenCalled();
  });

  it('sorts an array in no known order once and remembers it', () => {
    const items = [conv('b', { lastMessageAt: new Date(1) }), conv('a', { lastMessageAt: new Date(2) })];
    const sorted = inInboxOrder(items);
    expect(ids(sorted)).toEqual(['a', 'b']);
    expect(inInboxOrder(items)).toBe(sorted);
    expect(ids(items)).toEqual(['b', 'a']);
  });
});

describe('the sync lease', () => {
  it('lasts twice the last full sync of this process, at least a minute, so that a long sync is not run twice', async () => {
    const store = createMemoryCatalogStore();
    const ttls: number[] = [];
    const acquireSync = store.acquireSync.bind(store);
    store.acquireSync = (sourceId, ttlMs) => {
      ttls.push(ttlMs);
      return acquireSync(sourceId, ttlMs);
    };
    let now = 1_000_000;
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      const catalog = new ConversationCatalog(store, 's', 10);
      // A full sync that takes 150 s of the clock.
      const slow = async () => {
        now += 150_000;
        return [conv('a')];
      };
      await catalog.all(slow);
      await catalog.invalidate();
      await catalog.all(slow);
      expect(ttls).toEqual([60_000, 300_000]);
    } finally {
      clock.mockRestore();
      await store.close();
    }
  });
});

describe('lookups by id over the memory store', () => {
  it('answer from the store’s own index after every patch: upserted, moved and removed conversations', async () => {
    const store = createMemoryCatalogStore();
    const catalog = new ConversationCatalog(store, 's', 60_000);
    await store.write('s', { syncedAt: Date.now(), items: [conv('a'), conv('b')] });
    expect((await catalog.lookup('a'))?.nativeId).toBe('a');
    await store.patch(
      's',
      [conv('c'), conv('a', { subject: 'moved', lastMessageAt: new Date('2027-01-01T00:00:00Z') })],
      ['b'],
    );
    expect((await catalog.lookup('a'))?.subject).toBe('moved');
    expect((await catalog.lookup('c'))?.nativeId).toBe('c');
    expect(await catalog.lookup('b')).toBeUndefined();
    await store.close();
  });
});
