import type { RedisGuard } from '../../src/connectors/catalog-stores/redis';
import { createLiveContext } from '../../src/live/context';
import { createMemoryCoordination } from '../../src/live/coordination';
import { decodeCursor, fromWire, ThreadEvents, type DeliveredEvent, type ThreadEvent } from '../../src/live/events';
import type { PubSubTransport } from '../../src/live/pubsub';
import { compareIds, RedisEventLog } from '../../src/live/redisEventLog';
import { createInMemoryPubSub } from '../../src/live/transports/inMemory';
import { messageEvent as event } from '../utils/eventLogFixtures';
import { deleteKeys, randomPrefix, redisClients } from '../utils/redis';
import { eventually, sleep } from '../utils/wait';

/**
 * docs/live.md "Event log" (Redis), "Cursors" and "When Redis is down": the thread-event log in Redis streams,
 * against the real Redis. Two ThreadEvents on one pub/sub and one key prefix are two gateway instances: a cursor
 * of one resumes on the other; the bounds make exact gaps (TRIMMED); a Redis that lost its data makes a cursor
 * unknown (UNKNOWN_CURSOR), never a silent miss; an outage keeps live delivery and makes replays honest.
 */
const text = (e: DeliveredEvent) =>
  e.kind === 'ResyncRequired' ? `resync:${e.reason}` : 'message' in e.event ? e.event.message.content : e.kind;

/** A RedisGuard whose outage the test switches (server/redisHealth.ts's contract). */
function switchableHealth() {
  let down = false;
  const listeners = new Set<(up: boolean) => void>();
  const health: RedisGuard & { set(down: boolean): void; fallbacks: number } = {
    fallbacks: 0,
    isDown: () => down,
    async guard(run, fallback) {
      if (!down)
        try {
          return await run();
        } catch {
          // falls back below
        }
      health.fallbacks++;
      return fallback();
    },
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    set(next) {
      down = next;
      for (const l of [...listeners]) l(!next);
    },
  };
  return health;
}

