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
const EVENT_LOG_LENGTH = 3;
type ThreadEvent = {
  conversationEvents: {
    __typename: string;
    cursor: string;
    conversationId: string | null;
    reason?: string;
    messageId?: string;
    message?: { id: string; content: string | null };
  };
};
const EVENTS = `subscription($ids: [ID!], $s: [ID!], $after: String) {
  conversationEvents(conversationIds: $ids, sources: $s, after: $after) {
    __typename cursor conversationId
    ... on MessageAdded { message { id content } }
    ... on MessageUpdated { message { id content } }
    ... on MessageDeleted { messageId }
    ... on ResyncRequired { reason }
  }
}`;
type ConversationEvents = {
  conversationEvents: {
    __typename: string;
    conversationId: string;
    changedFields?: string[];
    conversation?: { id: string; unreadCount: number | null; status: string; labels: string[] };
  };
};
const CONVERSATION_EVENTS = `subscription($ids: [ID!]) {
  conversationEvents(conversationIds: $ids) {
    __typename conversationId
    ... on ConversationRead { conversation { id unreadCount status labels } }
    ... on ConversationUpdated { changedFields conversation { id unreadCount status labels } }
  }
}`;
const SEND = `mutation($id: ID!, $c: String!) { sendMessage(input: { conversationId: $id, content: $c }) { id content } }`;
/** What a subscriber saw, as `kind:content` (or `ResyncRequired:<reason>`). */
const seen = (vs: ThreadEvent[]) =>
  vs.map(({ conversationEvents: e }) => `${e.__typename}:${e.reason ?? e.message?.content ?? ''}`);

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
      configure: (c) => {
        const adjusted = adjust({
          redisPrefix: kind === 'Redis' ? prefix : null,
          source: (s) => (s.kind === 'PIXIESET' ? { pollIntervalMs: POLL_MS } : {}),
        })(c);
        // conversationEvents: a log of a few events per source, so that a resume past it is easy to provoke.
        return {
          ...adjusted,
          server: { ...adjusted.server, liveEvents: { maxLength: EVENT_LOG_LENGTH, maxAgeMs: 600_000 } },
        };
      },
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
  describe('conversationEvents', () => {
    /** An open Chatwoot conversation: its global id and the id its emulator's controls take. */
    const chatwootConversation = async () => {
      const list = await t.gql<{ conversations: { edges: Array<{ node: { id: string; nativeId: string } }> } }>(
        `{ conversations(first: 5, filter: { sources: ["chatwoot"], status: [OPEN] }) { edges { node { id nativeId } } } }`,
      );
      const node = list.body.data!.conversations.edges[0]!.node;
      return { id: node.id, control: node.nativeId };
    };
    const incoming = (control: string, content: string) =>
      emulator('chatwoot').controls.simulateIncoming({ conversationId: control, content });

    it("pushes a webhook's new message and the gateway's own send once, in order, though the vendor echoes the send", async () => {
      const conv = await chatwootConversation();
      const sub = client().subscribe<ThreadEvent>(EVENTS, { ids: [conv.id] });
      // The subscription is live once a first event reaches it: a webhook's message.
      await eventually(async () => {
        incoming(conv.control, 'first');
        await sub.waitFor(1, 500);
      });
      const before = sub.values.length;
      const sent = await t.gql<{ sendMessage: { id: string } }>(SEND, { id: conv.id, c: 'from the gateway' });
      expect(sent.body.errors).toBeUndefined();
      // The emulator posts the send's message_created webhook before this one: both are ingested in order.
      incoming(conv.control, 'after the echo');
      await eventually(() => expect(seen(sub.values)).toContain('MessageAdded:after the echo'));
      // A retry of the first webhook above may still land here; it is not what this test is about.
      const after = sub.values.slice(before).filter((v) => v.conversationEvents.message?.content !== 'first');
      expect(seen(after)).toEqual(['MessageAdded:from the gateway', 'MessageAdded:after the echo']);
      expect(after[0]!.conversationEvents).toMatchObject({
        conversationId: conv.id,
        message: { id: sent.body.data!.sendMessage.id },
      });
      expect(sub.errors).toEqual([]);
    });

    it("reports Chatwoot's soft delete (its message_updated webhook) as MessageDeleted", async () => {
      const conv = await chatwootConversation();
      const sub = client().subscribe<ThreadEvent>(EVENTS, { ids: [conv.id] });
      await eventually(async () => {
        incoming(conv.control, 'to be deleted');
        await sub.waitFor(1, 500);
      });
      const target = sub.values.find((v) => v.conversationEvents.message?.content === 'to be deleted')!;
      const id = target.conversationEvents.message!.id;
      const r = await t.gql(`mutation($id: ID!) { deleteMessage(id: $id) { deleted } }`, { id });
      expect(r.body.errors).toBeUndefined();
      await eventually(() =>
        expect(sub.values.map((v) => v.conversationEvents)).toContainEqual(
          expect.objectContaining({ __typename: 'MessageDeleted', messageId: id, conversationId: conv.id }),
        ),
      );
      expect(seen(sub.values).filter((v) => v.startsWith('MessageUpdated'))).toEqual([]);
    });

    it('resumes after a disconnection: the missed events in order, then live ones; past the log, ResyncRequired', async () => {
      const conv = await chatwootConversation();
      const first = client().subscribe<ThreadEvent>(EVENTS, { ids: [conv.id] });
      await eventually(async () => {
        incoming(conv.control, 'seen');
        await first.waitFor(1, 500);
      });
      const cursor = first.values.at(-1)!.conversationEvents.cursor;
      first.dispose();
      // Missed while disconnected (published on the source's topic, kept in its log).
      incoming(conv.control, 'missed 1');
      incoming(conv.control, 'missed 2');
      // Whether they were heard before or after it joins, a resumed subscriber gets each once, in order.
      const resumed = client().subscribe<ThreadEvent>(EVENTS, { ids: [conv.id], after: cursor });
      // (A late retry of the "seen" webhook above may come first: it happened after the cursor too.)
      const resumedSeen = () => seen(resumed.values).filter((v) => v !== 'MessageAdded:seen');
      await eventually(() => expect(resumedSeen()).toEqual(['MessageAdded:missed 1', 'MessageAdded:missed 2']));
      incoming(conv.control, 'live');
      await eventually(() =>
        expect(resumedSeen()).toEqual(['MessageAdded:missed 1', 'MessageAdded:missed 2', 'MessageAdded:live']),
      );

      // More than the log keeps since `cursor`: the gap cannot be filled.
      for (let i = 0; i < EVENT_LOG_LENGTH; i++) incoming(conv.control, `more ${i}`);
      await eventually(() => expect(resumedSeen().at(-1)).toBe(`MessageAdded:more ${EVENT_LOG_LENGTH - 1}`));
      const late = client().subscribe<ThreadEvent>(EVENTS, { ids: [conv.id], after: cursor });
      const [resync] = await late.waitFor(1);
      expect(resync!.conversationEvents).toMatchObject({
        __typename: 'ResyncRequired',
        reason: 'TRIMMED',
        conversationId: null,
      });
      // Its cursor is the end of the log: resuming from it replays nothing, and live events follow.
      const fresh = client().subscribe<ThreadEvent>(EVENTS, {
        ids: [conv.id],
        after: resync!.conversationEvents.cursor,
      });
      incoming(conv.control, 'after resync');
      await fresh.waitFor(1);
      expect(seen(fresh.values)).toEqual(['MessageAdded:after resync']);
      // unreadCountChanged accepts `after` too and ignores it: its first value is the current one anyway.
      const unread = client().subscribe<Unread>(
        `subscription($s: [ID!], $after: String) { unreadCountChanged(sources: $s, after: $after) { total } }`,
        { s: ['chatwoot'], after: cursor },
      );
      const [current] = await unread.waitFor(1);
      expect(current!.unreadCountChanged.total).toEqual(expect.any(Number));
      expect(unread.errors).toEqual([]);
      const bogus = client().subscribe<ThreadEvent>(EVENTS, { s: ['chatwoot'], after: 'not-a-cursor' });
      expect(seen(await bogus.waitFor(1))).toEqual(['ResyncRequired:INVALID_CURSOR']);
    });

    it("pushes the gateway's own conversation writes at once: read, updated (which fields), in order", async () => {
      const conv = await chatwootConversation();
      const sub = client().subscribe<ConversationEvents>(CONVERSATION_EVENTS, { ids: [conv.id] });
      await eventually(async () => {
        incoming(conv.control, 'ready?');
        await sub.waitFor(1, 500);
      });
      const before = sub.values.length;
      const read = await t.gql(`mutation($id: ID!) { markConversationRead(id: $id) { id } }`, { id: conv.id });
      expect(read.body.errors).toBeUndefined();
      const updated = await t.gql(
        `mutation($id: ID!) { updateConversation(input: { id: $id, status: PENDING, labels: ["vip"] }) { id } }`,
        { id: conv.id },
      );
      expect(updated.body.errors).toBeUndefined();
      await eventually(() =>
        expect(
          sub.values.slice(before).filter((v) => v.conversationEvents.__typename.startsWith('Conversation')),
        ).toHaveLength(2),
      );
      const mine = sub.values.slice(before).filter((v) => v.conversationEvents.__typename.startsWith('Conversation'));
      expect(mine.map((v) => v.conversationEvents)).toEqual([
        expect.objectContaining({
          __typename: 'ConversationRead',
          conversationId: conv.id,
          conversation: { id: conv.id, unreadCount: 0, status: expect.any(String), labels: expect.any(Array) },
        }),
        expect.objectContaining({
          __typename: 'ConversationUpdated',
          changedFields: ['STATUS', 'LABELS'],
          conversation: { id: conv.id, unreadCount: 0, status: 'PENDING', labels: ['vip'] },
        }),
      ]);
    });

    it('gives a key no event of a hidden source, and treats its ids as unknown', async () => {
      const conv = await chatwootConversation();
      const limitedAuth = { authorization: `Bearer ${t.limitedKey}` };
      const limited = client(t.limitedKey).subscribe<ThreadEvent>(EVENTS, { s: ['chatwoot', 'pixieset'] });
      const full = client().subscribe<ThreadEvent>(EVENTS, { s: ['chatwoot'] });
      await eventually(async () => {
        incoming(conv.control, 'not for the limited key');
        await full.waitFor(1, 500);
      });
      // Then an event the limited key may see (its own send on Pixieset): anything hidden would have come before.
      const pix = await t.gql<{ conversations: { edges: Array<{ node: { id: string } }> } }>(
        `{ conversations(first: 1, filter: { sources: ["pixieset"] }) { edges { node { id } } } }`,
      );
      const sent = await t.gql(
        SEND,
        { id: pix.body.data!.conversations.edges[0]!.node.id, c: 'for the limited key' },
        limitedAuth,
      );
      expect(sent.body.errors).toBeUndefined();
      await limited.waitFor(1);
      expect(seen(limited.values)).toEqual(['MessageAdded:for the limited key']);
      // An id of a hidden source: NOT_FOUND, as the conversation query says.
      const byId = client(t.limitedKey).subscribe<ThreadEvent>(EVENTS, { ids: [conv.id] });
      await byId.waitForEnd();
      const q = await t.gql(`query($id: ID!) { conversation(id: $id) { id } }`, { id: conv.id }, limitedAuth);
      expect(JSON.stringify(byId.errors)).toContain('NOT_FOUND');
      expect(JSON.stringify(q.body.errors)).toContain('NOT_FOUND');
    });

    it("pushes a polling source's new messages, found by its poll, once each and in order; leaving stops the poller", async () => {
      const list = await t.gql<{ conversations: { edges: Array<{ node: { id: string; nativeId: string } }> } }>(
        `{ conversations(first: 5, filter: { sources: ["pixieset"], status: [OPEN] }) { edges { node { id nativeId } } } }`,
      );
      const conv = list.body.data!.conversations.edges.at(-1)!.node;
      const sub = client().subscribe<ThreadEvent>(EVENTS, { ids: [conv.id] });
      // The subscriber alone keeps Pixieset's poller running (docs/live.md "Thread events").
      await eventually(() => expect(t.gateway.services.live.pollingSince('pixieset')).not.toBeNull());
      // Two messages between two polls: the poll reads the conversation's detail once and adds both.
      emulator('pixieset').controls.simulateIncoming({ conversationId: conv.nativeId, content: 'polled 1' });
      emulator('pixieset').controls.simulateIncoming({ conversationId: conv.nativeId, content: 'polled 2' });
      const messages = () => seen(sub.values).filter((v) => v.startsWith('Message'));
      await eventually(() => expect(messages()).toEqual(['MessageAdded:polled 1', 'MessageAdded:polled 2']));
      // Later polls find nothing new: no repeat.
      await new Promise((r) => setTimeout(r, 3 * POLL_MS));
      expect(messages()).toEqual(['MessageAdded:polled 1', 'MessageAdded:polled 2']);
      expect(sub.values.every((v) => v.conversationEvents.conversationId === conv.id)).toBe(true);
      sub.dispose();
      await eventually(() => expect(t.gateway.services.live.activePollers()).toEqual([]));
    });
  });
});
