/**
 * What the thread event log suites share (docs/live.md "Event log" and "Cursors"): the MessageAdded events they
 * publish, and ThreadEvents over an in-memory log, pub/sub and coordination (one gateway instance without Redis).
 * For suites of the conversationEvents subscription through a gateway, see threadEvents.ts.
 */
import { createLiveContext } from '../../src/live/context';
import { createMemoryCoordination } from '../../src/live/coordination';
import { MemoryEventLog } from '../../src/live/eventLog';
import { ThreadEvents, type ThreadEvent } from '../../src/live/events';
import { createInMemoryPubSub } from '../../src/live/transports/inMemory';

function messageAdded(sourceId: string, n: number, conversation: string, nativeId: string, content: string) {
  return {
    kind: 'MessageAdded',
    sourceId,
    conversationNativeId: conversation,
    message: {
      sourceId,
      nativeId,
      conversationNativeId: conversation,
      content,
      sentAt: new Date(n * 1000),
      readAt: null,
      direction: 'INCOMING',
      private: false,
      sender: null,
      attachments: [],
    },
    at: n * 1000,
  } satisfies ThreadEvent;
}

/** Message `n` of source `s` (native id `m<n>`, content `message <n>`), sent at n seconds, in `conversation`. */
export const messageEvent = (n: number, conversation = 'c1'): ThreadEvent =>
  messageAdded('s', n, conversation, `m${n}`, `message ${n}`);

/** Message `n` of `sourceId` in conversation c1 (native id `<source>-m<n>`, content `<source> message <n>`), at n s. */
export const sourceMessageEvent = (sourceId: string, n: number): ThreadEvent =>
  messageAdded(sourceId, n, 'c1', `${sourceId}-m${n}`, `${sourceId} message ${n}`);

/**
 * ThreadEvents of `sourceIds` over a MemoryEventLog of `maxLength` events (kept a minute), an in-memory pub/sub
 * (handed back: a suite may close it) and coordination; ready when this resolves. The caller closes `events`.
 */
export async function memoryThreadEvents(sourceIds: string[], maxLength: number) {
  const pubsub = createInMemoryPubSub();
  const ctx = createLiveContext({ connectors: [], pubsub, coordination: createMemoryCoordination() });
  const events = new ThreadEvents(ctx, sourceIds, new MemoryEventLog<ThreadEvent>({ maxLength, maxAgeMs: 60_000 }));
  await events.ready;
  return { events, pubsub };
}
