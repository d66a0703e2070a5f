import { createServer, type Server } from 'node:http';
import { rejection } from '../../../utils/errors';
import { vendorConfig } from '../../../utils/vendors';
import { sleep, waitFor } from '../../../utils/wait';
import type { AddressInfo } from 'node:net';
import { createChatwootConnector, CHATWOOT_CAPABILITIES } from '../../../../src/connectors/chatwoot';
import { mapConversation } from '../../../../src/connectors/chatwoot/mapper';
import { chatwootConversationList } from '../../../../src/connectors/chatwoot/types';
import { matchesFilter } from '../../../../src/connectors/paging';
import {
  compareConversations,
  type Connector,
  type ConnectorSession,
  type ConversationFilterInput,
  type ConversationModel,
} from '../../../../src/connectors/types';
import type { ChatwootSourceConfig } from '../../../../src/config/schema';
import {
  CHATWOOT_SANDBOX_ACCOUNT_ID,
  CHATWOOT_SANDBOX_AGENT_TOKEN,
  CHATWOOT_SANDBOX_TOKEN,
  CHATWOOT_SANDBOX_WEBHOOK_TOKEN,
  startChatwootEmulator,
} from '../../../../src/sandbox/chatwoot';
import type { EmulatorHandle } from '../../../../src/sandbox/kit/server';

/** The Chatwoot connector against its emulator over loopback HTTP. */

const A = `/api/v1/accounts/${CHATWOOT_SANDBOX_ACCOUNT_ID}`;
const ctx = { sourceId: 'chatwoot', accountId: CHATWOOT_SANDBOX_ACCOUNT_ID };
/** A scope as the live engine gives applyChanges (docs/live.md "Sessions"). */
const LIVE = { requestId: 'live-chatwoot-1' };

/**
 * The sandbox's Chatwoot config (test/utils/vendors.ts) with this suite's differences: no retries (exact request
 * counts), no webhookSecret (deliveries are checked by token) and no readCheckIntervalMs (the vendor default).
 */
function configFor(h: EmulatorHandle, over: Partial<ChatwootSourceConfig> = {}): ChatwootSourceConfig {
  return vendorConfig('CHATWOOT', h.url, {
    retries: 0,
    webhookSecret: undefined,
    readCheckIntervalMs: undefined,
    ...over,
  });
}

const vendorRequests = (h: EmulatorHandle, path?: RegExp) =>
  h.requests().filter((r) => r.path.startsWith('/api/') && (!path || path.test(r.path)));

/** Waits (3 s at most) until `check` holds. */
const until = (check: () => boolean) => waitFor(check, { timeoutMs: 3000, what: 'the check to hold' });

/** What the inbox shows of a conversation, to compare the catalog with the vendor. */
const shown = (c: ConversationModel) => ({
  nativeId: c.nativeId,
  status: c.status,
  unreadCount: c.unreadCount,
  muted: c.muted,
  labels: c.labels,
  lastMessageAt: c.lastMessageAt,
  lastMessage: c.lastMessage?.content ?? null,
  participants: c.participants?.map((p) => p.nativeId),
});

/** The ground truth straight from the emulator: every conversation, mapped, with its message texts. */
async function truth(h: EmulatorHandle): Promise<Array<{ model: ConversationModel; texts: string[] }>> {
  const out: Array<{ model: ConversationModel; texts: string[] }> = [];
  const headers = { api_access_token: CHATWOOT_SANDBOX_TOKEN };
  for (let page = 1; ; page++) {
    const body = chatwootConversationList.parse(
      await (await fetch(`${h.url}${A}/conversations?status=all&page=${page}`, { headers })).json(),
    );
    for (const dto of body.data.payload) {
      const msgs = (await (
        await fetch(`${h.url}${A}/conversations/${dto.id}/messages?after=0`, { headers })
      ).json()) as {
        payload: Array<{ content: string | null; message_type: number }>;
      };
      out.push({
        model: mapConversation(ctx, dto),
        texts: msgs.payload.filter((m) => m.message_type === 0 || m.message_type === 1).map((m) => m.content ?? ''),
      });
    }
    if (body.data.payload.length < 25) break;
  }
  h.clearRequests();
  return out;
}
const expected = (all: Array<{ model: ConversationModel; texts: string[] }>, f: ConversationFilterInput) =>
  all
    .filter(({ model, texts }) => matchesFilter(model, f, model.participants ?? [], texts))
    .map(({ model }) => model)
    .sort(compareConversations)
    .map((c) => c.nativeId);

