import type { PixiesetSourceConfig } from '../../../../src/config/schema';
import { createPixiesetConnector } from '../../../../src/connectors/pixieset';
import { firstOutOfOrder, INBOX_ORDER_FALLBACK } from '../../../../src/connectors/pixieset/order';
import {
  compareConversations,
  type Connector,
  type ConversationFilterInput,
  type ConversationModel,
} from '../../../../src/connectors/types';
import type { EmulatorHandle } from '../../../../src/sandbox/kit/server';
import { vendorConfig } from '../../../utils/vendors';
import {
  PIXIESET_SANDBOX_CREDENTIALS,
  startPixiesetEmulator,
  type PixiesetListOrder,
} from '../../../../src/sandbox/pixieset';

/**
 * Pixieset's list order is undocumented (docs/vendors/pixieset.md "Ordering"). The connector checks every page it
 * receives; when the vendor serves another order it still lists exactly in the inbox order (from a catalog it
 * sorts itself) and says so in its health. Each case is compared with a brute-force sort of the emulator's data.
 */
/** The sandbox's Pixieset config (test/utils/vendors.ts), without retries: request counts are exact. */
const config = (url: string): PixiesetSourceConfig => vendorConfig('PIXIESET', url, { retries: 0 });

type Row = { id: string; last_message_at: string | null; status: string; unread_count: number };

let emu: EmulatorHandle;
let connector: Connector;

/** Every conversation as the vendor has it, sorted by brute force into the inbox order. */
async function bruteForce(filter: (r: Row) => boolean = () => true): Promise<string[]> {
  const rows: Row[] = [];
  for (let page = 1; ; page++) {
    const res = await fetch(`${emu.url}/api/v1/conversations/?page_size=100&page=${page}`, {
      headers: { cookie: PIXIESET_SANDBOX_CREDENTIALS.sessionCookie },
    });
    const body = (await res.json()) as { data: Row[]; meta: { last_page: number } };
    rows.push(...body.data);
    if (page >= body.meta.last_page) break;
  }
  return rows
    .filter(filter)
    .map((r) => ({ nativeId: r.id, lastMessageAt: r.last_message_at ? new Date(r.last_message_at) : null }))
    .sort(compareConversations)
    .map((r) => r.nativeId);
}

/** The gateway's way of reading a source: windows of `size` plus one look-ahead, each in a new session. */
async function walk(size: number, filter: ConversationFilterInput = {}): Promise<string[]> {
  const out: string[] = [];
  for (let offset = 0; ; offset += size) {
    const page = await connector
      .openSession({ requestId: `walk-${offset}` })
      .listConversations({ offset, limit: size + 1, filter });
    out.push(...page.items.slice(0, size).map((c: ConversationModel) => c.nativeId));
    if (page.items.length <= size) return out;
  }
}

/** Requests of the full read of 120 conversations under `random` (1 window + rounds of 2), seen once and fixed. */
const ROUNDS_SEEN = 7;

const lists = () => emu.requests().filter((r) => r.path === '/api/v1/conversations/');
const setOrder = async (order: PixiesetListOrder) => {
  const res = await fetch(`${emu.url}/__sandbox/list-order`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ order }),
  });
  expect(res.status).toBe(200);
};

beforeAll(async () => {
  emu = await startPixiesetEmulator({ port: 0, scale: 6 });
});
afterAll(async () => {
  await emu.close();
});
beforeEach(async () => {
  emu.controls.reset();
  await setOrder('inbox');
  connector = createPixiesetConnector(config(emu.url));
  emu.clearRequests();
});

describe('firstOutOfOrder', () => {
  const row = (nativeId: string, t: number | null) => ({ nativeId, lastMessageAt: t === null ? null : new Date(t) });
  it('accepts the inbox order (newest first, null last, ties by id) and points at the first break', () => {
    expect(firstOutOfOrder([row('b', 3), row('a', 2), row('c', 2), row('d', null)])).toBe(-1);
    expect(firstOutOfOrder([row('a', 2), row('b', 3)])).toBe(1);
    expect(firstOutOfOrder([row('c', 2), row('a', 2)])).toBe(1);
    expect(firstOutOfOrder([row('a', null), row('b', 1)])).toBe(1);
  });
});

