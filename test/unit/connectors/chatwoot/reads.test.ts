import { createChatwootConnector } from '../../../../src/connectors/chatwoot';
import { CHATWOOT_FILTER_BATCH } from '../../../../src/connectors/chatwoot/client';
import { chatwootConversationList } from '../../../../src/connectors/chatwoot/types';
import type { Connector, SourceChange } from '../../../../src/connectors/types';
import type { ChatwootSourceConfig } from '../../../../src/config/schema';
import {
  CHATWOOT_SANDBOX_ACCOUNT_ID,
  CHATWOOT_SANDBOX_TOKEN,
  startChatwootEmulator,
  type ChatwootEmulatorOptions,
} from '../../../../src/sandbox/chatwoot';
import type { EmulatorHandle } from '../../../../src/sandbox/kit/server';
import { vendorConfig } from '../../../utils/vendors';

/**
 * Reads made in Chatwoot's own dashboard send no webhook (docs/vendors/chatwoot.md "Unread semantics"): the
 * connector's poll re-checks the conversations its catalog shows with unread messages (poll.ts), through
 * `GET /conversations/unread_counts` when Chatwoot answers it and `POST /conversations/filter` on display_id
 * otherwise. Every upstream request of a check is counted exactly from the emulator's log.
 */

const A = `/api/v1/accounts/${CHATWOOT_SANDBOX_ACCOUNT_ID}`;

/**
 * The sandbox's Chatwoot config (test/utils/vendors.ts) with this suite's differences: no webhooks configured
 * (neither token nor secret), a read check at every poll, no retries (exact request counts).
 */
function configFor(h: EmulatorHandle, over: Partial<ChatwootSourceConfig> = {}): ChatwootSourceConfig {
  return vendorConfig('CHATWOOT', h.url, {
    webhookToken: undefined,
    webhookSecret: undefined,
    // Below half the tick: every poll is a check.
    readCheckIntervalMs: 1,
    retries: 0,
    ...over,
  });
}

interface Row {
  id: number;
  status: string;
  unread: number;
}
/** The emulator's conversations as its API lists them (read by hand, not counted). */
async function rows(h: EmulatorHandle): Promise<Row[]> {
  const out: Row[] = [];
  for (let page = 1; ; page++) {
    const res = await fetch(`${h.url}${A}/conversations?status=all&page=${page}`, {
      headers: { api_access_token: CHATWOOT_SANDBOX_TOKEN },
    });
    const body = chatwootConversationList.parse(await res.json());
    if (body.data.payload.length === 0) break;
    out.push(...body.data.payload.map((c) => ({ id: c.id, status: c.status, unread: c.unread_count ?? 0 })));
  }
  h.clearRequests();
  return out;
}

/** What one check asked Chatwoot: `GET unread_counts`, and per filter request the display ids and page. */
function asked(h: EmulatorHandle): string[] {
  return h
    .requests()
    .filter((r) => r.path.startsWith('/api/'))
    .map((r) => {
      if (r.path === `${A}/conversations/unread_counts`) return `GET unread_counts ${r.status}`;
      if (r.path === `${A}/conversations/filter`) {
        const body = JSON.parse(r.body ?? '{}') as { payload: Array<{ values: number[] }> };
        const ids = [...(body.payload[0]?.values ?? [])].sort((a, b) => a - b);
        return `POST filter page ${String(r.query.page)} [${ids.join(',')}]`;
      }
      return `${r.method} ${r.path}?page=${String(r.query.page)}`;
    });
}
const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b);
const filterOf = (ids: number[], page = 1) => `POST filter page ${page} [${sorted(ids).join(',')}]`;
const scope = { requestId: 'live-chatwoot-1' };
const poll = (c: Connector): Promise<SourceChange[]> => c.poll!(scope);

async function start(opts: ChatwootEmulatorOptions & { scale?: number } = {}) {
  const h = await startChatwootEmulator({ port: 0, scale: opts.scale ?? 2, ...opts });
  const c = createChatwootConnector(configFor(h));
  const before = await rows(h);
  await c.openSession({ requestId: 'sync' }).unreadCount(); // the catalog's first sync
  h.clearRequests();
  return { h, c, before };
}

