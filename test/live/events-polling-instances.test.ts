import { startEmbedded, type Embedded } from '../../src/sandbox/embedded';
import { adjust } from './helpers';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { createLiveClient, type LiveClient } from '../utils/liveClient';
import { randomPrefix, REDIS_URL, redisClients } from '../utils/redis';
import { eventually } from '../utils/wait';

/**
 * # Thread events from a polling source across two instances sharing Redis (issue 14; docs/live.md "Pollers")
 *
 * The instance that holds Pixieset's poll lease may have no thread-event watcher of its own: it learns from the
 * events lease (`live:lease:events:<source>`, held by an instance while somebody there watches thread events) that
 * somebody elsewhere does, and reads the details that complete the message events, once.
 */
type Event = { conversationEvents: { __typename: string; message?: { content: string | null } } };
const EVENTS = `subscription($ids: [ID!]) {
  conversationEvents(conversationIds: $ids) { __typename ... on MessageAdded { message { content } } }
}`;
const UNREAD = `subscription($s: [ID!]) { unreadCountChanged(sources: $s) { total } }`;
const POLL_MS = 150;

describe('thread events from a polling source across two instances', () => {
  let embedded: Embedded;
  let a: TestGateway;
  let b: TestGateway;
  const keyPrefix = randomPrefix('events-polling');
  const redis = redisClients();
  const clients: LiveClient[] = [];
  const client = (t: TestGateway) => {
    const c = createLiveClient('ws', t, t.apiKey);
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    embedded = await startEmbedded({ port: 0, kinds: ['PIXIESET'] });
    const configure = adjust({
      redisPrefix: keyPrefix,
      source: () => ({ pollIntervalMs: POLL_MS }),
    });
    a = await startTestGateway({
      embedded,
      configure: (c) => configure({ ...c, redis: { url: REDIS_URL, keyPrefix } }),
    });
    b = await startTestGateway({
      embedded,
      configure: (c) => configure({ ...c, redis: { url: REDIS_URL, keyPrefix } }),
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await a.close();
    await b.close();
    await embedded.sandbox.close();
    await redis.closeAll(keyPrefix);
  });

  it("gives a subscriber on a standing-by instance every message the other instance's poll finds, once each", async () => {
    const emu = embedded.sandbox.emulators.get('pixieset')!;
    const list = await a.gql<{ conversations: { edges: Array<{ node: { id: string; nativeId: string } }> } }>(
      `{ conversations(first: 3, filter: { sources: ["pixieset"], status: [OPEN] }) { edges { node { id nativeId } } } }`,
    );
    const conv = list.body.data!.conversations.edges[1]!.node;
    // A polls (its unread subscriber came first), without a thread-event watcher of its own.
    client(a).subscribe(UNREAD, { s: ['pixieset'] });
    await eventually(() => expect(a.gateway.services.live.pollingSince('pixieset')).not.toBeNull());
    const sub = client(b).subscribe<Event>(EVENTS, { ids: [conv.id] });
    await eventually(() => expect(b.gateway.services.live.activePollers()).toEqual(['pixieset']));
    expect(b.gateway.services.live.pollingSources()).toEqual([]);
    // B says so through the events lease.
    const r = redis.open();
    await eventually(async () => expect(await r.get(`${keyPrefix}live:lease:events:pixieset`)).not.toBeNull());
    // Let A's poll after that set its baseline view of the conversation.
    await new Promise((resolve) => setTimeout(resolve, 3 * POLL_MS));
    emu.clearRequests();
    emu.controls.simulateIncoming({ conversationId: conv.nativeId, content: 'across 1' });
    emu.controls.simulateIncoming({ conversationId: conv.nativeId, content: 'across 2' });
    // (A generous wait: two gateways, Redis streams and the emulator share two busy cores in CI.)
    await eventually(
      () => expect(sub.values.map((v) => v.conversationEvents.message?.content)).toEqual(['across 1', 'across 2']),
      { timeoutMs: 20_000 },
    );
    // One detail read, by the polling instance A (its live request ids), for B's subscriber.
    const details = emu.requests().filter((q) => q.path === `/api/v1/conversations/${conv.nativeId}/`);
    expect(details).toHaveLength(1);
    expect(details[0]!.headers['x-request-id']).toMatch(/^live-pixieset-/);
    await new Promise((resolve) => setTimeout(resolve, 3 * POLL_MS));
    expect(sub.values).toHaveLength(2);

    // The last thread-event watcher on B leaves: the events lease goes with it.
    sub.dispose();
    await eventually(async () => expect(await r.get(`${keyPrefix}live:lease:events:pixieset`)).toBeNull());
  });
});
