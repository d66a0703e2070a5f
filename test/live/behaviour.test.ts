import { startTestGateway, type TestGateway } from '../utils/gateway';
import { take } from '../utils/wait';
import { createLiveClient, LIVE_TRANSPORTS, type LiveClient, type LiveTransport } from '../utils/liveClient';
import {
  adjust,
  eventually,
  makeTransport,
  randomPrefix,
  recording,
  TRANSPORTS,
  type RecordingPubSub,
  type TransportKind,
} from './helpers';

/**
 * # Live behaviour, whatever the transport (issue 14)
 *
 * What a subscriber sees, run over every client transport (graphql-ws, GraphQL over SSE) and every pub/sub
 * transport (in memory, Redis) alike: the current value first, then each change, from a polling source, a webhook
 * source and the gateway's own writes; in order and without repeats; only the key's own sources; and nothing left
 * behind once the subscriber goes (every poller stops). Subscriptions go through test/utils/liveClient.ts.
 * The engine's own cost (polls per interval, shared reads) is test/live/engine.test.ts.
 */
type Unread = {
  unreadCountChanged: {
    total: number;
    conversationsWithUnread: number;
    bySource: Array<{ source: { id: string }; total: number }>;
  };
};
type Row = { conversationChanged: { nativeId: string; unreadCount: number; lastMessage: { content: string } | null } };
const UNREAD = `subscription($s: [ID!]) { unreadCountChanged(sources: $s) { total conversationsWithUnread bySource { source { id } total } } }`;
const ROWS = `subscription($s: [ID!]) { conversationChanged(sources: $s) { nativeId unreadCount lastMessage { content } } }`;
const POLL_MS = 200;

const CASES: Array<[LiveTransport, TransportKind]> = LIVE_TRANSPORTS.flatMap((client) =>
  TRANSPORTS.map((pubsub): [LiveTransport, TransportKind] => [client, pubsub]),
);

