import { startTestGateway } from '../utils/gateway';
import { createWsClient, subscribe } from '../utils/ws';

/**
 * Webhook sources recover from a failing backend: changes that could not be applied while the source was
 * down make its catalog re-sync, and the totals are re-read with backoff until they match the vendor again.
 */
describe.each(['PROTOCOL', 'CHATWOOT'] as const)('%s after an outage during webhooks', (kind) => {
  it('converges to the vendor’s own unread state once the source answers again', async () => {
    const t = await startTestGateway({ kinds: [kind], scale: 1, rateLimitPerMinute: 1_000_000 });
    const emu = [...t.embedded.sandbox.emulators.values()][0]!;
    const id = t.embedded.config.sources[0]!.id;
    const client = createWsClient(t.wsUrl, t.apiKey);
    try {
      const sub = subscribe<{ unreadCountChanged: { total: number } }>(
        client,
        `subscription($s: [ID!]) { unreadCountChanged(sources: $s) { total } }`,
        { s: [id] },
      );
      await sub.waitFor(1);
      emu.setFaults({ errorRate: 1 });
      for (let i = 0; i < 3; i++) emu.controls.simulateIncoming({ content: `During the outage ${i}` });
      // Webhooks arrive while every vendor call fails; then the vendor recovers.
      await new Promise((r) => setTimeout(r, 1500));
      emu.setFaults({});
      const want = emu.controls.unreadState()!.total;
      const deadline = Date.now() + 20_000;
      while (sub.values.at(-1)?.unreadCountChanged.total !== want && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(sub.values.at(-1)?.unreadCountChanged.total).toBe(want);
      sub.dispose();
    } finally {
      await client.dispose();
      await t.close();
    }
  });
});
