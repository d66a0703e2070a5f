import type { ThreadEvent } from '../../src/live/events';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { createLiveClient, type LiveClient, type LiveSubscription } from '../utils/liveClient';
import { firstConversation, seen, SEND_MESSAGE, THREAD_EVENTS, type ThreadEvents } from '../utils/threadEvents';
import { eventually } from '../utils/wait';

/**
 * End to end over graphql-ws (935790b, issue 14 fan-out lever 3; docs/live.md "Transports"): 1,210 conversationEvents
 * subscriptions on one socket, so each thread event reaches the engine's listeners over three turns of the event
 * loop. Three events of one batch, then a send, reach every subscription once and in order, so does a subscription that resumes
 * with `after` while they are being handed out, and the gateway closes with an event being handed out (run under
 * jest --detectOpenHandles: nothing of it stays open).
 */
const N = 1_210;

describe('thread event slices end to end over graphql-ws', () => {
  let t: TestGateway;
  let client: LiveClient;
  let id: string;
  let nativeId: string;
  beforeAll(async () => {
    t = await startTestGateway({
      kinds: ['PIXIESET'],
      // One socket and one key carry every subscription of the probe.
      configure: (c) => ({
        ...c,
        server: {
          ...c.server,
          keyLimits: { subscriptionsPerSocket: null, subscriptionsPerKey: null, operationsPerMinute: null },
        },
      }),
    });
    ({ id, nativeId } = await firstConversation(t, 'pixieset'));
    client = createLiveClient('ws', t, t.apiKey);
  });
  afterAll(async () => {
    await client?.close();
    await t?.close();
  });
  const send = async (content: string) => {
    const r = await t.gql<{ sendMessage: { id: string } }>(SEND_MESSAGE, { id, c: content });
    expect(r.body.errors).toBeUndefined();
  };
  /** Publishes messages of the conversation as one batch (a webhook's): the second and third queue behind the first. */
  const publish = (...contents: string[]) =>
    t.gateway.services.live.publishEvents(
      contents.map((content): ThreadEvent => ({
        kind: 'MessageAdded',
        sourceId: 'pixieset',
        conversationNativeId: nativeId,
        at: Date.now(),
        message: {
          sourceId: 'pixieset',
          nativeId: `slices-${content}-${Math.random()}`,
          conversationNativeId: nativeId,
          content,
          sentAt: null,
          readAt: null,
          direction: 'INCOMING',
          private: false,
          sender: null,
          attachments: [],
        },
      })),
    );
  /** What a subscription saw of this probe's messages (a poll of Pixieset may report others). */
  const mine = (sub: LiveSubscription<ThreadEvents>) => seen(sub.values).filter((c) => c.startsWith('slices '));

  it('gives 1,210 subscriptions on one socket a batch of three events and a send once and in order, a resume exactly the rest, and closes mid-slice', async () => {
    const subs = Array.from({ length: N }, () => client.subscribe<ThreadEvents>(THREAD_EVENTS, { ids: [id] }));
    // Live once every subscription got a probe.
    let probe = 0;
    await eventually(
      async () => {
        await send(`probe ${++probe}`);
        await eventually(() => expect(subs.filter((s) => s.values.length === 0)).toHaveLength(0), {
          timeoutMs: 2_000,
        });
      },
      { timeoutMs: 20_000 },
    );
    const last = subs[0]!.values.at(-1)!.conversationEvents.cursor;

    // Resumes after the last event before the three (its subscribe reaches the server whenever it does).
    const resumed = client.subscribe<ThreadEvents>(THREAD_EVENTS, { ids: [id], after: last });
    await publish('slices 1', 'slices 2', 'slices 3');
    await send('slices 4');
    const all = 'slices 1,slices 2,slices 3,slices 4';
    await eventually(() => expect(subs.filter((s) => mine(s).length < 4)).toHaveLength(0), { timeoutMs: 20_000 });
    await eventually(() => expect(mine(resumed)).toHaveLength(4));
    expect(subs.filter((s) => mine(s).join() !== all)).toEqual([]);
    expect(mine(resumed).join()).toBe(all);
    expect(subs.flatMap((s) => s.errors)).toEqual([]);
    // Every subscription is at the same position, and so is the resumed one.
    const cursors = new Set(subs.map((s) => s.values.at(-1)!.conversationEvents.cursor));
    expect(cursors.size).toBe(1);
    expect(resumed.values.at(-1)!.conversationEvents.cursor).toBe([...cursors][0]);

    // The gateway closes while the next event is being handed out (its first slice went out as it was published).
    await publish('slices 5');
    await t.gateway.close();
  });
});