describe('chatwoot connector: any CONVERSATION_RESULTS_PER_PAGE (docs/vendors/chatwoot.md "Pagination")', () => {
  /** Every conversation of the account in the list's order, read by hand to the empty page. */
  async function listed(h: EmulatorHandle, query: string): Promise<string[]> {
    const ids: string[] = [];
    for (let page = 1; ; page++) {
      const res = await fetch(`${h.url}${A}/conversations?${query}&page=${page}`, {
        headers: { api_access_token: CHATWOOT_SANDBOX_TOKEN },
      });
      const body = chatwootConversationList.parse(await res.json());
      if (body.data.payload.length === 0) break;
      ids.push(...body.data.payload.map((c) => `${CHATWOOT_SANDBOX_ACCOUNT_ID}:${c.id}`));
    }
    h.clearRequests();
    return ids;
  }
  const pagesAsked = (h: EmulatorHandle) =>
    vendorRequests(h, /\/conversations$/).map((r) => `${r.query.q ? 'q ' : ''}${String(r.query.page)}`);

  it.each([
    [25, ['1', '2', '1']],
    [10, ['1', '2', '3', '4', '5', '1']],
  ])('reads every page at page size %i, to a short or empty page, then catches up', async (pageSize, pages) => {
    const h = await startChatwootEmulator({ port: 0, scale: 2, pageSize });
    try {
      const want = await listed(h, 'status=all&sort_by=last_activity_at_desc');
      const c = createChatwootConnector(configFor(h));
      const page = await c.openSession({ requestId: 'p' }).listConversations({ offset: 0, limit: 100, filter: {} });
      expect(page.total).toBe(40);
      expect(page.items.map((x) => x.nativeId)).toEqual(want);
      // Pages 2.. are asked at once, so their order in the log may vary.
      expect(pagesAsked(h).sort()).toEqual([...pages].sort());
    } finally {
      await h.close();
    }
  });

  it('reads a page more when the last one is full, and one page of an account smaller than a page', async () => {
    const exact = await startChatwootEmulator({ port: 0, scale: 2, pageSize: 20 });
    const small = await startChatwootEmulator({ port: 0, scale: 1 });
    try {
      await createChatwootConnector(configFor(exact)).openSession({ requestId: 'e' }).unreadCount();
      // 40 rows in two full pages of 20: page 3 (empty) proves the end; then page 1 again (catch-up).
      expect(pagesAsked(exact).sort()).toEqual(['1', '1', '2', '3']);
      const s = createChatwootConnector(configFor(small)).openSession({ requestId: 's' });
      expect((await s.listConversations({ offset: 0, limit: 100, filter: {} })).total).toBe(20);
      // 20 rows on page 1 could be a full page of 20: page 2 (empty) says it was not.
      expect(pagesAsked(small)).toEqual(['1', '2']);
    } finally {
      await Promise.all([exact.close(), small.close()]);
    }
  });

  it.each([25, 10])(
    'finds all 17 conversations of a search at page size %i (two pages at 10), though its counts stop at one page',
    async (pageSize) => {
      const h = await startChatwootEmulator({ port: 0, scale: 2, pageSize });
      try {
        const matching = await listed(h, 'q=thanks&status=all&sort_by=last_activity_at_desc');
        expect(matching.length).toBe(17);
        const c = createChatwootConnector(configFor(h));
        const s = c.openSession({ requestId: 'q' });
        await s.unreadCount(); // the catalog first, so only the search's pages are counted below
        h.clearRequests();
        const r = await s.listConversations({ offset: 0, limit: 100, filter: { search: 'thanks' } });
        expect(r.items.map((x) => x.nativeId)).toEqual(expect.arrayContaining(matching));
        // 17 rows: 10 + 7 (short), or 17 then an empty page (17 could have been a full page).
        expect(pagesAsked(h)).toEqual(['q 1', 'q 2']);
      } finally {
        await h.close();
      }
    },
  );
});