describe('Pixieset list order', () => {
  it('streams the vendor’s inbox-ordered list, one request a window, and stays healthy', async () => {
    const expected = await bruteForce();
    emu.clearRequests();
    expect(await walk(25)).toEqual(expected);
    // 120 conversations in windows of 25 (+1 look-ahead, +1 row before): 5 windows, one request each.
    expect(lists()).toHaveLength(5);
    expect(lists().every((r) => r.query.message_status === undefined)).toBe(true);
    expect(connector.health()).toEqual(expect.objectContaining({ status: 'UP', lastErrorCode: null }));
  });

  it.each<PixiesetListOrder>(['created_asc', 'shuffled'])(
    'lists exactly in the inbox order when the vendor serves %s, from a catalog, and says so in health',
    async (order) => {
      await setOrder(order);
      const expected = await bruteForce();
      emu.clearRequests();
      const first = await connector.openSession({ requestId: 'w0' }).listConversations({
        offset: 0,
        limit: 26,
        filter: {},
      });
      expect(first.items.map((c) => c.nativeId)).toEqual(expected.slice(0, 26));
      expect(first.total).toBe(expected.length);
      // The window that showed the break, then the full read: 120 conversations are 2 pages of 100.
      expect(lists().map((r) => [r.query.page, r.query.page_size])).toEqual([
        ['1', '26'],
        ['1', '100'],
        ['2', '100'],
      ]);
      expect(connector.health()).toEqual(
        expect.objectContaining({ status: 'DEGRADED', lastErrorCode: INBOX_ORDER_FALLBACK, circuit: 'CLOSED' }),
      );
      // Every later window comes from the catalog, with no request while it is fresh.
      emu.clearRequests();
      expect(await walk(25)).toEqual(expected);
      expect(lists()).toHaveLength(0);
    },
  );

  it('reads a list whose order changes on every request completely, reading the pages again until meta.total', async () => {
    const expected = await bruteForce();
    await setOrder('random');
    emu.clearRequests();
    expect(await walk(30)).toEqual(expected);
    const reads = lists().map((r) => `${String(r.query.page)}/${String(r.query.page_size)}`);
    // The window that showed the break, then rounds of two pages (deterministic: the emulator's k-th permutation).
    expect(reads[0]).toBe('1/31');
    expect(reads.slice(1).join(' ')).toMatch(/^(1\/100 2\/100 ?){2,4}$/);
    expect(reads).toHaveLength(ROUNDS_SEEN);
    expect(connector.health().lastErrorCode).toBe(INBOX_ORDER_FALLBACK);
  });

  it('notices when the vendor’s order changes between two windows, and the next window is still exact', async () => {
    const expected = await bruteForce();
    const firstWindow = await connector.openSession({ requestId: 'a' }).listConversations({
      offset: 0,
      limit: 11,
      filter: {},
    });
    expect(firstWindow.items.map((c) => c.nativeId)).toEqual(expected.slice(0, 11));
    // The vendor now serves the oldest first; the next window is read with the row before it, and checked.
    await setOrder('created_asc');
    const next = await connector
      .openSession({ requestId: 'b' })
      .listConversations({ offset: 10, limit: 11, filter: {} });
    expect(next.items.map((c) => c.nativeId)).toEqual(expected.slice(10, 21));
    expect(connector.health().lastErrorCode).toBe(INBOX_ORDER_FALLBACK);
  });

  it('filters statuses itself and never sends message_status (only `inbox` is shown, and not what it selects)', async () => {
    const archived = await bruteForce((r) => r.status === 'archived');
    const open = await bruteForce((r) => r.status === 'active');
    expect(archived.length).toBeGreaterThan(0);
    emu.clearRequests();
    expect(await walk(50, { status: ['ARCHIVED'] })).toEqual(archived);
    expect(await walk(50, { status: ['OPEN'] })).toEqual(open);
    expect(lists().length).toBeGreaterThan(0);
    expect(lists().every((r) => r.query.message_status === undefined)).toBe(true);
  });

  it('keeps filters exact in the fallback, from the same catalog', async () => {
    await setOrder('shuffled');
    const unread = await bruteForce((r) => r.unread_count > 0 && r.status === 'active');
    expect(await walk(20, { status: ['OPEN'], unreadOnly: true })).toEqual(unread);
  });

  it('polls by re-reading the catalog once the order broke, and names the conversation that changed', async () => {
    await setOrder('created_asc');
    const poll = connector.poll!;
    // The first poll sees the break on its page and sets the catalog as its baseline.
    expect(await poll({ requestId: 'p1' })).toEqual([]);
    expect(connector.health().lastErrorCode).toBe(INBOX_ORDER_FALLBACK);
    const target = (await bruteForce())[40] as string;
    emu.controls.simulateIncoming({ conversationId: target, content: 'New question' });
    emu.clearRequests();
    const changes = await poll({ requestId: 'p2' });
    expect(changes.map((c) => c.conversationNativeId)).toEqual([target]);
    expect(changes[0]?.conversation?.lastMessage?.content).toBe('New question');
    // One full read (2 pages); the inbox that follows is fresh and exact without another request.
    expect(lists()).toHaveLength(2);
    const expected = await bruteForce();
    emu.clearRequests();
    expect(await walk(30)).toEqual(expected);
    expect(expected[0]).toBe(target);
    expect(lists()).toHaveLength(0);
  });

  it('puts a message sent through the gateway into the fallback catalog at once', async () => {
    await setOrder('shuffled');
    await walk(60);
    const target = (await bruteForce())[70] as string;
    const s = connector.openSession({ requestId: 'send' });
    await s.sendMessage({
      conversationNativeId: target,
      content: 'On my way',
      private: false,
      attachmentIds: [],
      files: [],
    });
    emu.clearRequests();
    const top = await connector
      .openSession({ requestId: 'top' })
      .listConversations({ offset: 0, limit: 1, filter: {} });
    expect(top.items[0]?.nativeId).toBe(target);
    expect(top.items[0]?.lastMessage?.content).toBe('On my way');
    expect(lists()).toHaveLength(0);
  });
});

