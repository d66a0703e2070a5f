import type { Client } from 'graphql-ws';
import type { RequestLogEntry } from '../../src/sandbox/kit/server';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { createWsClient, subscribe } from '../utils/ws';
import {
  adjust,
  eventually,
  makeTransport,
  measure,
  metric,
  randomPrefix,
  recording,
  TRANSPORTS,
  type RecordingPubSub,
} from './helpers';

/**
 * The live engine end to end (graphql-ws subscribers, emulators, webhooks, the poller), once over each pub/sub
 * transport: in memory, and Redis (with leases, event ids and last totals in Redis too).
 */
type Unread = {
  unreadCountChanged: {
    total: number;
    conversationsWithUnread: number;
    bySource: Array<{ source: { id: string }; total: number }>;
  };
};
const UNREAD = `subscription($s: [ID!]) { unreadCountChanged(sources: $s) { total conversationsWithUnread bySource { source { id } total } } }`;
const CONVERSATIONS = `subscription($s: [ID!]) { conversationChanged(sources: $s) { id nativeId unreadCount lastMessage { content } } }`;
const POLL_MS = 200;

const isPoll = (e: RequestLogEntry) =>
  e.path.replace(/\/$/, '') === '/api/v1/conversations' && e.query.page_size === '100';
const isUnreadRead = (e: RequestLogEntry) => e.path === '/api/v1/conversations/unread/count';

