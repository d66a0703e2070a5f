import type { Config } from '../../src/config/schema';
import { eventually } from '../live/helpers';
import { startTestGateway, tuneSources, type TestGateway } from '../utils/gateway';
import { createWsClient, subscribe } from '../utils/ws';

/**
 * A conversation read in Chatwoot's own dashboard (no webhook: docs/vendors/chatwoot.md "Unread semantics")
 * reaches `unreadCountChanged` and `conversationChanged` subscribers through the connector's read checks, run by
 * the live engine's one poller of the source.
 */
describe('CHATWOOT reads made in its dashboard', () => {
  let t: TestGateway;
  const fast = (c: Config) =>
    tuneSources(c, (s) => (s.kind === 'CHATWOOT' ? { pollIntervalMs: 100, readCheckIntervalMs: 300 } : {}));
  beforeAll(async () => {
    t = await startTestGateway({ kinds: ['CHATWOOT'], configure: fast });
  });
  afterAll(() => t.close());

  it('reach unreadCountChanged and conversationChanged within the read-check interval, without a webhook', async () => {
    const emu = t.embedded.sandbox.emulators.get('chatwoot')!;
    const client = createWsClient(t.wsUrl, t.apiKey);
    try {
      const totals = subscribe<{ unreadCountChanged: { total: number; conversationsWithUnread: number } }>(
        client,
        `subscription { unreadCountChanged(sources: ["chatwoot"]) { total conversationsWithUnread } }`,
      );
      const rows = subscribe<{ conversationChanged: { nativeId: string; unreadCount: number | null } }>(
        client,
        `subscription { conversationChanged(sources: ["chatwoot"]) { nativeId unreadCount } }`,
      );
      await totals.waitFor(1);
      const inbox = await t.gql<{ conversations: { nodes: Array<{ nativeId: string; unreadCount: number }> } }>(
        `{ conversations(first: 100, filter: { unreadOnly: true }) { nodes { nativeId unreadCount } } }`,
      );
      const target = inbox.body.data!.conversations.nodes[0]!;
      expect(target.unreadCount).toBeGreaterThan(0);
      const first = totals.values.at(-1)!.unreadCountChanged;
      expect(first).toEqual(emu.controls.unreadState());

      emu.controls.simulateRead({ conversationId: target.nativeId });
      const want = emu.controls.unreadState()!;
      expect(want.total).toBe(first.total - target.unreadCount);
      await eventually(() => expect(totals.values.at(-1)?.unreadCountChanged).toEqual(want), 10_000, 20);
      await rows.waitFor(1, 10_000);
      expect(rows.values.map((v) => v.conversationChanged)).toContainEqual({
        nativeId: target.nativeId,
        unreadCount: 0,
      });
      // The inbox shows it read too, from the catalog the check updated.
      const unreadNow = await t.gql<{ conversations: { nodes: Array<{ nativeId: string }> } }>(
        `{ conversations(first: 100, filter: { unreadOnly: true }) { nodes { nativeId } } }`,
      );
      const ids = unreadNow.body.data!.conversations.nodes.map((n) => n.nativeId);
      expect(ids).toHaveLength(want.conversationsWithUnread);
      expect(ids).not.toContain(target.nativeId);
      totals.dispose();
      rows.dispose();
    } finally {
      await client.dispose();
    }
  });
});