describe('Pixieset page size', () => {
  it('falls back to the catalog when the vendor serves smaller pages than asked for, and stays exact', async () => {
    const small = await startPixiesetEmulator({ port: 0, scale: 6, maxPageSize: 50 });
    try {
      const c = createPixiesetConnector(config(small.url));
      const every: Row[] = [];
      for (const n of [1, 2, 3]) {
        const res = await fetch(`${small.url}/api/v1/conversations/?page_size=50&page=${n}`, {
          headers: { cookie: PIXIESET_SANDBOX_CREDENTIALS.sessionCookie },
        });
        every.push(...((await res.json()) as { data: Row[] }).data);
      }
      const expected = every
        .map((r) => ({ nativeId: r.id, lastMessageAt: r.last_message_at ? new Date(r.last_message_at) : null }))
        .sort(compareConversations)
        .map((r) => r.nativeId);
      expect(expected).toHaveLength(120);
      small.clearRequests();
      // Rows 39..100 (the row before the window, the window and its look-ahead) are pages 1 and 2 of 100.
      const page = await c.openSession({ requestId: 'x' }).listConversations({ offset: 40, limit: 61, filter: {} });
      expect(page.items.map((x) => x.nativeId)).toEqual(expected.slice(40, 101));
      expect(page.total).toBe(120);
      expect(c.health().lastErrorCode).toBe(INBOX_ORDER_FALLBACK);
      // The window's two requests (served 50 each), then the full read: 3 pages, as meta.last_page says.
      const reads = small.requests().filter((r) => r.path === '/api/v1/conversations/');
      expect(reads.map((r) => [r.query.page, r.query.page_size])).toEqual([
        ['1', '100'],
        ['2', '100'],
        ['1', '100'],
        ['2', '100'],
        ['3', '100'],
      ]);
    } finally {
      await small.close();
    }
  });
});