describe('RedisEventLog', () => {
  const redis = redisClients();
  const prefix = randomPrefix('eventlog');
  const opened: Array<{ events: ThreadEvents; pubsub?: PubSubTransport }> = [];
  let pubsub: PubSubTransport;
  beforeEach(() => {
    pubsub = createInMemoryPubSub();
  });
  afterEach(async () => {
    for (const o of opened.splice(0)) await o.events.close();
    await pubsub.close();
    const admin = redis.open();
    await deleteKeys(admin, prefix);
  });
  afterAll(() => redis.closeAll(prefix));

  /** One gateway instance's thread events, over the test's pub/sub and a Redis connection of its own. */
  const instance = async (
    opts: { maxLength?: number; maxAgeMs?: number; health?: RedisGuard; calls?: (script: string) => void } = {},
  ) => {
    const connection = redis.open();
    if (opts.calls) {
      const run = connection.eval.bind(connection);
      const count = opts.calls;
      connection.eval = ((...args: unknown[]) => {
        count(String(args[0]));
        return (run as (...a: unknown[]) => Promise<unknown>)(...args);
      }) as typeof connection.eval;
    }
    const ctx = createLiveContext({ connectors: [], pubsub, coordination: createMemoryCoordination() });
    const log = new RedisEventLog<ThreadEvent>({
      redis: connection,
      prefix,
      maxLength: opts.maxLength ?? 10,
      maxAgeMs: opts.maxAgeMs ?? 60_000,
      decode: fromWire,
      health: opts.health,
    });
    const events = new ThreadEvents(ctx, ['s'], log);
    opened.push({ events });
    await events.ready;
    return { events, log };
  };
  const watch = (events: ThreadEvents, after: string | null = null) => {
    const got: DeliveredEvent[] = [];
    const stop = events.watch(['s'], after, (e) => got.push(e));
    return { got, stop, texts: () => got.map(text) };
  };

  it('compares stream ids as (ms, n)', () => {
    expect(compareIds('10-2', '9-5')).toBe(1);
    expect(compareIds('10-2', '10-10')).toBe(-1);
    expect(compareIds('10-2', '10-2')).toBe(0);
  });

  it("feeds every instance the stream's one order, and resumes a cursor of one instance on the other", async () => {
    const a = await instance();
    const b = await instance();
    const onA = watch(a.events);
    const onB = watch(b.events);
    // Both publish at once: whatever order the notifications arrive in, both feed the stream's order.
    await Promise.all([a.events.publish([event(1), event(2)]), b.events.publish([event(3), event(4)])]);
    await eventually(() => expect(onA.got).toHaveLength(4));
    await eventually(() => expect(onB.got).toHaveLength(4));
    expect(onB.texts()).toEqual(onA.texts());
    expect(onA.texts().filter((t) => t === 'message 1' || t === 'message 2')).toEqual(['message 1', 'message 2']);
    // Cursors name the deployment's log (the same epoch on both) and stream ids.
    expect(decodeCursor(onA.got[1]!.cursor)).toEqual(decodeCursor(onB.got[1]!.cursor));
    expect(decodeCursor(onA.got[1]!.cursor)!.p.s).toMatch(/^\d+-\d+$/);

    const cursor = onA.got[1]!.cursor;
    onA.stop();
    // Resumed on B: the two it missed, in order, then live ones; nothing twice at the seam.
    const resumed = watch(b.events, cursor);
    await eventually(() => expect(resumed.got).toHaveLength(2));
    await a.events.publish([event(5)]);
    await eventually(() => expect(resumed.got).toHaveLength(3));
    expect(resumed.texts()).toEqual([...onB.texts().slice(2, 4), 'message 5']);
    expect(resumed.got.map((e) => e.kind !== 'ResyncRequired' && e.replayed === true)).toEqual([true, true, false]);
    await sleep(50);
    expect(resumed.got).toHaveLength(3);
    // The last cursor resumes with nothing to replay.
    const again = watch(a.events, resumed.got.at(-1)!.cursor);
    await sleep(50);
    expect(again.got).toEqual([]);
  });

  it('costs one script call per publication, and one read of the stream per instance that hears it', async () => {
    const calls: string[] = [];
    const kind = (name: string) => (script: string) =>
      calls.push(`${name}:${script.includes("'XADD'") ? 'append' : 'read'}`);
    const a = await instance({ calls: kind('a') });
    const b = await instance({ calls: kind('b') });
    calls.length = 0; // the heads read at start
    const onA = watch(a.events);
    const onB = watch(b.events);
    for (let n = 1; n <= 3; n++) {
      await a.events.publish([event(n)]);
      await eventually(() => expect([onA.got.length, onB.got.length]).toEqual([n, n]));
    }
    expect(calls.sort()).toEqual([
      ...Array(3).fill('a:append'),
      ...Array(3).fill('a:read'),
      ...Array(3).fill('b:read'),
    ]);
  });

  it('replays at most maxLength events after a cursor: one more is TRIMMED, exactly', async () => {
    const a = await instance({ maxLength: 2 });
    const b = await instance({ maxLength: 2 });
    const onA = watch(a.events);
    await a.events.publish([event(1), event(2), event(3)]);
    await eventually(() => expect(onA.got).toHaveLength(3));
    const resume = async (cursor: string) => {
      const w = watch(b.events, cursor);
      await eventually(() => expect(w.got.length).toBeGreaterThan(0));
      return w.texts();
    };
    // After the first: two events since, both kept.
    expect(await resume(onA.got[0]!.cursor)).toEqual(['message 2', 'message 3']);
    await a.events.publish([event(4)]);
    await eventually(() => expect(onA.got).toHaveLength(4));
    // After the first again: three since, one gone.
    expect(await resume(onA.got[0]!.cursor)).toEqual(['resync:TRIMMED']);
    expect(await resume(onA.got[1]!.cursor)).toEqual(['message 3', 'message 4']);
    // ResyncRequired's cursor is the end of the log: resuming from it replays nothing, and live ones follow.
    const resync = watch(b.events, onA.got[0]!.cursor);
    await eventually(() => expect(resync.got).toHaveLength(1));
    const fresh = watch(a.events, resync.got[0]!.cursor);
    await a.events.publish([event(5)]);
    await eventually(() => expect(fresh.texts()).toEqual(['message 5']));
    // Stream entries kept: maxLength, plus the one that proves nothing after it is gone.
    const admin = redis.open();
    const [key] = await admin.keys(`${prefix}live:events:*:s`);
    expect(await admin.xlen(key!)).toBe(3);
  });

  it('drops events older than maxAgeMs: a cursor before them is TRIMMED, one at the last of them resumes', async () => {
    const a = await instance({ maxAgeMs: 1000 });
    const onA = watch(a.events);
    await a.events.publish([event(1), event(2)]);
    await eventually(() => expect(onA.got).toHaveLength(2));
    await sleep(1100);
    await a.events.publish([event(3)]);
    await eventually(() => expect(onA.got).toHaveLength(3));
    const from = async (cursor: string) => {
      const w = watch(a.events, cursor);
      await eventually(() => expect(w.got.length).toBeGreaterThan(0));
      return w.texts();
    };
    expect(await from(onA.got[0]!.cursor)).toEqual(['resync:TRIMMED']);
    expect(await from(onA.got[1]!.cursor)).toEqual(['message 3']);
  });

  it('a cursor of a Redis that lost its data is UNKNOWN_CURSOR; a subscriber watching across it gets the new events', async () => {
    const a = await instance();
    const b = await instance();
    const onA = watch(a.events);
    await a.events.publish([event(1)]);
    await eventually(() => expect(onA.got).toHaveLength(1));
    const cursor = onA.got[0]!.cursor;
    // Redis restarted without persistence (or was flushed): every key is gone, the epoch with them.
    await deleteKeys(redis.open(), prefix);
    await b.events.publish([event(2)]);
    await eventually(() => expect(onA.texts()).toEqual(['message 1', 'message 2']));
    expect(decodeCursor(onA.got[1]!.cursor)!.e).not.toEqual(decodeCursor(cursor)!.e);
    const late = watch(b.events, cursor);
    await eventually(() => expect(late.texts()).toEqual(['resync:UNKNOWN_CURSOR']));
    // A cursor of the new epoch resumes (on the other instance).
    const resumed = watch(b.events, onA.got[1]!.cursor);
    await a.events.publish([event(3)]);
    await eventually(() => expect(resumed.texts()).toEqual(['message 3']));
  });

  it('while Redis is down, delivers live events here, answers a replay with UNKNOWN_CURSOR, and marks the gap after', async () => {
    const health = switchableHealth();
    const a = await instance({ health });
    const onA = watch(a.events);
    await a.events.publish([event(1)]);
    await eventually(() => expect(onA.got).toHaveLength(1));
    const before = onA.got[0]!.cursor;

    health.set(true);
    await a.events.publish([event(2)]);
    await eventually(() => expect(onA.texts()).toEqual(['message 1', 'message 2']));
    // Delivered here only: the subscriber's position does not move (the event is in no log).
    expect(decodeCursor(onA.got[1]!.cursor)).toEqual(decodeCursor(before));
    const during = watch(a.events, before);
    await eventually(() => expect(during.texts()).toEqual(['resync:UNKNOWN_CURSOR']));

    health.set(false);
    await a.events.publish([event(3)]);
    await eventually(() => expect(onA.texts()).toEqual(['message 1', 'message 2', 'message 3']));
    // Event 2 is not in the stream: a replay across the outage is TRIMMED, not a silent miss.
    const across = watch(a.events, before);
    await eventually(() => expect(across.texts()).toEqual(['resync:TRIMMED']));
    // After the outage, cursors resume again.
    const after = watch(a.events, onA.got[2]!.cursor);
    await a.events.publish([event(4)]);
    await eventually(() => expect(after.texts()).toEqual(['message 4']));
    expect(health.fallbacks).toBeGreaterThan(0);
  });
});