describe.each(CASES)('live behaviour over %s with %s pub/sub', (transport, kind) => {
  let t: TestGateway;
  let pubsub: RecordingPubSub;
  const clients: LiveClient[] = [];
  const client = (apiKey = t.apiKey) => {
    const c = createLiveClient(transport, t, apiKey);
    clients.push(c);
    return c;
  };
  const total = (v: Unread) => v.unreadCountChanged.total;

  beforeAll(async () => {
    const prefix = randomPrefix('behaviour');
    pubsub = recording(makeTransport(kind, prefix));
    t = await startTestGateway({
      kinds: ['PIXIESET', 'PROTOCOL', 'CHATWOOT'],
      pubsub,
      configure: adjust({
        redisPrefix: kind === 'Redis' ? prefix : null,
        source: (s) => (s.kind === 'PIXIESET' ? { pollIntervalMs: POLL_MS } : {}),
      }),
    });
  });
  afterAll(async () => {
    await t.close();
    await pubsub.close();
  });
  // No emulator reset between tests: a reset emulator numbers its messages from the start again, and the gateway
  // drops a webhook event whose id it has seen (docs/live.md "Webhook ingest").
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    // Every subscriber is gone, so is every watcher and the pollers they started.
    await eventually(() => expect(t.gateway.services.live.activePollers()).toEqual([]));
  });

  const emulator = (id: string) => t.embedded.sandbox.emulators.get(id)!;
  /** Open Protocol conversations (a message is simulated in a named one: a random pick may have no contact to send it). */
  const protocolIds = async () => {
    const list = await t.gql<{ conversations: { edges: Array<{ node: { nativeId: string } }> } }>(
      `{ conversations(first: 20, filter: { sources: ["protocol"], status: [OPEN] }) { edges { node { nativeId } } } }`,
    );
    return list.body.data!.conversations.edges.map((e) => e.node.nativeId);
  };

  it('sends the current totals first, then each change a poll of a polling source finds', async () => {
    const sub = client().subscribe<Unread>(UNREAD, { s: ['pixieset'] });
    const [first] = await take(sub, 1);
    const vendor = emulator('pixieset').controls.unreadState()!;
    expect(first!.unreadCountChanged).toEqual({
      total: vendor.total,
      conversationsWithUnread: vendor.conversationsWithUnread,
      bySource: [{ source: { id: 'pixieset' }, total: vendor.total }],
    });
    emulator('pixieset').controls.simulateIncoming({ content: 'Is the gallery ready?' });
    const [second] = await take(sub, 1);
    expect(total(second!)).toBe(total(first!) + 1);
    expect(sub.values.map(total)).toEqual([total(first!), total(first!) + 1]);
    expect(total(sub.values[1]!)).toBe(emulator('pixieset').controls.unreadState()!.total);
    expect(sub.errors).toEqual([]);
  });

  it('turns each webhook into new totals for every subscriber and the changed row, in order, once each', async () => {
    const a = client().subscribe<Unread>(UNREAD, { s: ['protocol'] });
    const b = client().subscribe<Unread>(UNREAD, { s: ['protocol', 'pixieset'] });
    const rows = client().subscribe<Row>(ROWS, { s: ['protocol'] });
    const [firstA] = await a.waitFor(1);
    const [firstB] = await b.waitFor(1);
    // Three different conversations: Protocol stamps messages in whole seconds, so two in one conversation within
    // a second would tie for "last message".
    const ids = (await protocolIds()).slice(0, 3);
    expect(ids).toHaveLength(3);
    for (let i = 1; i <= 3; i++) {
      emulator('protocol').controls.simulateIncoming({ conversationId: ids[i - 1], content: `ping ${i}` });
      await a.waitFor(1 + i);
      await b.waitFor(1 + i);
      await rows.waitFor(i);
      expect(rows.values[i - 1]!.conversationChanged).toMatchObject({
        nativeId: ids[i - 1],
        lastMessage: { content: `ping ${i}` },
      });
    }
    expect(a.values.map(total)).toEqual([0, 1, 2, 3].map((n) => total(firstA!) + n));
    expect(b.values.map(total)).toEqual([0, 1, 2, 3].map((n) => total(firstB!) + n));
    expect(rows.values).toHaveLength(3);
    expect(total(a.values.at(-1)!)).toBe(emulator('protocol').controls.unreadState()!.total);
  });

  it("shows the gateway's own write at once: marking a conversation read lowers the totals", async () => {
    const list = await t.gql<{ conversations: { edges: Array<{ node: { id: string; unreadCount: number } }> } }>(
      `{ conversations(first: 50, filter: { sources: ["chatwoot"] }) { edges { node { id unreadCount } } } }`,
    );
    const unread = list.body.data!.conversations.edges.find((e) => e.node.unreadCount > 0)?.node;
    expect(unread).toBeDefined();
    const sub = client().subscribe<Unread>(UNREAD, { s: ['chatwoot'] });
    const [first] = await sub.waitFor(1);
    const r = await t.gql(`mutation($id: ID!) { markConversationRead(id: $id) { unreadCount } }`, { id: unread!.id });
    expect(r.body.errors).toBeUndefined();
    await sub.waitFor(2);
    expect(sub.values.map(total)).toEqual([total(first!), total(first!) - unread!.unreadCount]);
  });

  it('pushes only real changes: refreshes and touches that find nothing new send nothing', async () => {
    const sub = client().subscribe<Unread>(UNREAD, { s: ['protocol'] });
    const [first] = await sub.waitFor(1);
    const mark = pubsub.published.length;
    const live = t.gateway.services.live;
    await live.refresh('protocol');
    await live.touch('protocol', null);
    await Promise.all([live.refresh('protocol'), live.refresh('protocol')]);
    expect(pubsub.on('unread:protocol', mark)).toEqual([]);
    // Then one real change: one publication, one new value (the values before it prove nothing else was sent).
    emulator('protocol').controls.simulateIncoming({ conversationId: (await protocolIds())[0] });
    await sub.waitFor(2);
    expect(pubsub.on('unread:protocol', mark)).toHaveLength(1);
    expect(sub.values.map(total)).toEqual([total(first!), total(first!) + 1]);
  });

  it("gives a key only its own sources' totals and no event from a hidden source", async () => {
    const limited = client(t.limitedKey).subscribe<Unread>(UNREAD, { s: ['pixieset', 'protocol'] });
    const full = client().subscribe<Unread>(UNREAD, { s: ['protocol'] });
    const [first] = await limited.waitFor(1);
    await full.waitFor(1);
    expect(first!.unreadCountChanged.bySource.map((s) => s.source.id)).toEqual(['pixieset']);
    emulator('protocol').controls.simulateIncoming({
      conversationId: (await protocolIds())[0],
      content: 'not for the limited key',
    });
    await full.waitFor(2);
    // Then a change the limited key may see: its stream delivers in order, so anything about the hidden source
    // would have come before it.
    emulator('pixieset').controls.simulateIncoming({ content: 'for everyone' });
    await limited.waitFor(2);
    expect(limited.values.map(total)).toEqual([total(first!), total(first!) + 1]);
    expect(limited.values[1]!.unreadCountChanged.bySource.map((s) => s.source.id)).toEqual(['pixieset']);
    expect(limited.errors).toEqual([]);
  });
});
