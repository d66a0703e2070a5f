import { startTestGateway, type TestGateway } from '../utils/gateway';
import { LIVE_TRANSPORTS, type LiveTransport } from '../utils/liveClient';
import { BACKENDS, randomPrefix, REDIS_URL, redisClients, type Backend } from '../utils/redis';
import {
  firstConversation,
  liveClients,
  SEND_MESSAGE,
  THREAD_EVENTS,
  withRedis,
  type ThreadEvents,
} from '../utils/threadEvents';
import { eventually } from '../utils/wait';

/**
 * # Thread-event metrics (issue 14; server/metrics.ts, live/engine.ts ThreadEventMetrics)
 *
 * `switchboard_thread_events_published_total{source,kind}` counts what this instance published (a webhook's
 * message, the gateway's own send, and not the vendor's echo of that send), `switchboard_thread_event_subscribers`
 * the conversationEvents subscriptions open now, `switchboard_thread_events_replayed_total{source}` the events a
 * resumed subscription was replayed and `switchboard_thread_events_resync_required_total{reason}` the
 * ResyncRequired notices; over graphql-ws and SSE alike, with the in-memory pub/sub and log, and with Redis (its
 * pub/sub and its stream log, whose replay is asynchronous).
 */
const CASES: Array<[LiveTransport, Backend]> = LIVE_TRANSPORTS.flatMap((client) =>
  BACKENDS.map((backend): [LiveTransport, Backend] => [client, backend]),
);

describe.each(CASES)('thread-event metrics over %s, %s', (transport, backend) => {
  let t: TestGateway;
  const prefix = randomPrefix('event-metrics');
  const redis = redisClients();
  const clients = liveClients();
  const client = () => clients.client(transport, t);
  beforeAll(async () => {
    t = await startTestGateway({
      kinds: ['CHATWOOT'],
      configure: backend === 'Redis' ? withRedis(REDIS_URL, prefix) : undefined,
    });
  });
  afterAll(async () => {
    await clients.closeAll();
    await t.close();
    await redis.closeAll(backend === 'Redis' ? prefix : undefined);
  });

  /** The metric's value for these labels (0 when absent). */
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const m = await t.gateway.metrics.registry.getSingleMetric(name)!.get();
    const v = m.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
    return v?.value ?? 0;
  };
  const published = (kind: string) => value('switchboard_thread_events_published_total', { source: 'chatwoot', kind });
  const subscribers = () => value('switchboard_thread_event_subscribers');

  it('counts published events once (not the echo), subscribers, replays and ResyncRequired', async () => {
    const conv = await firstConversation(t, 'chatwoot', { openOnly: true });
    const chatwoot = t.embedded.sandbox.emulators.get('chatwoot')!;
    expect(await subscribers()).toBe(0);

    const sub = client().subscribe<ThreadEvents>(THREAD_EVENTS, { ids: [conv.id] });
    await eventually(async () => expect(await subscribers()).toBe(1));
    expect(await published('MessageAdded')).toBe(0);

    // A contact's message in Chatwoot: its webhook's event, published once.
    chatwoot.controls.simulateIncoming({ conversationId: conv.nativeId, content: 'from chatwoot' });
    await sub.waitFor(1);
    expect(await published('MessageAdded')).toBe(1);

    // The gateway's own send: published before the mutation answers; Chatwoot's message_created echo adds nothing.
    const sent = await t.gql(SEND_MESSAGE, { id: conv.id, c: 'from the gateway' });
    expect(sent.body.errors).toBeUndefined();
    expect(await published('MessageAdded')).toBe(2);
    chatwoot.controls.simulateIncoming({ conversationId: conv.nativeId, content: 'after the echo' });
    await sub.waitFor(3);
    expect(sub.values.map((v) => v.conversationEvents.message?.content)).toEqual([
      'from chatwoot',
      'from the gateway',
      'after the echo',
    ]);
    expect(await published('MessageAdded')).toBe(3);

    // Resume after the first event: the two after it are replayed.
    const cursor = sub.values[0]!.conversationEvents.cursor;
    expect(await value('switchboard_thread_events_replayed_total', { source: 'chatwoot' })).toBe(0);
    const resumed = client().subscribe<ThreadEvents>(THREAD_EVENTS, { ids: [conv.id], after: cursor });
    await resumed.waitFor(2);
    expect(await value('switchboard_thread_events_replayed_total', { source: 'chatwoot' })).toBe(2);
    await eventually(async () => expect(await subscribers()).toBe(2));

    // A cursor that is not one: ResyncRequired { INVALID_CURSOR }, counted by reason.
    const lost = client().subscribe<ThreadEvents>(THREAD_EVENTS, { ids: [conv.id], after: 'not a cursor' });
    await lost.waitFor(1);
    expect(lost.values[0]!.conversationEvents).toMatchObject({
      __typename: 'ResyncRequired',
      reason: 'INVALID_CURSOR',
    });
    expect(await value('switchboard_thread_events_resync_required_total', { reason: 'INVALID_CURSOR' })).toBe(1);
    await eventually(async () => expect(await subscribers()).toBe(3));

    // Closing the subscriptions brings the gauge back to zero.
    sub.dispose();
    resumed.dispose();
    lost.dispose();
    await eventually(async () => expect(await subscribers()).toBe(0));
    expect(await value('switchboard_thread_events_replayed_total', { source: 'chatwoot' })).toBe(2);
  });
});
