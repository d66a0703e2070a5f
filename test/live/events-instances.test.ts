import { startEmbedded, type Embedded } from '../../src/sandbox/embedded';
import { decodeGlobalId } from '../../src/schema/ids';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { LIVE_TRANSPORTS } from '../utils/liveClient';
import { deleteKeys, randomPrefix, REDIS_URL, redisClients } from '../utils/redis';
import {
  firstConversation,
  liveClients,
  seen,
  SEND_MESSAGE,
  THREAD_EVENTS,
  untilLive,
  withRedis,
  type ThreadEvents,
} from '../utils/threadEvents';
import { eventually, sleep } from '../utils/wait';

/**
 * # conversationEvents across two instances sharing Redis (issue 14; docs/live.md "Thread events", "Event log")
 *
 * A write through one instance reaches a subscriber of the other once, though both publish it (the vendor's echo
 * is simulated by the second instance publishing the same message). The event log is a Redis stream per source,
 * so a subscriber that disconnects from one instance and reconnects to the other with `after: <cursor>` gets the
 * events it missed, in order, then live ones; past the log's length it gets ResyncRequired { TRIMMED }, and after
 * Redis lost its data ResyncRequired { UNKNOWN_CURSOR }. Over graphql-ws and SSE alike.
 */
const LOG_LENGTH = 3;

describe('conversationEvents across two instances sharing Redis', () => {
  let embedded: Embedded;
  let a: TestGateway;
  let b: TestGateway;
  const keyPrefix = randomPrefix('events');
  const redis = redisClients();
  const clients = liveClients();
  let id: string;
  beforeAll(async () => {
    embedded = await startEmbedded({ port: 0, kinds: ['PIXIESET'] });
    const configure = withRedis(REDIS_URL, keyPrefix, { liveEvents: { maxLength: LOG_LENGTH, maxAgeMs: 600_000 } });
    a = await startTestGateway({ embedded, configure });
    b = await startTestGateway({ embedded, configure });
    id = (await firstConversation(a, 'pixieset')).id;
  });
  afterEach(async () => {
    await clients.closeAll();
  });
  afterAll(async () => {
    await a.close();
    await b.close();
    await embedded.sandbox.close();
    await redis.closeAll(keyPrefix);
  });
  const send = async (via: TestGateway, content: string) => {
    const r = await via.gql<{ sendMessage: { id: string; content: string } }>(SEND_MESSAGE, { id, c: content });
    expect(r.body.errors).toBeUndefined();
    return r.body.data!.sendMessage;
  };

  describe.each(LIVE_TRANSPORTS)('over %s', (transport) => {
    const client = (g: TestGateway) => clients.client(transport, g);
    /** A subscriber on `g`, live once a first send through `via` reached it. */
    const liveSubscriber = async (g: TestGateway, via: TestGateway) => {
      const sub = client(g).subscribe<ThreadEvents>(THREAD_EVENTS, { ids: [id] });
      await untilLive(sub, (n) => send(via, `${transport} hello ${n}`));
      return sub;
    };
    /** This transport's messages but the liveness probes (a poll of Pixieset may report earlier ones late). */
    const mine = (vs: ThreadEvents[]) =>
      seen(vs).filter((c) => c.startsWith(`${transport} `) && !c.includes(' hello '));

    it("delivers a write through one instance to the other's subscriber once", async () => {
      const onB = await liveSubscriber(b, a);
      const before = onB.values.length;
      const sent = await send(a, `${transport} once`);
      // B publishes the same message again (as a vendor's echo would make it): claimed already, dropped.
      const m = decodeGlobalId(sent.id)!;
      const c = decodeGlobalId(id)!;
      await b.gateway.services.live.publishEvents([
        {
          kind: 'MessageAdded',
          sourceId: 'pixieset',
          conversationNativeId: c.nativeId,
          at: Date.now(),
          message: {
            sourceId: 'pixieset',
            nativeId: m.nativeId,
            conversationNativeId: c.nativeId,
            content: 'the echo',
            sentAt: null,
            readAt: null,
            direction: 'OUTGOING',
            private: false,
            sender: null,
            attachments: [],
          },
        },
      ]);
      await send(a, `${transport} after`);
      await eventually(() => expect(seen(onB.values)).toContain(`${transport} after`));
      expect(mine(onB.values.slice(before))).toEqual([`${transport} once`, `${transport} after`]);
    });

    it('resumes on the other instance: the missed events in order, then live ones; past the log, TRIMMED', async () => {
      const onA = await liveSubscriber(a, b);
      const cursor = onA.values.at(-1)!.conversationEvents.cursor;
      onA.dispose();
      // Missed while disconnected, written through either instance.
      await send(a, `${transport} missed 1`);
      await send(b, `${transport} missed 2`);
      const onB = client(b).subscribe<ThreadEvents>(THREAD_EVENTS, { ids: [id], after: cursor });
      await eventually(() => expect(mine(onB.values)).toEqual([`${transport} missed 1`, `${transport} missed 2`]));
      await send(a, `${transport} live`);
      await eventually(() => expect(mine(onB.values)).toHaveLength(3));
      expect(mine(onB.values)).toEqual([`${transport} missed 1`, `${transport} missed 2`, `${transport} live`]);
      expect(seen(onB.values).filter((c) => c.startsWith('resync'))).toEqual([]);

      // More than the log keeps since `cursor`: the gap cannot be filled, on either instance.
      for (let i = 0; i < LOG_LENGTH; i++) await send(b, `${transport} more ${i}`);
      await eventually(() => expect(mine(onB.values).at(-1)).toBe(`${transport} more ${LOG_LENGTH - 1}`));
      const late = client(a).subscribe<ThreadEvents>(THREAD_EVENTS, { ids: [id], after: cursor });
      const [resync] = await late.waitFor(1);
      expect(resync!.conversationEvents).toMatchObject({ __typename: 'ResyncRequired', reason: 'TRIMMED' });
      // Its cursor is the end of the log, on any instance: nothing replayed, then live ones.
      const fresh = client(b).subscribe<ThreadEvents>(THREAD_EVENTS, {
        ids: [id],
        after: resync!.conversationEvents.cursor,
      });
      await sleep(200);
      await send(a, `${transport} after resync`);
      await eventually(() => expect(mine(fresh.values)).toEqual([`${transport} after resync`]));
      expect(seen(fresh.values).filter((c) => c.startsWith('resync'))).toEqual([]);
    });

    it('gives ResyncRequired { UNKNOWN_CURSOR } for a cursor of a Redis that lost its data', async () => {
      const onA = await liveSubscriber(a, b);
      const cursor = onA.values.at(-1)!.conversationEvents.cursor;
      onA.dispose();
      // Redis lost its data (a restart without persistence, a flush): the log and its epoch are gone. Only they
      // are deleted here: the rest (event claims, catalogs) would make the next tests see old messages again.
      await deleteKeys(redis.open(), `${keyPrefix}live:events:`);
      await send(b, `${transport} after the loss`);
      const resumed = client(a).subscribe<ThreadEvents>(THREAD_EVENTS, { ids: [id], after: cursor });
      const [first] = await resumed.waitFor(1);
      expect(first!.conversationEvents).toMatchObject({ __typename: 'ResyncRequired', reason: 'UNKNOWN_CURSOR' });
    });
  });
});
