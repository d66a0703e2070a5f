import { createMemoryCatalogStore } from '../../../../src/connectors/catalog-stores/memory';
import { createMonicaConnector } from '../../../../src/connectors/monica';
import { MONICA_INCREMENTAL_ABOVE } from '../../../../src/connectors/monica/catalog';
import { monicaPollCost } from '../../../../src/connectors/monica/poll';
import type { Connector, SourceChange } from '../../../../src/connectors/types';
import type { EmulatorHandle } from '../../../../src/sandbox/kit/server';
import { MONICA_SANDBOX_TOKEN, startMonicaEmulator } from '../../../../src/sandbox/monica';
import { vendorConfig } from '../../../utils/vendors';

/**
 * Monica's catalog above MONICA_INCREMENTAL_ABOVE conversations (issue 13 target 5): a poll is no longer a full
 * re-sync (1,001 requests at 100,000, beyond 60 a minute) but the `-updated_at` head and one rolling page of the
 * `created_at` list, and a whole rolling pass finds what no sort shows (a message logged in Monica's own UI leaves
 * `updated_at` alone, docs/vendors/monica.md "Ordering"). Request counts come from the emulator's log.
 */
let emu: EmulatorHandle;
let connector: Connector;

beforeAll(async () => {
  // 60 × 20 = 1,200 conversations: 12 pages of 100.
  emu = await startMonicaEmulator({ scale: 60, rateLimitPerMinute: 1_000_000 });
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => {
  emu.controls.reset();
  emu.clearRequests();
  connector = createMonicaConnector(vendorConfig('MONICA', emu.url, { retries: 0, rateLimitPerMinute: null }));
});

const vendorRequests = () => emu.requests().filter((r) => r.path.startsWith('/api/'));
const poll = () => connector.poll!({ requestId: 'poll' });

/** A call to the emulator's API as another client of the account would make it (a change the gateway did not make). */
async function api(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${emu.url}/api${path}`, {
    method,
    headers: { authorization: `Bearer ${MONICA_SANDBOX_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await res.json()) as Record<string, unknown>;
}

describe('Monica catalog above the incremental threshold', () => {
  it('costs a poll exactly the head page and one rolling page, and a whole pass reports a new, a changed and a deleted conversation once each', async () => {
    expect(await poll()).toEqual([]); // the baseline: a full sync
    const { total } = await connector
      .openSession({ requestId: 'count' })
      .listConversations({ offset: 0, limit: 1, filter: {} });
    expect(total).toBe(1_200);
    expect(total).toBeGreaterThan(MONICA_INCREMENTAL_ABOVE);
    const pages = Math.ceil(total / 100);
    expect(vendorRequests()).toHaveLength(pages + 1); // every page and GET /me

    // Changes made outside the gateway: a message logged (updated_at unchanged), a new conversation, a deletion.
    const logged = emu.controls.simulateIncoming({}) as { data: { conversation: { id: number } } };
    const changedId = String(logged.data.conversation.id);
    const raw = (await api('GET', `/conversations/${changedId}`)).data as {
      contact: { id: number };
      contact_field_type: { id: number };
    };
    const created = (
      await api('POST', '/conversations', {
        happened_at: '2026-11-30',
        contact_id: raw.contact.id,
        contact_field_type_id: raw.contact_field_type.id,
      })
    ).data as { id: number };
    const createdId = String(created.id);
    const deletedId = String(Number(changedId) === 1 ? 2 : 1);
    expect((await api('DELETE', `/conversations/${deletedId}`)).deleted).toBe(true);
    emu.clearRequests();

    const reported: SourceChange[] = [];
    const perPoll: number[] = [];
    for (let i = 0; i < pages; i++) {
      reported.push(...(await poll()));
      perPoll.push(vendorRequests().length);
      emu.clearRequests();
    }
    // Every poll: one head page and one rolling page; the pass's last one also reads the one conversation it
    // never met, by id (404: deleted).
    expect(perPoll).toEqual([...Array.from({ length: pages - 1 }, () => 2), 3]);
    const ids = (id: string) => reported.filter((c) => c.conversationNativeId === id);
    expect(ids(createdId)).toHaveLength(1);
    expect(ids(changedId)).toHaveLength(1);
    expect(ids(changedId)[0]?.conversation?.lastMessage?.content).toBe(
      (logged.data as unknown as { content: string }).content,
    );
    // The deletion is also a thread event (poll.ts, docs/vendors/monica.md "Thread events from polls").
    expect(ids(deletedId)).toEqual([
      {
        sourceId: 'monica',
        conversationNativeId: deletedId,
        events: [{ kind: 'ConversationDeleted', conversationNativeId: deletedId, at: expect.any(Number) }],
      },
    ]);
    expect(new Set(reported.map((c) => c.conversationNativeId)).size).toBe(3);

    // The catalog now is what a full read says, served without a request.
    const all = await connector
      .openSession({ requestId: 'after' })
      .listConversations({ offset: 0, limit: 2_000, filter: {} });
    expect(vendorRequests()).toHaveLength(0);
    const native = all.items.map((c) => c.nativeId);
    expect(all.total).toBe(1_200);
    expect(native).toContain(createdId);
    expect(native).not.toContain(deletedId);
  });

  it('budgets a poll at its incremental cost above the threshold and at a full sync below it', () => {
    expect(monicaPollCost(MONICA_INCREMENTAL_ABOVE)).toBe(11);
    expect(monicaPollCost(MONICA_INCREMENTAL_ABOVE + 1)).toBe(2);
    expect(monicaPollCost(100_000)).toBe(2);
  });
});

describe('an invalidated Monica catalog above the threshold', () => {
  it('is read in full again (every page and GET /me), not by the head read from time 0', async () => {
    const store = createMemoryCatalogStore();
    connector = createMonicaConnector(vendorConfig('MONICA', emu.url, { retries: 0, rateLimitPerMinute: null }), {
      catalogStore: store,
    });
    await poll(); // the baseline
    const pages = vendorRequests().length - 1;
    // Marked stale on purpose (ConversationCatalog.invalidate; the Redis store after an outage): syncedAt 0.
    const snap = (await store.read('monica'))!;
    await store.write('monica', { ...snap, syncedAt: 0 });
    emu.clearRequests();
    expect(await poll()).toEqual([]);
    expect(vendorRequests()).toHaveLength(pages + 1);
    expect(vendorRequests().some((r) => r.query.sort === '-updated_at')).toBe(false);
  });
});
