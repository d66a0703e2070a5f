import { createProtocolConnector } from '../../../../src/connectors/protocol';
import { PROTOCOL_INCREMENTAL_ABOVE, PROTOCOL_MAX_CHANGED } from '../../../../src/connectors/protocol/catalog';
import { createProtocolClient } from '../../../../src/connectors/protocol/client';
import type { Connector } from '../../../../src/connectors/types';
import type { EmulatorHandle } from '../../../../src/sandbox/kit/server';
import { startProtocolEmulator } from '../../../../src/sandbox/protocol';
import { vendorConfig } from '../../../utils/vendors';

/**
 * Protocol's catalog above PROTOCOL_INCREMENTAL_ABOVE conversations (issue 13 target 5): a stale catalog reads the
 * heads of the conversation list and of the account's message list (newest first) and re-reads only the
 * conversations they name, instead of walking every conversation, contact, group and message
 * (docs/vendors/protocol.md "Incremental refresh"). Request counts come from the emulator's log.
 */
let emu: EmulatorHandle;
let flipped: EmulatorHandle;

beforeAll(async () => {
  // 20 × 55 = 1,100 conversations.
  [emu, flipped] = await Promise.all([
    startProtocolEmulator({ scale: 55 }),
    startProtocolEmulator({ scale: 55, listOrder: 'oldest_first' }),
  ]);
});
afterAll(async () => {
  await Promise.all([emu.close(), flipped.close()]);
});
beforeEach(() => {
  for (const h of [emu, flipped]) {
    h.controls.reset();
    h.clearRequests();
  }
});

const cfg = (h: EmulatorHandle) =>
  // catalogMaxAgeMs 0: every read finds the catalog stale and refreshes it.
  vendorConfig('PROTOCOL', h.url, { retries: 0, catalogMaxAgeMs: 0 });
const list = (c: Connector) =>
  c.openSession({ requestId: 'read' }).listConversations({ offset: 0, limit: 2_000, filter: {} });
const gets = (h: EmulatorHandle, path: string) =>
  h.requests().filter((r) => r.method === 'GET' && r.path.endsWith(path));
/** Requests of the account-wide lists (no `conversation_id`): the heads, or a full sync's walks. */
const heads = (h: EmulatorHandle) => [
  ...gets(h, '/conversations'),
  ...gets(h, '/messages').filter((r) => r.query.conversation_id === undefined),
];

describe('Protocol catalog above the incremental threshold', () => {
  it('refreshes with one page of each head and re-reads only the conversations they name', async () => {
    const connector = createProtocolConnector(cfg(emu));
    const first = await list(connector);
    expect(first.total).toBe(1_100);
    expect(first.total).toBeGreaterThan(PROTOCOL_INCREMENTAL_ABOVE);
    const fullSync = emu.requests().length;
    expect(fullSync).toBeGreaterThan(20);

    // Changes made outside the gateway: a message in one conversation, and a new conversation.
    const incoming = emu.controls.simulateIncoming({ content: 'Arrived between two refreshes' }) as {
      conversation_id: string;
    };
    // A contact with no conversation yet (one per contact: the emulator would return the existing one).
    const setup = createProtocolClient(cfg(emu));
    const loner = (await setup.listAllContacts({ requestId: 'setup' })).find(
      (c) => !c.conversation_id && c.id !== cfg(emu).selfContactId,
    );
    expect(loner).toBeDefined();
    const created = await setup.createConversation({ requestId: 'setup' }, { contact_id: loner!.id });
    emu.clearRequests();

    const after = await list(connector);
    // One page of conversations (it holds known ones) and one page of messages (it reaches older ones).
    expect(heads(emu)).toHaveLength(2);
    // Every other request is a re-read of one of the two conversations (the conversation, its messages) or of a
    // contact they name: nothing like a full walk.
    const named = new Set([incoming.conversation_id, created.id]);
    const others = emu.requests().filter((r) => !heads(emu).includes(r));
    for (const r of others) {
      const about = r.query.conversation_id ?? r.path.split('/').pop();
      expect(named.has(String(about)) || r.path.includes('/contacts/')).toBe(true);
    }
    // Exactly: 2 heads, then per conversation its GET, one page of its messages and its contact, and the self
    // contact once (the loaders share it): 2 + 2 × 3 + 1. The full sync before it took 78.
    expect(emu.requests()).toHaveLength(9);
    expect(emu.requests().length).toBeLessThan(fullSync / 2);

    expect(after.total).toBe(1_101);
    expect(after.items.find((c) => c.nativeId === created.id)).toBeDefined();
    const changed = after.items.find((c) => c.nativeId === incoming.conversation_id);
    expect(changed?.lastMessage?.content).toBe('Arrived between two refreshes');
    expect(changed?.unreadCount).toBeGreaterThan(0);
  });

  it(`syncs in full when more than PROTOCOL_MAX_CHANGED (${PROTOCOL_MAX_CHANGED}) conversations changed`, async () => {
    const connector = createProtocolConnector(cfg(emu));
    const first = await list(connector);
    const fullHeads = heads(emu).length;
    const open = first.items.filter((c) => !c.archived).slice(0, PROTOCOL_MAX_CHANGED + 1);
    expect(open).toHaveLength(PROTOCOL_MAX_CHANGED + 1);
    for (const c of open) emu.controls.simulateIncoming({ conversationId: c.nativeId });
    emu.clearRequests();
    await list(connector);
    expect(heads(emu).length).toBeGreaterThanOrEqual(fullHeads);
  });

  it('syncs in full when the lists are not newest first (the order is not documented)', async () => {
    const connector = createProtocolConnector(cfg(flipped));
    await list(connector);
    const fullHeads = heads(flipped).length;
    flipped.controls.simulateIncoming({ content: 'Found by the full sync' });
    flipped.clearRequests();
    const after = await list(connector);
    expect(heads(flipped).length).toBeGreaterThanOrEqual(fullHeads);
    expect(after.items.some((c) => c.lastMessage?.content === 'Found by the full sync')).toBe(true);
  });
});
