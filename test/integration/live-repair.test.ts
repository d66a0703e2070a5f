import type { ChatwootSourceConfig, Config } from '../../src/config/schema';
import { createChatwootConnector } from '../../src/connectors/chatwoot';
import { adjust, eventually, randomPrefix } from '../live/helpers';
import { startTestGateway, tuneSources, type TestGateway } from '../utils/gateway';
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
      // The failing calls opened the source's circuit breaker, which refuses calls for 10 s: the repair attempts it
      // refuses do not lengthen the backoff (docs/live.md "Failure and repair"), so the value follows its half-open
      // moment within about a second (before, a doubled delay could land up to 16 s later, past this wait).
      await eventually(() => expect(sub.values.at(-1)?.unreadCountChanged.total).toBe(want), 20_000, 100);
      sub.dispose();
    } finally {
      await client.dispose();
      await t.close();
    }
  });
});

/**
 * Chatwoot sends each webhook once, without retries (docs/vendors/chatwoot.md "Webhooks"): a delivery the gateway
 * never got, or got and could not apply, is repaired by the next reconciliation (the connector's catalog re-sync
 * once it is older than catalogMaxAgeMs, run by the live engine's poll while somebody subscribes), with no read
 * through the gateway needed.
 */
describe('CHATWOOT webhooks lost on the way', () => {
  const INBOX = `{ conversations(first: 100) { nodes { nativeId unreadCount lastMessage { content } } } }`;
  type Row = { nativeId: string; unreadCount: number | null; lastMessage: { content: string | null } | null };

  /** Subscribes on `t`, loses one webhook, waits for the repair; the inbox is read on `reader` (default `t`). */
  const lose = async (t: TestGateway, loseIt: () => Promise<void> | void, reader: TestGateway = t) => {
    const emu = t.embedded.sandbox.emulators.get('chatwoot')!;
    const client = createWsClient(t.wsUrl, t.apiKey);
    try {
      const sub = subscribe<{ unreadCountChanged: { total: number } }>(
        client,
        `subscription { unreadCountChanged(sources: ["chatwoot"]) { total } }`,
      );
      await sub.waitFor(1);
      const before = (await t.gql<{ conversations: { nodes: Row[] } }>(INBOX)).body.data!.conversations.nodes;
      // A conversation with nothing unread: a re-check of unread conversations would not look at it.
      const target = before.find((c) => c.unreadCount === 0)!;
      expect(target).toBeDefined();
      await loseIt();
      emu.controls.simulateIncoming({ conversationId: target.nativeId, content: 'The webhook of this got lost' });
      const want = emu.controls.unreadState()!.total;
      expect(want).toBeGreaterThan(sub.values.at(-1)!.unreadCountChanged.total);
      // Only subscribers watch; nobody reads. The reconciliation brings the pushed total to the vendor's.
      await eventually(() => expect(sub.values.at(-1)?.unreadCountChanged.total).toBe(want), 20_000, 50);
      const after = (await reader.gql<{ conversations: { nodes: Row[] } }>(INBOX)).body.data!.conversations.nodes;
      expect(after.find((c) => c.nativeId === target.nativeId)).toEqual({
        nativeId: target.nativeId,
        unreadCount: 1,
        lastMessage: { content: 'The webhook of this got lost' },
      });
      sub.dispose();
    } finally {
      await client.dispose();
    }
  };
  const fast = (c: Config) => tuneSources(c, () => ({ catalogMaxAgeMs: 4000, pollIntervalMs: 250 }));

  it('repairs a webhook the emulator never posted (the gateway was down) within the reconciliation interval', async () => {
    const t = await startTestGateway({ kinds: ['CHATWOOT'], configure: fast });
    try {
      await lose(t, () => t.embedded.sandbox.setWebhookBase(null));
    } finally {
      await t.close();
    }
  });

  it('repairs it across two instances sharing Redis (catalog, poll lease): the one whose subscriber watches polls', async () => {
    const redisPrefix = randomPrefix('cw-repair');
    const configure = (c: Config) => adjust({ redisPrefix })(fast(c));
    const a = await startTestGateway({ kinds: ['CHATWOOT'], configure });
    const b = await startTestGateway({ embedded: a.embedded, configure });
    try {
      await lose(b, () => a.embedded.sandbox.setWebhookBase(null), a);
    } finally {
      await b.close();
      await a.close();
    }
  });

  it('repairs a webhook the gateway received but could not apply (its catalog store failing)', async () => {
    let failing = false;
    const t = await startTestGateway({
      kinds: ['CHATWOOT'],
      configure: fast,
      connectors: (config) =>
        config.sources.map((s) => {
          const c = createChatwootConnector(s as ChatwootSourceConfig);
          return {
            ...c,
            applyChanges: async (changes, scope) => {
              if (failing) throw new Error('the catalog store is unreachable');
              await c.applyChanges?.(changes, scope);
            },
          };
        }),
    });
    try {
      await lose(t, () => {
        failing = true;
      });
      expect(t.logs.some((l) => l.includes('the catalog store is unreachable'))).toBe(true);
    } finally {
      await t.close();
    }
  });
});