describe('chatwoot read checks: a dashboard read reaches the catalog and the live engine without a webhook', () => {
  const handles: EmulatorHandle[] = [];
  afterEach(async () => {
    await Promise.all(handles.splice(0).map((h) => h.close()));
  });
  const begin = async (opts: Parameters<typeof start>[0] = {}) => {
    const s = await start(opts);
    handles.push(s.h);
    return s;
  };

  it.each([
    ['disabled', 403],
    ['absent', 404],
  ] as const)(
    'without unread_counts (%s: %i) re-reads every unread conversation with one filter request per 25',
    async (mode, status) => {
      const { h, c, before } = await begin({ unreadCounts: mode });
      const unread = before.filter((r) => r.unread > 0);
      expect(unread.length).toBe(9); // scale 2: 7 open, 2 pending
      const target = unread.find((r) => r.status === 'open') as Row;
      h.controls.simulateRead({ conversationId: String(target.id) });

      const changes = await poll(c);
      expect(asked(h)).toEqual([`GET unread_counts ${status}`, filterOf(unread.map((r) => r.id))]);
      expect(changes).toEqual([
        {
          sourceId: 'chatwoot',
          conversationNativeId: `1:${target.id}`,
          conversation: expect.objectContaining({ nativeId: `1:${target.id}`, unreadCount: 0 }) as unknown,
        },
      ]);
      // The catalog holds the read: the totals drop without another request.
      h.clearRequests();
      const total = unread.reduce((n, r) => n + r.unread, 0);
      expect(await c.openSession({ requestId: 'u' }).unreadCount()).toEqual({
        sourceId: 'chatwoot',
        total: total - target.unread,
        conversationsWithUnread: 8,
      });
      expect(asked(h)).toEqual([]);

      // The next check does not ask for the counts again (for 10 minutes), and re-reads only what is still unread.
      expect(await poll(c)).toEqual([]);
      expect(asked(h)).toEqual([filterOf(unread.filter((r) => r !== target).map((r) => r.id))]);
    },
  );

  it('with unread_counts: one request when nothing was read, the open ones re-read when the counts moved', async () => {
    const { h, c, before } = await begin({ unreadCounts: 'enabled' });
    const unread = before.filter((r) => r.unread > 0);
    const notOpen = unread.filter((r) => r.status !== 'open');
    expect(notOpen.length).toBe(2);

    // Nothing read: the counts match the catalog, so only the unread conversations they leave out (not open).
    expect(await poll(c)).toEqual([]);
    expect(asked(h)).toEqual(['GET unread_counts 200', filterOf(notOpen.map((r) => r.id))]);

    // An open one read in the dashboard: the counts moved, every unread conversation is re-read.
    h.clearRequests();
    const target = unread.find((r) => r.status === 'open') as Row;
    h.controls.simulateRead({ conversationId: String(target.id) });
    const changes = await poll(c);
    expect(asked(h)).toEqual(['GET unread_counts 200', filterOf(unread.map((r) => r.id))]);
    expect(changes.map((ch) => [ch.conversationNativeId, ch.conversation?.unreadCount])).toEqual([
      [`1:${target.id}`, 0],
    ]);

    // A pending one read: the counts (open only) cannot see it, the re-check of the not-open ones does.
    h.clearRequests();
    const pending = notOpen[0] as Row;
    h.controls.simulateRead({ conversationId: String(pending.id) });
    const again = await poll(c);
    expect(asked(h)).toEqual(['GET unread_counts 200', filterOf(notOpen.map((r) => r.id))]);
    expect(again.map((ch) => [ch.conversationNativeId, ch.conversation?.unreadCount])).toEqual([
      [`1:${pending.id}`, 0],
    ]);
  });

  it('batches 25 display ids a request at a larger account', async () => {
    const { h, c, before } = await begin({ scale: 10, unreadCounts: 'disabled' });
    const unread = sorted(before.filter((r) => r.unread > 0).map((r) => r.id));
    expect(unread.length).toBeGreaterThan(2 * CHATWOOT_FILTER_BATCH);
    await poll(c);
    const filters = asked(h).filter((a) => a.startsWith('POST'));
    expect(filters).toHaveLength(Math.ceil(unread.length / CHATWOOT_FILTER_BATCH));
    // Every unread conversation asked about exactly once, 25 at most a request.
    const ids = filters.flatMap((f) => (/\[(.*)\]/.exec(f)?.[1] ?? '').split(',').map(Number));
    expect(sorted(ids)).toEqual(unread);
    expect(filters.every((f) => (/\[(.*)\]/.exec(f)?.[1] ?? '').split(',').length <= CHATWOOT_FILTER_BATCH)).toBe(true);
  });

  it('removes and reports an unread conversation that is gone (a page 2 proves it is not on a further page)', async () => {
    const { h, c, before } = await begin({ unreadCounts: 'disabled' });
    const unread = before.filter((r) => r.unread > 0);
    const gone = unread[0] as Row;
    await fetch(`${h.url}${A}/conversations/${gone.id}`, {
      method: 'DELETE',
      headers: { api_access_token: CHATWOOT_SANDBOX_TOKEN },
    });
    h.clearRequests();
    const changes = await poll(c);
    const ids = unread.map((r) => r.id);
    expect(asked(h)).toEqual(['GET unread_counts 403', filterOf(ids), filterOf(ids, 2)]);
    expect(changes).toEqual([{ sourceId: 'chatwoot', conversationNativeId: `1:${gone.id}` }]);
    const list = await c.openSession({ requestId: 'l' }).listConversations({ offset: 0, limit: 100, filter: {} });
    expect(list.items.map((x) => x.nativeId)).not.toContain(`1:${gone.id}`);
  });

  it('asks nothing before the interval (30 s by default) has passed, nor before the first sync, nor with nothing unread', async () => {
    const h = await startChatwootEmulator({ port: 0, scale: 2 });
    handles.push(h);
    // The default interval: 30 s (CHATWOOT_PROFILE.readCheckIntervalMs).
    const c = createChatwootConnector(configFor(h, { readCheckIntervalMs: undefined }));
    expect(await poll(c)).toEqual([]); // no catalog yet
    await c.openSession({ requestId: 's' }).unreadCount();
    h.clearRequests();
    await poll(c);
    expect(asked(h).length).toBe(2); // the first check
    h.clearRequests();
    await poll(c);
    expect(asked(h)).toEqual([]);

    const empty = await startChatwootEmulator({ port: 0, scale: 0 });
    handles.push(empty);
    const none = createChatwootConnector(configFor(empty));
    await none.openSession({ requestId: 's' }).unreadCount();
    empty.clearRequests();
    expect(await poll(none)).toEqual([]);
    expect(asked(empty)).toEqual([]);
  });

  it('spaces checks out to stay within half of rateLimitPerMinute (minPollIntervalMs)', async () => {
    const h = await startChatwootEmulator({ port: 0, scale: 2 });
    handles.push(h);
    const c = createChatwootConnector(configFor(h, { rateLimitPerMinute: 60 }));
    expect(c.minPollIntervalMs?.()).toBe(0); // nothing measured yet
    await c.openSession({ requestId: 's' }).unreadCount();
    h.clearRequests();
    await poll(c);
    const cost = asked(h).length;
    expect(cost).toBe(2); // the 403 of unread_counts and one filter request
    // 2 requests a check within 30 a minute (half of 60): one check every 4 s at most.
    expect(c.minPollIntervalMs?.()).toBe(4000);
    h.clearRequests();
    await poll(c);
    expect(asked(h)).toEqual([]);
  });

  it('re-syncs when the counts stay above the catalog (an "unread" made in the dashboard) and reports it', async () => {
    const { h, c, before } = await begin({ unreadCounts: 'enabled' });
    const read = before.find((r) => r.status === 'open' && r.unread > 0) as Row;
    h.controls.simulateRead({ conversationId: String(read.id) });
    expect((await poll(c)).map((ch) => ch.conversationNativeId)).toEqual([`1:${read.id}`]);
    // The dashboard's "mark as unread": update_column again, no webhook; the catalog holds it as read.
    await fetch(`${h.url}${A}/conversations/${read.id}/unread`, {
      method: 'POST',
      headers: { api_access_token: CHATWOOT_SANDBOX_TOKEN },
    });
    h.clearRequests();
    // Twice above the prediction (not a webhook still on its way), then the catalog is invalidated...
    expect(await poll(c)).toEqual([]);
    expect(await poll(c)).toEqual([]);
    // ...and the next poll re-syncs it and reports the conversation.
    const changes = await poll(c);
    expect(changes.map((ch) => [ch.conversationNativeId, ch.conversation?.unreadCount])).toEqual([[`1:${read.id}`, 1]]);
    expect(asked(h).filter((a) => a.startsWith('GET /api')).length).toBeGreaterThan(0);
  });
});