describe('chatwoot connector', () => {
  let h: EmulatorHandle;
  let connector: Connector;
  let n = 0;
  const session = (): ConnectorSession => connector.openSession({ requestId: `test-${++n}` });

  beforeAll(async () => {
    h = await startChatwootEmulator({ port: 0, scale: 2 });
  });
  afterAll(() => h.close());
  beforeEach(() => {
    h.controls.reset();
    h.setFaults({});
    h.clearRequests();
    // A fresh connector, so each test starts with an empty catalog.
    connector = createChatwootConnector(configFor(h));
  });

  describe('listConversations', () => {
    it('syncs the catalog once (every 25-row page, status=all, inbox order) and serves any window from it', async () => {
      const all = await truth(h);
      const order = expected(all, {});
      const full = await session().listConversations({ offset: 0, limit: 100, filter: {} });
      expect(full.total).toBe(40);
      expect(full.items.map((c) => c.nativeId)).toEqual(order);
      expect([...full.items].sort(compareConversations)).toEqual(full.items);
      // Both pages, then page 1 again to catch conversations that moved up while the pages were read.
      expect(vendorRequests(h).map((r) => [r.path, r.query.page, r.query.status, r.query.sort_by])).toEqual([
        [`${A}/conversations`, '1', 'all', 'last_activity_at_desc'],
        [`${A}/conversations`, '2', 'all', 'last_activity_at_desc'],
        [`${A}/conversations`, '1', 'all', 'last_activity_at_desc'],
      ]);
      // The catalog holds what the inbox shows: participants, last message, unread, labels, status, mute.
      const byId = new Map(all.map(({ model }) => [model.nativeId, model]));
      for (const c of full.items)
        expect({ ...c, searchText: undefined }).toEqual({ ...byId.get(c.nativeId), searchText: undefined });

      h.clearRequests();
      const window = await session().listConversations({ offset: 20, limit: 10, filter: {} });
      expect(window.items.map((c) => c.nativeId)).toEqual(order.slice(20, 30));
      expect(window.total).toBe(40);
      expect(vendorRequests(h)).toHaveLength(0);
    });

    it('makes no request at all for a second operation while the snapshot is fresh', async () => {
      await session().unreadCount();
      h.clearRequests();
      const s = session();
      await s.listConversations({ offset: 0, limit: 20, filter: {} });
      await s.listConversations({ offset: 5, limit: 5, filter: { unreadOnly: true, status: ['OPEN', 'PENDING'] } });
      await session().listConversations({ offset: 0, limit: 10, filter: { labels: ['billing'] } });
      await session().unreadCount();
      expect(vendorRequests(h)).toHaveLength(0);
    });

    it('re-syncs when the snapshot is older than catalogMaxAgeMs', async () => {
      const c = createChatwootConnector(configFor(h, { catalogMaxAgeMs: 1 }));
      await c.openSession({ requestId: 'a' }).listConversations({ offset: 0, limit: 5, filter: {} });
      h.controls.simulateIncoming({ conversationId: '3', content: 'Seen by the next sync' });
      await sleep(5);
      h.clearRequests();
      const page = await c.openSession({ requestId: 'b' }).listConversations({ offset: 0, limit: 5, filter: {} });
      expect(vendorRequests(h).length).toBeGreaterThanOrEqual(2);
      expect(page.items[0]).toMatchObject({
        nativeId: '1:3',
        lastMessage: expect.objectContaining({ content: 'Seen by the next sync' }),
      });
    });

    it('keeps a conversation that moved up to a page already read while the sync was reading', async () => {
      const order = expected(await truth(h), {});
      const oldest = order[order.length - 1] as string;
      h.setFaults({ latencyMs: 40 });
      const listing = session().listConversations({ offset: 0, limit: 100, filter: {} });
      // Page 1 has been answered once page 2 is asked for; page 2 is answered 40 ms later.
      await until(() => vendorRequests(h).some((r) => r.query.page === '2'));
      h.controls.simulateIncoming({ conversationId: oldest, content: 'Moved while syncing' });
      const page = await listing;
      h.setFaults({});
      expect(page.total).toBe(40);
      expect(page.items[0]).toMatchObject({
        nativeId: oldest,
        lastMessage: expect.objectContaining({ content: 'Moved while syncing' }),
      });
    });

    it('filters by status from the catalog, one or several', async () => {
      const all = await truth(h);
      const open = await session().listConversations({ offset: 0, limit: 100, filter: { status: ['OPEN'] } });
      expect(open.items.map((c) => c.nativeId)).toEqual(expected(all, { status: ['OPEN'] }));
      expect(open.total).toBe(open.items.length);
      h.clearRequests();
      const f = { status: ['PENDING', 'SNOOZED'] as const };
      const both = await session().listConversations({ offset: 1, limit: 3, filter: { status: [...f.status] } });
      const want = expected(all, { status: [...f.status] });
      expect(both.total).toBe(want.length);
      expect(both.items.map((c) => c.nativeId)).toEqual(want.slice(1, 4));
      expect(vendorRequests(h)).toHaveLength(0);
    });

    it('matches nothing for ARCHIVED, which Chatwoot does not have, without asking it', async () => {
      expect(await session().listConversations({ offset: 0, limit: 10, filter: { status: ['ARCHIVED'] } })).toEqual({
        items: [],
        total: 0,
      });
      expect(vendorRequests(h)).toHaveLength(0);
    });

    it('filters labels from the catalog (any match)', async () => {
      const all = await truth(h);
      const r = await session().listConversations({ offset: 0, limit: 100, filter: { labels: ['billing', 'vip'] } });
      expect(r.items.map((c) => c.nativeId)).toEqual(expected(all, { labels: ['billing', 'vip'] }));
      expect(r.items.length).toBeGreaterThan(0);
      expect(r.total).toBe(r.items.length);
    });

    it('searches message contents through q and names locally, re-applying the status q ignores', async () => {
      const all = await truth(h);
      const byText = { search: 'charged twice', status: ['RESOLVED' as const] };
      const r = await session().listConversations({ offset: 0, limit: 100, filter: byText });
      expect(r.items.map((c) => c.nativeId)).toEqual(expected(all, byText));
      expect(r.items.length).toBeGreaterThan(0);
      expect(vendorRequests(h).some((x) => x.query.q === 'charged twice')).toBe(true);

      // While the catalog is fresh, a search costs only the pages of its `q` results.
      h.clearRequests();
      const name = all[3]?.model.participants?.[0]?.name?.split(' ')[1] as string;
      const byName = await session().listConversations({
        offset: 0,
        limit: 100,
        filter: { search: name.toLowerCase() },
      });
      expect(byName.items.map((c) => c.nativeId)).toEqual(expected(all, { search: name.toLowerCase() }));
      expect(byName.items.map((c) => c.nativeId)).toContain(all[3]?.model.nativeId);
      expect(vendorRequests(h).length).toBeGreaterThan(0);
      expect(vendorRequests(h).every((x) => x.query.q === name.toLowerCase() && x.query.status === 'all')).toBe(true);
    });

    it('applies unreadOnly and participant filters from the catalog with exact totals', async () => {
      const all = await truth(h);
      const unread = await session().listConversations({ offset: 0, limit: 100, filter: { unreadOnly: true } });
      expect(unread.items.map((c) => c.nativeId)).toEqual(expected(all, { unreadOnly: true }));
      expect(unread.total).toBe(unread.items.length);
      expect(unread.items.every((c) => (c.unreadCount ?? 0) > 0)).toBe(true);

      const contact = all[0]?.model.participants?.[0]?.nativeId as string;
      const mine = await session().listConversations({
        offset: 0,
        limit: 100,
        filter: { participantNativeId: 'user:1' },
      });
      expect(mine.items.map((c) => c.nativeId)).toEqual(expected(all, { participantNativeId: 'user:1' }));
      const theirs = await session().listConversations({
        offset: 0,
        limit: 100,
        filter: { participantNativeId: contact },
      });
      expect(theirs.items.map((c) => c.nativeId)).toEqual(expected(all, { participantNativeId: contact }));
      expect(theirs.total).toBeGreaterThan(0);
    });

    it('shares one sync between concurrent operations', async () => {
      await Promise.all([
        session().listConversations({ offset: 0, limit: 5, filter: {} }),
        session().listConversations({ offset: 5, limit: 5, filter: { unreadOnly: true } }),
        session().unreadCount(),
      ]);
      expect(vendorRequests(h)).toHaveLength(3);
    });
  });

  describe('reads', () => {
    it('loads a conversation once per session however often it is asked, and nothing for ids it cannot have', async () => {
      const s = session();
      const [a, b] = await Promise.all([s.loadConversation('1:5'), s.loadConversation('1:5')]);
      expect(a?.nativeId).toBe('1:5');
      expect(b).toEqual(a);
      await s.loadConversation('1:5');
      expect(vendorRequests(h, /\/conversations\/5$/)).toHaveLength(1);
      expect(await s.loadConversation('1:99999')).toBeNull();
      h.clearRequests();
      expect(await s.loadConversation('2:5')).toBeNull();
      expect(await s.loadConversation('garbage')).toBeNull();
      expect(vendorRequests(h)).toHaveLength(0);
    });

    it('serves conversations it listed without asking again', async () => {
      const s = session();
      const page = await s.listConversations({ offset: 0, limit: 10, filter: {} });
      h.clearRequests();
      const c = await s.loadConversation(page.items[3]?.nativeId as string);
      expect(c).toEqual(page.items[3]);
      expect(await s.loadParticipants(c as ConversationModel)).toEqual(c?.participants);
      expect(await s.loadLastMessage(c as ConversationModel)).toEqual(c?.lastMessage);
      expect(vendorRequests(h)).toHaveLength(0);
    });

    it('loads participants: a contact by id, users from one GET /agents, an agent bot by id', async () => {
      const s = session();
      expect(await s.loadParticipant('contact:1')).toMatchObject({ nativeId: 'contact:1', kind: 'CONTACT' });
      const [u1, u2] = await Promise.all([s.loadParticipant('user:1'), s.loadParticipant('user:3')]);
      expect(u1).toMatchObject({ nativeId: 'user:1', name: 'Alex', kind: 'AGENT', email: 'alex@acme.example' });
      expect(u2).toMatchObject({ nativeId: 'user:3', name: 'Priya Shah' });
      expect(await s.loadParticipant('agent_bot:1')).toMatchObject({
        nativeId: 'agent_bot:1',
        name: 'Captain',
        kind: 'BOT',
      });
      expect(await s.loadParticipant('contact:9999')).toBeNull();
      expect(await s.loadParticipant('user:77')).toBeNull();
      expect(await s.loadParticipant('team:1')).toBeNull();
      expect(vendorRequests(h, /\/agents$/)).toHaveLength(1);
    });

    it('counts unread as the sum of the catalog’s capped per-conversation counts, as the vendor shows them', async () => {
      // Twelve unread messages in one conversation: Chatwoot reports (and the sum counts) 10.
      for (let i = 0; i < 12; i++) h.controls.simulateIncoming({ conversationId: '2', content: `ping ${i}` });
      const u = await session().unreadCount();
      expect(u).toEqual({ sourceId: 'chatwoot', ...h.controls.unreadState() });
      expect(u?.total).toBeGreaterThan(0);
      const listed = await session().listConversations({ offset: 0, limit: 100, filter: {} });
      expect(listed.items.find((c) => c.nativeId === '1:2')?.unreadCount).toBe(10);
      expect(u?.total).toBe(listed.items.reduce((n, c) => n + (c.unreadCount ?? 0), 0));
      expect(u?.conversationsWithUnread).toBe(listed.items.filter((c) => (c.unreadCount ?? 0) > 0).length);
    });
  });

  describe('listMessages', () => {
    /** A conversation with exactly `count` messages (created through the connector). */
    async function conversationWith(count: number) {
      const s = session();
      const c = await s.createConversation({ participantNativeIds: ['contact:4'], content: 'message 0' });
      for (let i = 1; i < count; i++)
        await s.sendMessage({
          conversationNativeId: c.nativeId,
          content: `message ${i}`,
          private: false,
          attachmentIds: [],
          files: [],
        });
      h.clearRequests();
      return c.nativeId;
    }
    const texts = (p: { items: Array<{ message: { content: string | null } }> }) =>
      p.items.map((i) => i.message.content);
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `message ${from + i}`);

    it('pages backwards with last/before, 20 a request, and knows exactly when history starts', async () => {
      const id = await conversationWith(45);
      const s = session();
      const tail = await s.listMessages(id, { last: 5 });
      expect(texts(tail)).toEqual(range(40, 45));
      expect([tail.hasPreviousPage, tail.hasNextPage, tail.totalCount]).toEqual([true, false, null]);
      const more = await s.listMessages(id, { last: 25, before: tail.items[0]?.cursor });
      expect(texts(more)).toEqual(range(15, 40));
      expect([more.hasPreviousPage, more.hasNextPage]).toEqual([true, true]);
      const rest = await s.listMessages(id, { last: 15, before: more.items[0]?.cursor });
      expect(texts(rest)).toEqual(range(0, 15));
      // Exactly the start: one look-ahead request proves nothing is older.
      expect(rest.hasPreviousPage).toBe(false);
      const all = await s.listMessages(id, { last: 100 });
      expect(texts(all)).toEqual(range(0, 45));
      expect(all.hasPreviousPage).toBe(false);
    });

    it('pages forwards with first/after and says when the end is reached', async () => {
      const id = await conversationWith(30);
      const s = session();
      const head = await s.listMessages(id, { first: 10 });
      expect(texts(head)).toEqual(range(0, 10));
      expect([head.hasPreviousPage, head.hasNextPage]).toEqual([false, true]);
      const next = await s.listMessages(id, { first: 20, after: head.items[9]?.cursor });
      expect(texts(next)).toEqual(range(10, 30));
      expect([next.hasPreviousPage, next.hasNextPage]).toEqual([true, false]);
      const between = await s.listMessages(id, { after: head.items[2]?.cursor, before: head.items[6]?.cursor });
      expect(texts(between)).toEqual(range(3, 6));
      const oldestBefore = await s.listMessages(id, { first: 2, before: next.items[5]?.cursor });
      expect(texts(oldestBefore)).toEqual(range(0, 2));
      expect([oldestBefore.hasPreviousPage, oldestBefore.hasNextPage]).toEqual([false, true]);
    });

    it('tells an exactly-20-message history from a longer one (latest page is full)', async () => {
      const id = await conversationWith(20);
      const page = await session().listMessages(id, { last: 20 });
      expect(page.items).toHaveLength(20);
      expect(page.hasPreviousPage).toBe(false);
      expect(vendorRequests(h, /\/messages$/)).toHaveLength(2);
    });

    it('maps seeded messages with readAt from agent_last_seen_at, private notes and activity', async () => {
      const s = session();
      const all = await s.listConversations({ offset: 0, limit: 100, filter: {} });
      const messages = (await Promise.all(all.items.map((c) => s.listMessages(c.nativeId, { last: 100 })))).flatMap(
        (p) => p.items.map((i) => i.message),
      );
      expect(messages.some((m) => m.private)).toBe(true);
      expect(messages.some((m) => m.direction === 'ACTIVITY' && m.sender === null)).toBe(true);
      expect(messages.some((m) => m.direction === 'INCOMING' && m.readAt !== null)).toBe(true);
      expect(messages.some((m) => m.direction === 'INCOMING' && m.readAt === null)).toBe(true);
      expect(messages.some((m) => m.attachments.length > 0 && m.attachments.every((a) => a.filename && a.url))).toBe(
        true,
      );
    });

    it('refuses foreign cursors and unknown conversations', async () => {
      expect((await rejection(session().listMessages('1:1', { last: 5, before: 'i:3' }))).code).toBe('BAD_USER_INPUT');
      expect((await rejection(session().listMessages('1:99999', { last: 5 }))).code).toBe('NOT_FOUND');
      expect((await rejection(session().listMessages('9:1', { last: 5 }))).code).toBe('NOT_FOUND');
    });

    it('loads one message exactly (after=id&before=id+1) and null for one that does not exist', async () => {
      const s = session();
      const page = await s.listMessages('1:2', { last: 3 });
      const target = page.items[1]?.message;
      const m = await session().loadMessage(target?.nativeId as string);
      expect(m).toEqual(target);
      expect(await session().loadMessage('1:2/999999')).toBeNull();
      expect(await session().loadMessage('1:99999/1')).toBeNull();
    });
  });

  describe('writes', () => {
    it('sends a reply and a private note', async () => {
      const s = session();
      const m = await s.sendMessage({
        conversationNativeId: '1:1',
        content: 'On it!',
        private: false,
        attachmentIds: [],
        files: [],
      });
      expect(m).toMatchObject({
        conversationNativeId: '1:1',
        content: 'On it!',
        direction: 'OUTGOING',
        private: false,
        sender: { nativeId: 'user:1' },
      });
      expect(m.nativeId).toMatch(/^1:1\/\d+$/);
      const note = await s.sendMessage({
        conversationNativeId: '1:1',
        content: 'internal',
        private: true,
        attachmentIds: [],
        files: [],
      });
      expect(note.private).toBe(true);
      // The session forgets what it read before writing.
      expect((await s.loadLastMessage((await s.loadConversation('1:1')) as ConversationModel))?.content).toBe(
        'internal',
      );
    });

    it('sends files inline as multipart attachments[] and the bytes come back from data_url', async () => {
      const m = await session().sendMessage({
        conversationNativeId: '1:1',
        content: 'See the attached',
        private: false,
        attachmentIds: [],
        files: [
          { filename: 'report.pdf', contentType: 'application/pdf', data: Buffer.from('%PDF-1.4 demo') },
          { filename: 'photo.png', contentType: 'image/png', data: Buffer.from([0x89, 0x50, 0x4e, 0x47]) },
        ],
      });
      expect(m.attachments.map((a) => [a.filename, a.contentType, a.size])).toEqual([
        ['report.pdf', 'application/pdf', 13],
        ['photo.png', 'image/png', 4],
      ]);
      expect(await (await fetch(m.attachments[0]?.url as string)).text()).toBe('%PDF-1.4 demo');
    });

    it('refuses more than 15 files or a file over 40 MB before calling Chatwoot', async () => {
      const file = { filename: 'a.txt', contentType: 'text/plain', data: Buffer.from('a') };
      const tooMany = await rejection(
        session().sendMessage({
          conversationNativeId: '1:1',
          content: 'x',
          private: false,
          attachmentIds: [],
          files: Array.from({ length: 16 }, () => file),
        }),
      );
      expect(tooMany.code).toBe('BAD_USER_INPUT');
      const big = { ...file, data: Buffer.alloc(40 * 1024 * 1024 + 1) };
      const tooBig = await rejection(
        session().sendMessage({
          conversationNativeId: '1:1',
          content: 'x',
          private: false,
          attachmentIds: [],
          files: [big],
        }),
      );
      expect(tooBig.code).toBe('FILE_TOO_LARGE');
      expect(tooBig.extensions.maxSize).toBe(40 * 1024 * 1024);
      expect(vendorRequests(h)).toHaveLength(0);
    });

    it('creates a conversation with a contact in the default inbox, with a first message', async () => {
      const c = await session().createConversation({ participantNativeIds: ['contact:2'], content: 'Welcome!' });
      expect(c).toMatchObject({
        status: 'OPEN',
        channel: 'Channel::Api',
        participants: [expect.objectContaining({ nativeId: 'contact:2' })],
      });
      expect(c.lastMessage?.content).toBe('Welcome!');
      expect(vendorRequests(h, /\/conversations$/).map((r) => r.method)).toEqual(['POST']);
      const email = await session().createConversation({
        participantNativeIds: ['contact:1'],
        inboxId: '2',
        subject: 'Your refund',
      });
      expect(email).toMatchObject({ channel: 'Channel::Email', subject: 'Your refund' });
      expect((await rejection(session().createConversation({ participantNativeIds: ['user:1'] }))).code).toBe(
        'BAD_USER_INPUT',
      );
      expect((await rejection(session().createConversation({ participantNativeIds: ['contact:9999'] }))).code).toBe(
        'NOT_FOUND',
      );
    });

    it('updates status (incl. snoozed) with toggle_status and replaces labels', async () => {
      const s = session();
      const snoozed = await s.updateConversation('1:1', { status: 'SNOOZED', labels: ['bug', 'vip'] });
      expect(snoozed).toMatchObject({ status: 'SNOOZED', labels: ['bug', 'vip'] });
      const again = await s.updateConversation('1:1', { labels: ['feedback'] });
      expect(again.labels).toEqual(['feedback']);
      for (const status of ['PENDING', 'RESOLVED', 'OPEN'] as const)
        expect((await s.updateConversation('1:1', { status })).status).toBe(status);
    });

    it('mutes by resolving and blocking the contact; an explicit status in the same patch wins', async () => {
      const s = session();
      const open = (await s.listConversations({ offset: 0, limit: 100, filter: { status: ['OPEN'] } })).items.find(
        (c) => !c.muted,
      ) as ConversationModel;
      const muted = await s.updateConversation(open.nativeId, { muted: true });
      expect(muted).toMatchObject({ muted: true, status: 'RESOLVED' });
      const both = await session().updateConversation(open.nativeId, { muted: true, status: 'OPEN' });
      expect(both).toMatchObject({ muted: true, status: 'OPEN' });
      expect((await session().updateConversation(open.nativeId, { muted: false })).muted).toBe(false);
    });

    it('refuses pin, archive, subject and the ARCHIVED status as unsupported without writing', async () => {
      for (const patch of [{ pinned: true }, { archived: true }, { subject: 'x' }, { status: 'ARCHIVED' as const }]) {
        expect((await rejection(session().updateConversation('1:1', patch))).code).toBe('UNSUPPORTED_OPERATION');
      }
      expect((await rejection(session().editMessage('1:1/1', 'x'))).code).toBe('UNSUPPORTED_OPERATION');
      expect(vendorRequests(h)).toHaveLength(0);
      expect(CHATWOOT_CAPABILITIES).toMatchObject({
        pin: false,
        archive: false,
        editMessage: false,
        editableSubject: false,
      });
    });

    it('marks read and unread through update_last_seen and unread', async () => {
      const s = session();
      const unread = (await s.listConversations({ offset: 0, limit: 5, filter: { unreadOnly: true } }))
        .items[0] as ConversationModel;
      expect((await s.markRead(unread.nativeId)).unreadCount).toBe(0);
      expect((await session().markUnread(unread.nativeId)).unreadCount).toBe(1);
    });

    it('soft-deletes a message and deletes a conversation', async () => {
      const s = session();
      const m = await s.sendMessage({
        conversationNativeId: '1:1',
        content: 'typo',
        private: false,
        attachmentIds: [],
        files: [],
      });
      await s.deleteMessage(m.nativeId);
      expect((await session().loadMessage(m.nativeId))?.content).toBe('This message was deleted');
      await s.deleteConversation('1:1');
      expect(await session().loadConversation('1:1')).toBeNull();
      expect((await rejection(session().deleteMessage('1:2/999999'))).code).toBe('NOT_FOUND');
    });
  });

  describe('catalog freshness', () => {
    const send = (s: ConnectorSession, conversationNativeId: string, content: string) =>
      s.sendMessage({ conversationNativeId, content, private: false, attachmentIds: [], files: [] });
    const inbox = async () => (await session().listConversations({ offset: 0, limit: 100, filter: {} })).items;

    it('patches the catalog on every write, so the next operation sees it without a list request', async () => {
      const before = await inbox();
      const [first, second, third, fourth] = before.filter((c) => !c.muted && (c.unreadCount ?? 0) > 0);
      h.clearRequests();

      await session().markRead(first!.nativeId);
      const sent = await send(session(), second!.nativeId, 'Patched in');
      await session().updateConversation(third!.nativeId, { labels: ['patched'], status: 'PENDING' });
      await session().deleteConversation(fourth!.nativeId);
      await session().markUnread(first!.nativeId);
      await session().markRead(first!.nativeId);
      const created = await session().createConversation({ participantNativeIds: ['contact:2'], content: 'Brand new' });
      await session().deleteMessage(sent.nativeId);
      // Writes re-read the conversation they changed when their answer does not carry it; none lists.
      expect(vendorRequests(h, /\/conversations$/).map((r) => r.method)).toEqual(['POST']);

      h.clearRequests();
      const after = await inbox();
      const u = await session().unreadCount();
      expect(vendorRequests(h)).toHaveLength(0);
      expect(after.find((c) => c.nativeId === first!.nativeId)?.unreadCount).toBe(0);
      expect(after.find((c) => c.nativeId === second!.nativeId)?.lastMessage?.content).toBe('This message was deleted');
      expect(after.find((c) => c.nativeId === third!.nativeId)).toMatchObject({
        labels: ['patched'],
        status: 'PENDING',
      });
      expect(after.some((c) => c.nativeId === fourth!.nativeId)).toBe(false);
      expect(after.find((c) => c.nativeId === created.nativeId)?.lastMessage?.content).toBe('Brand new');
      // The patched catalog is what a full read of the vendor says.
      const all = await truth(h);
      expect(after.map(shown)).toEqual(
        all
          .map(({ model }) => model)
          .sort(compareConversations)
          .map(shown),
      );
      expect(u).toEqual({ sourceId: 'chatwoot', ...h.controls.unreadState() });
    });

    it('mutes every conversation of the blocked contact in the catalog at once', async () => {
      const before = await inbox();
      const contactOf = (c: ConversationModel) => c.participants?.find((p) => p.kind === 'CONTACT')?.nativeId;
      const target = before.find(
        (c) => !c.muted && before.filter((x) => contactOf(x) === contactOf(c)).length > 1,
      ) as ConversationModel;
      await session().updateConversation(target.nativeId, { muted: true });
      h.clearRequests();
      const after = await inbox();
      expect(vendorRequests(h)).toHaveLength(0);
      const theirs = after.filter((c) => contactOf(c) === contactOf(target));
      expect(theirs.length).toBeGreaterThan(1);
      expect(theirs.every((c) => c.muted)).toBe(true);
      expect(after.map(shown)).toEqual(
        (await truth(h))
          .map(({ model }) => model)
          .sort(compareConversations)
          .map(shown),
      );
    });

    it('spends nothing on the catalog before its first sync', async () => {
      await session().markRead('1:4');
      await send(session(), '1:4', 'No catalog yet');
      await connector.applyChanges?.(
        [
          { sourceId: 'chatwoot', conversationNativeId: '1:5' },
          { sourceId: 'chatwoot', conversationNativeId: null },
        ],
        LIVE,
      );
      expect(vendorRequests(h).map((r) => `${r.method} ${r.path}`)).toEqual([
        `POST ${A}/conversations/4/update_last_seen`,
        `POST ${A}/conversations/4/messages`,
      ]);
    });

    it('applyChanges re-reads each named conversation once, and drops one that is gone', async () => {
      await inbox();
      h.controls.simulateIncoming({ conversationId: '7', content: 'From the widget' });
      h.controls.simulateRead({ conversationId: '8' });
      const del = await fetch(`${h.url}${A}/conversations/9`, {
        method: 'DELETE',
        headers: { api_access_token: CHATWOOT_SANDBOX_TOKEN },
      });
      expect(del.status).toBe(200);
      h.clearRequests();
      const change = (id: string) => ({ sourceId: 'chatwoot', conversationNativeId: id });
      await connector.applyChanges?.([change('1:7'), change('1:8'), change('1:7'), change('1:9')], LIVE);
      expect(
        vendorRequests(h)
          .map((r) => r.path)
          .sort(),
      ).toEqual([`${A}/conversations/7`, `${A}/conversations/8`, `${A}/conversations/9`]);
      // The re-reads run in the caller's scope (the live engine's request ids and metrics), not one of their own.
      expect(vendorRequests(h).map((r) => r.headers['x-request-id'])).toEqual(Array(3).fill('live-chatwoot-1'));
      h.clearRequests();
      const after = await inbox();
      expect(vendorRequests(h)).toHaveLength(0);
      expect(after[0]).toMatchObject({
        nativeId: '1:7',
        lastMessage: expect.objectContaining({ content: 'From the widget' }),
      });
      expect(after.find((c) => c.nativeId === '1:8')?.unreadCount).toBe(0);
      expect(after.some((c) => c.nativeId === '1:9')).toBe(false);
      expect(after.map(shown)).toEqual(
        (await truth(h))
          .map(({ model }) => model)
          .sort(compareConversations)
          .map(shown),
      );
    });

    it('invalidates the catalog on a change without a conversation (contact_updated), so the next read re-syncs', async () => {
      await inbox();
      h.clearRequests();
      await connector.applyChanges?.([{ sourceId: 'chatwoot', conversationNativeId: null }], LIVE);
      expect(vendorRequests(h)).toHaveLength(0);
      await session().unreadCount();
      expect(vendorRequests(h, /\/conversations$/).length).toBeGreaterThan(0);
    });

    it('applies a change that arrives during a sync once the sync has stored its snapshot', async () => {
      const all = await truth(h);
      const order = expected(all, {});
      // Unread and on page 2, so that the catch-up read of page 1 does not see it again.
      const target = order
        .slice(25)
        .find((id) => (all.find(({ model }) => model.nativeId === id)?.model.unreadCount ?? 0) > 0) as string;
      h.setFaults({ latencyMs: 40 });
      const listing = session().listConversations({ offset: 0, limit: 100, filter: {} });
      // The second request for page 1 is the catch-up: page 2 has been read by then.
      await until(() => vendorRequests(h).filter((r) => r.query.page === '1').length === 2);
      h.controls.simulateRead({ conversationId: target });
      const applied = connector.applyChanges?.([{ sourceId: 'chatwoot', conversationNativeId: target }], LIVE);
      await Promise.all([listing, applied]);
      h.setFaults({});
      expect((await inbox()).find((c) => c.nativeId === target)?.unreadCount).toBe(0);
      expect(await session().unreadCount()).toEqual({ sourceId: 'chatwoot', ...h.controls.unreadState() });
    });
  });

  describe('errors', () => {
    it('maps a bad token to SOURCE_AUTH_FAILED and a Pundit 401 to FORBIDDEN', async () => {
      const bad = createChatwootConnector(configFor(h, { credentials: { apiAccessToken: 'wrong' } }));
      expect(
        (await rejection(bad.openSession({ requestId: 'x' }).listConversations({ offset: 0, limit: 5, filter: {} })))
          .code,
      ).toBe('SOURCE_AUTH_FAILED');
      const agent = createChatwootConnector(
        configFor(h, { credentials: { apiAccessToken: CHATWOOT_SANDBOX_AGENT_TOKEN } }),
      );
      const e = await rejection(agent.openSession({ requestId: 'x' }).deleteConversation('1:1'));
      expect([e.code, e.extensions.source]).toEqual(['FORBIDDEN', 'chatwoot']);
    });

    it('maps a 422 to SOURCE_REJECTED with the vendor message', async () => {
      const e = await rejection(
        session().sendMessage({
          conversationNativeId: '1:1',
          content: 'x'.repeat(150_001),
          private: false,
          attachmentIds: [],
          files: [],
        }),
      );
      expect(e.code).toBe('SOURCE_REJECTED');
      expect(e.message).toContain('Content is too long');
    });

    it('maps Rack::Attack 429 to SOURCE_RATE_LIMITED', async () => {
      const limited = await startChatwootEmulator({ port: 0, rateLimitPerMinute: 2 });
      try {
        const c = createChatwootConnector(configFor(limited));
        await c.openSession({ requestId: 'a' }).loadConversation('1:1');
        await c.openSession({ requestId: 'b' }).loadConversation('1:2');
        const e = await rejection(c.openSession({ requestId: 'c' }).loadConversation('1:3'));
        expect([e.code, e.extensions.source]).toEqual(['SOURCE_RATE_LIMITED', 'chatwoot']);
      } finally {
        await limited.close();
      }
    });
  });

  describe('webhooks', () => {
    let sink: Server;
    let deliveries: Array<{ url: string; raw: Buffer }> = [];
    let hooked: EmulatorHandle;
    beforeAll(async () => {
      sink = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          deliveries.push({ url: req.url ?? '', raw: Buffer.concat(chunks) });
          res.end();
        });
      });
      await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
      const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/webhooks/chatwoot?token=${CHATWOOT_SANDBOX_WEBHOOK_TOKEN}`;
      hooked = await startChatwootEmulator({ port: 0, webhook: () => ({ url }) });
    });
    afterAll(async () => {
      await hooked.close();
      await new Promise<void>((r) => sink.close(() => r()));
    });

    it('turns the emulator’s deliveries into changes of the right conversations (a read in Chatwoot sends none)', async () => {
      deliveries = [];
      const c = createChatwootConnector(configFor(hooked));
      // docs/vendors/chatwoot.md "Unread semantics": update_last_seen writes with update_column, no webhook.
      hooked.controls.simulateRead({ conversationId: '7' });
      hooked.controls.simulateIncoming({ conversationId: '4', content: 'Anyone?' });
      await c.openSession({ requestId: 'w' }).updateConversation('1:6', { labels: ['vip'] });
      const parse = () =>
        deliveries.flatMap((d) => {
          const query = Object.fromEntries(new URL(d.url, 'http://x').searchParams);
          return c.parseWebhook?.({ headers: {}, rawBody: d.raw, query }) ?? [];
        });
      await waitFor(() => new Set(parse().map((ch) => ch.conversationNativeId)).size >= 2, {
        timeoutMs: 3000,
        what: 'deliveries about two conversations',
      });
      // Deliveries are posted in order: the read's would have come first.
      await sleep(50);
      const changes = parse();
      expect(new Set(changes.map((ch) => ch.conversationNativeId))).toEqual(new Set(['1:4', '1:6']));
      expect(changes.every((ch) => ch.sourceId === 'chatwoot' && typeof ch.eventId === 'string')).toBe(true);
      const forged = { headers: {}, rawBody: deliveries[0]?.raw ?? Buffer.from('{}'), query: { token: 'guess' } };
      expect(() => c.parseWebhook?.(forged)).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
    });

    /** Every delivery so far, through the connector's parser. */
    const parsed = (c: Connector) =>
      deliveries.flatMap(
        (d) =>
          c.parseWebhook?.({
            headers: {},
            rawBody: d.raw,
            query: Object.fromEntries(new URL(d.url, 'http://x').searchParams),
          }) ?? [],
      );
    const hookedRequests = () => hooked.requests().filter((r) => r.path.startsWith('/api/'));

    it('keeps the catalog fresh from webhooks: parseWebhook → applyChanges updates the listed conversation and the unread sum', async () => {
      hooked.controls.reset();
      const c = createChatwootConnector(configFor(hooked));
      const open = (id: string) => c.openSession({ requestId: id });
      const before = await open('a').listConversations({ offset: 0, limit: 100, filter: {} });
      const unreadBefore = await open('b').unreadCount();
      const target = before.items.filter((x) => !x.muted && (x.unreadCount ?? 0) < 10).at(-1) as ConversationModel;
      deliveries = [];
      hooked.clearRequests();

      hooked.controls.simulateIncoming({ conversationId: target.nativeId, content: 'Anyone there?' });
      await until(() => parsed(c).some((ch) => ch.conversationNativeId === target.nativeId));
      await c.applyChanges?.(parsed(c), LIVE);
      // One re-read of the named conversation, then every read is served from the catalog.
      expect(hookedRequests().map((r) => `${r.method} ${r.path}`)).toEqual([
        `GET ${A}/conversations/${target.nativeId.split(':')[1]}`,
      ]);
      const after = await open('c').listConversations({ offset: 0, limit: 100, filter: {} });
      const unread = await open('d').unreadCount();
      expect(hookedRequests()).toHaveLength(1);
      expect(after.items[0]).toMatchObject({
        nativeId: target.nativeId,
        unreadCount: (target.unreadCount ?? 0) + 1,
        lastMessage: expect.objectContaining({ content: 'Anyone there?', direction: 'INCOMING' }),
      });
      expect(unread).toEqual({ sourceId: 'chatwoot', ...hooked.controls.unreadState() });
      expect(unread?.total).toBe((unreadBefore?.total ?? 0) + 1);
    });

    it('re-syncs after a contact_updated delivery (a mute blocks the contact of several conversations)', async () => {
      hooked.controls.reset();
      const c = createChatwootConnector(configFor(hooked));
      const before = await c.openSession({ requestId: 'a' }).listConversations({ offset: 0, limit: 100, filter: {} });
      const contactOf = (x: ConversationModel) => x.participants?.find((p) => p.kind === 'CONTACT')?.nativeId;
      const target = before.items.find(
        (x) => !x.muted && before.items.filter((y) => contactOf(y) === contactOf(x)).length > 1,
      ) as ConversationModel;
      deliveries = [];
      // Muted in Chatwoot's own UI, not through the gateway.
      const res = await fetch(`${hooked.url}${A}/conversations/${target.nativeId.split(':')[1]}/mute`, {
        method: 'POST',
        headers: { api_access_token: CHATWOOT_SANDBOX_TOKEN },
      });
      expect(res.status).toBe(200);
      await until(() => parsed(c).some((ch) => ch.conversationNativeId === null));
      await c.applyChanges?.(parsed(c), LIVE);
      hooked.clearRequests();
      const after = await c.openSession({ requestId: 'b' }).listConversations({ offset: 0, limit: 100, filter: {} });
      expect(hookedRequests().some((r) => r.path === `${A}/conversations`)).toBe(true);
      const theirs = after.items.filter((x) => contactOf(x) === contactOf(target));
      expect(theirs.length).toBeGreaterThan(1);
      expect(theirs.every((x) => x.muted)).toBe(true);
    });
  });
});