describe.each(TRANSPORTS)('live engine over %s pub/sub', (kind) => {
  let t: TestGateway;
  let pubsub: RecordingPubSub;
  const clients: Client[] = [];
  const client = () => {
    const c = createWsClient(t.wsUrl, t.apiKey);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    const prefix = randomPrefix('engine');
    pubsub = recording(makeTransport(kind, prefix));
    t = await startTestGateway({
      kinds: ['PIXIESET', 'PROTOCOL', 'MONICA'],
      pubsub,
      configure: adjust({
        redisPrefix: kind === 'Redis' ? prefix : null,
        source: (s) =>
          s.kind === 'PIXIESET'
            ? { pollIntervalMs: POLL_MS }
            : s.kind === 'MONICA'
              ? { pollIntervalMs: 300, rateLimitPerMinute: 600 }
              : {},
      }),
    });
  });
  afterAll(async () => {
    await t.close();
    await pubsub.close();
  });
  beforeEach(() => {
    for (const e of t.embedded.sandbox.emulators.values()) e.controls.reset();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
    // Every subscription is gone, so is every poller.
    await eventually(() => expect(t.gateway.services.live.activePollers()).toEqual([]));
  });

  const px = () => t.embedded.sandbox.emulators.get('pixieset')!;
  const pr = () => t.embedded.sandbox.emulators.get('protocol')!;
  const polls = () => metric(t.url, 'switchboard_live_polls_total', { source: 'pixieset', outcome: 'ok' });

  it('pushes the current value first, then each change a poll finds', async () => {
    const sub = subscribe<Unread>(client(), UNREAD, { s: ['pixieset'] });
    const [first] = await sub.waitFor(1);
    expect(first!.unreadCountChanged.total).toBe(px().controls.unreadState()!.total);
    expect(first!.unreadCountChanged.conversationsWithUnread).toBe(
      px().controls.unreadState()!.conversationsWithUnread,
    );

    px().controls.simulateIncoming({ content: 'Is the gallery ready?' });
    await sub.waitFor(2, 5000);
    expect(sub.values[1]!.unreadCountChanged.total).toBe(first!.unreadCountChanged.total + 1);
    expect(sub.values[1]!.unreadCountChanged.bySource).toEqual([
      { source: { id: 'pixieset' }, total: px().controls.unreadState()!.total },
    ]);
  });

  it('pushes only real changes: refreshes and polls that find nothing new publish nothing', async () => {
    const sub = subscribe<Unread>(client(), UNREAD, { s: ['pixieset'] });
    const [first] = await sub.waitFor(1);
    // The connector keeps its last poll's snapshot across pollers; the emulators were reset since the previous
    // test's poller stopped, so the first poll here may report that difference. Count from after two polls.
    const settled = await polls();
    await eventually(async () => expect(await polls()).toBeGreaterThanOrEqual(settled + 2));
    const mark = pubsub.published.length;
    const live = t.gateway.services.live;
    await live.refresh('pixieset');
    await live.touch('pixieset', null);
    await Promise.all([live.refresh('pixieset'), live.refresh('pixieset')]);
    const before = await polls();
    await eventually(async () => expect(await polls()).toBeGreaterThanOrEqual(before + 3));
    expect(pubsub.on('unread:pixieset', mark)).toEqual([]);
    expect(pubsub.on('conversation:pixieset', mark)).toEqual([]);

    // Then one real change: exactly one publication and one new value.
    px().controls.simulateIncoming({});
    await sub.waitFor(2, 5000);
    expect(pubsub.on('unread:pixieset', mark)).toHaveLength(1);
    expect(pubsub.on('conversation:pixieset', mark)).toHaveLength(1);
    const after = await polls();
    await eventually(async () => expect(await polls()).toBeGreaterThanOrEqual(after + 2));
    expect(sub.values.map((v) => v.unreadCountChanged.total)).toEqual([
      first!.unreadCountChanged.total,
      first!.unreadCountChanged.total + 1,
    ]);
    expect(pubsub.on('unread:pixieset', mark)).toHaveLength(1);
  });

  it('turns a webhook into the new value for every subscriber, and the changed row', async () => {
    const a = subscribe<Unread>(client(), UNREAD, { s: ['protocol'] });
    const b = subscribe<Unread>(client(), UNREAD, { s: ['protocol', 'pixieset'] });
    const rows = subscribe<{
      conversationChanged: { nativeId: string; unreadCount: number; lastMessage: { content: string } };
    }>(client(), CONVERSATIONS, { s: ['protocol'] });
    const [firstA] = await a.waitFor(1);
    await b.waitFor(1);
    // Five different conversations: Protocol stamps messages in whole seconds, so two in one conversation within a
    // second would tie for "last message".
    const list = await t.gql<{ conversations: { edges: Array<{ node: { nativeId: string; status: string } }> } }>(
      `{ conversations(first: 20, filter: { sources: ["protocol"], status: [OPEN] }) { edges { node { nativeId status } } } }`,
    );
    const ids = list.body.data!.conversations.edges.map((e) => e.node.nativeId).slice(0, 5);
    expect(ids).toHaveLength(5);
    const latencies: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const sent = Date.now();
      const m = pr().controls.simulateIncoming({ conversationId: ids[i - 1], content: `ping ${i}` }) as {
        conversation_id: string;
      };
      await a.waitFor(1 + i, 5000);
      latencies.push(Date.now() - sent);
      await b.waitFor(1 + i, 5000);
      await rows.waitFor(i, 5000);
      expect(rows.values[i - 1]!.conversationChanged).toMatchObject({
        nativeId: m.conversation_id,
        lastMessage: { content: `ping ${i}` },
      });
    }
    expect(a.values.map((v) => v.unreadCountChanged.total)).toEqual(
      [0, 1, 2, 3, 4, 5].map((n) => firstA!.unreadCountChanged.total + n),
    );
    expect(a.values.at(-1)!.unreadCountChanged.total).toBe(pr().controls.unreadState()!.total);
    expect(b.values.at(-1)!.unreadCountChanged.bySource.find((s) => s.source.id === 'protocol')!.total).toBe(
      pr().controls.unreadState()!.total,
    );
    measure(
      `webhook → subscriber latency (${kind})`,
      `median ${latencies.sort((x, y) => x - y)[2]} ms, max ${Math.max(...latencies)}`,
    );
  });

  it('sends the rows a Monica poll found to every subscriber without reading them again', async () => {
    const mo = t.embedded.sandbox.emulators.get('monica')!;
    const subs = [0, 1, 2].map(() =>
      subscribe<{ conversationChanged: { nativeId: string; lastMessage: { content: string } } }>(
        client(),
        CONVERSATIONS,
        { s: ['monica'] },
      ),
    );
    // The first poll sets the baseline (the catalog's first sync).
    await eventually(async () =>
      expect(
        await metric(t.url, 'switchboard_live_polls_total', { source: 'monica', outcome: 'ok' }),
      ).toBeGreaterThanOrEqual(1),
    );
    mo.clearRequests();
    const m = mo.controls.simulateIncoming({ content: 'from the CRM' }) as { data: { conversation: { id: number } } };
    for (const sub of subs) await sub.waitFor(1, 5000);
    for (const sub of subs)
      expect(sub.values[0]!.conversationChanged).toMatchObject({
        nativeId: String(m.data.conversation.id),
        lastMessage: { content: 'from the CRM' },
      });
    // Only the polls' own requests (list pages and /me): no per-event, per-subscriber read.
    expect(mo.requests().every((r) => r.path === '/api/conversations' || r.path === '/api/me')).toBe(true);
  });

  it('polls a source once per interval whatever the number of subscribers (1 vs 200)', async () => {
    /** Steady state: from the next poll on, the emulator requests of `ticks` polls. */
    const window = async (ticks: number) => {
      const before = await polls();
      await eventually(async () => expect(await polls()).toBeGreaterThanOrEqual(before + 1));
      px().clearRequests();
      const start = Date.now();
      await eventually(() => expect(px().requests().filter(isPoll).length).toBeGreaterThanOrEqual(ticks), 10_000);
      const log = px().requests();
      const elapsed = Date.now() - start;
      return { list: log.filter(isPoll).length, unread: log.filter(isUnreadRead).length, total: log.length, elapsed };
    };

    const one = subscribe<Unread>(client(), UNREAD, { s: ['pixieset'] });
    await one.waitFor(1);
    const single = await window(8);

    const many: Array<ReturnType<typeof subscribe>> = [];
    for (let c = 0; c < 20; c++) {
      const ws = client();
      for (let i = 0; i < 5; i++) many.push(subscribe(ws, UNREAD, { s: ['pixieset'] }));
      for (let i = 0; i < 5; i++) many.push(subscribe(ws, CONVERSATIONS, { s: ['pixieset'] }));
    }
    await Promise.all(many.filter((_, i) => i % 10 < 5).map((s) => s.waitFor(1, 10_000)));
    expect(t.gateway.services.live.activePollers()).toEqual(['pixieset']);
    const crowd = await window(8);

    // One poll = the unread count and the list's first page; nothing per subscriber.
    for (const w of [single, crowd]) {
      expect(Math.abs(w.unread - w.list)).toBeLessThanOrEqual(1);
      expect(w.total).toBe(w.list + w.unread);
    }
    const perMinute = (w: typeof single) => Math.round((w.total / w.elapsed) * 60_000);
    measure(
      `poll upstream calls per minute at ${POLL_MS} ms (${kind})`,
      `1 subscriber ${perMinute(single)}, 201 subscribers ${perMinute(crowd)}`,
    );
  });
});
