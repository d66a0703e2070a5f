import { CatalogSync, ConversationCatalog } from '../../../../src/connectors/catalog';
import { createMemoryCatalogStore } from '../../../../src/connectors/catalog-stores/memory';
import { createChatwootConnector } from '../../../../src/connectors/chatwoot';
import {
  CHATWOOT_FULL_SYNC_EVERY_MS,
  CHATWOOT_INCREMENTAL_ABOVE,
  createChatwootCatalogReader,
} from '../../../../src/connectors/chatwoot/catalog';
import { createChatwootClient } from '../../../../src/connectors/chatwoot/client';
import type { Connector, SourceChange } from '../../../../src/connectors/types';
import { startChatwootEmulator } from '../../../../src/sandbox/chatwoot';
import type { EmulatorHandle } from '../../../../src/sandbox/kit/server';
import { vendorConfig } from '../../../utils/vendors';

/**
 * Chatwoot's catalog above CHATWOOT_INCREMENTAL_ABOVE conversations (issue 13 target 5): a stale catalog is no
 * longer re-read page by page (4,002 requests at 100,000) but with one `GET /conversations?updated_within=`,
 * which conversation_finder.rb answers unpaged (docs/vendors/chatwoot.md "Incremental refresh"). Request counts
 * come from the emulator's log.
 */
let emu: EmulatorHandle;
let ignoring: EmulatorHandle;

beforeAll(async () => {
  // 20 × 55 = 1,100 conversations: 44 pages of 25.
  [emu, ignoring] = await Promise.all([
    startChatwootEmulator({ scale: 55, rateLimitPerMinute: 1_000_000 }),
    startChatwootEmulator({ scale: 55, rateLimitPerMinute: 1_000_000, updatedWithin: 'ignored' }),
  ]);
});
afterAll(async () => {
  await Promise.all([emu.close(), ignoring.close()]);
});
beforeEach(() => {
  for (const h of [emu, ignoring]) {
    h.controls.reset();
    h.clearRequests();
  }
});

const lists = (h: EmulatorHandle) =>
  h.requests().filter((r) => r.method === 'GET' && r.path.endsWith('/conversations'));
const connectorFor = (h: EmulatorHandle): Connector =>
  // catalogMaxAgeMs 0: every poll finds the catalog stale and refreshes it.
  createChatwootConnector(
    vendorConfig('CHATWOOT', h.url, { retries: 0, rateLimitPerMinute: null, catalogMaxAgeMs: 0 }),
  );
const list = (c: Connector) =>
  c.openSession({ requestId: 'read' }).listConversations({ offset: 0, limit: 2_000, filter: {} });
const ids = (changes: SourceChange[]) => new Set(changes.map((c) => c.conversationNativeId ?? ''));

describe('Chatwoot catalog above the incremental threshold', () => {
  it('refreshes a stale catalog with exactly one updated_within request, and reports what moved with its new message', async () => {
    const connector = connectorFor(emu);
    const first = await list(connector);
    expect(first.total).toBe(1_100);
    expect(first.total).toBeGreaterThan(CHATWOOT_INCREMENTAL_ABOVE);
    // The first read is the full sync: every page of 25 (and the catch-up re-read).
    expect(lists(emu).length).toBeGreaterThanOrEqual(44);
    expect(lists(emu).every((r) => r.query.updated_within === undefined)).toBe(true);

    const incoming = emu.controls.simulateIncoming({ content: 'A message the gateway did not send' }) as {
      conversation_id: number;
    };
    emu.clearRequests();
    const changes = await connector.poll!({ requestId: 'poll' });

    const listed = lists(emu);
    expect(listed).toHaveLength(1);
    expect(Number(listed[0]!.query.updated_within)).toBeGreaterThan(0);
    const changed = changes.find((c) => c.conversationNativeId?.endsWith(`:${incoming.conversation_id}`));
    expect(changed?.conversation?.lastMessage?.content).toBe('A message the gateway did not send');

    // A read of the (always stale: catalogMaxAgeMs 0) catalog refreshes it the same way: one request.
    emu.clearRequests();
    const after = await list(connector);
    expect(lists(emu)).toHaveLength(1);
    expect(lists(emu)[0]!.query.updated_within).toBeDefined();
    const row = after.items.find((c) => c.nativeId.endsWith(`:${incoming.conversation_id}`));
    expect(row?.lastMessage?.content).toBe('A message the gateway did not send');
    expect(after.total).toBe(1_100);
    // Nothing else moved, so nothing else is reported.
    expect([...ids(changes)].every((id) => id.endsWith(`:${incoming.conversation_id}`))).toBe(true);
  });

  it('falls back to a full re-sync when the instance ignores updated_within (a row older than the window)', async () => {
    const connector = connectorFor(ignoring);
    await list(connector);
    const full = lists(ignoring).length;
    ignoring.controls.simulateIncoming({ content: 'Seen by the full re-sync' });
    ignoring.clearRequests();
    const changes = await connector.poll!({ requestId: 'poll' });
    // The one updated_within request answered page 1 of everything: then every page again.
    const listed = lists(ignoring);
    expect(listed[0]!.query.updated_within).toBeDefined();
    expect(listed.length).toBeGreaterThanOrEqual(full);
    expect(changes.some((c) => c.conversation?.lastMessage?.content === 'Seen by the full re-sync')).toBe(true);
  });

  it('syncs in full again once CHATWOOT_FULL_SYNC_EVERY_MS has passed since the last full sync (deletions show only then)', async () => {
    let t = Date.now();
    const cfg = vendorConfig('CHATWOOT', emu.url, { retries: 0, rateLimitPerMinute: null });
    const client = createChatwootClient(cfg);
    const catalog = new ConversationCatalog(createMemoryCatalogStore(), cfg.id, 0);
    const sync = new CatalogSync(catalog, createChatwootCatalogReader(cfg, client, { now: () => t }));
    const scope = { requestId: 'sync' };

    await sync.resync(scope, undefined, true); // no snapshot: full
    emu.clearRequests();
    t += 60_000;
    const second = await sync.resync(scope, undefined, true);
    expect(second.delta).toBeDefined();
    expect(lists(emu)).toHaveLength(1);

    emu.clearRequests();
    t += CHATWOOT_FULL_SYNC_EVERY_MS;
    const third = await sync.resync(scope, undefined, true);
    expect(third.delta).toBeUndefined();
    expect(lists(emu).length).toBeGreaterThanOrEqual(44);
  });

  it('keeps small accounts on full syncs (at most CHATWOOT_INCREMENTAL_ABOVE conversations)', async () => {
    const small = await startChatwootEmulator({ scale: 1 });
    try {
      const connector = connectorFor(small);
      const { total } = await list(connector);
      expect(total).toBeLessThanOrEqual(CHATWOOT_INCREMENTAL_ABOVE);
      small.clearRequests();
      await connector.poll!({ requestId: 'poll' });
      const listed = lists(small);
      expect(listed.length).toBeGreaterThan(0);
      expect(listed.every((r) => r.query.updated_within === undefined)).toBe(true);
    } finally {
      await small.close();
    }
  });
});
