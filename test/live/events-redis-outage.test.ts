import { spawn } from 'node:child_process';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { randomPrefix } from '../utils/redis';
import { redisAnswers, startThrowawayRedis, stopRedis, type ThrowawayRedis } from '../utils/redis-global-setup';
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
import { eventually, waitFor } from '../utils/wait';

/**
 * # conversationEvents through a Redis outage and a Redis that lost its data (issue 14; docs/live.md "When Redis
 * is down", "Event log")
 *
 * The test runs its own redis-server (never the suites' shared one: it is killed). While Redis is down, the
 * gateway's own writes still reach its subscriber live, a resume (`after:`) starts with ResyncRequired
 * { UNKNOWN_CURSOR } (the log cannot be read) and nothing errors. Redis comes back empty (no persistence): the
 * subscriber goes on with new events, and a cursor of before is ResyncRequired { UNKNOWN_CURSOR }, never a replay
 * with a hole.
 */
async function kill(redis: ThrowawayRedis): Promise<void> {
  const exited = new Promise<void>((resolve) => redis.child.once('exit', () => resolve()));
  redis.child.kill('SIGKILL');
  await exited;
}

/** redis-server again at `redis`'s port, empty (no persistence). */
async function restart(redis: ThrowawayRedis): Promise<ThrowawayRedis> {
  const child = spawn(
    'redis-server',
    ['--port', new URL(redis.url).port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redis.dir],
    { stdio: 'ignore' },
  );
  await waitFor(() => redisAnswers(redis.url, 500), { timeoutMs: 10_000, everyMs: 50, what: 'redis-server again' });
  return { ...redis, child };
}

describe('conversationEvents through a Redis outage', () => {
  let redis: ThrowawayRedis;
  let t: TestGateway;
  const clients = liveClients();
  let consoleSpy: jest.SpyInstance;

  beforeAll(async () => {
    // ioredis prints "[ioredis] Unhandled error event" through console.error when a client has no error listener.
    consoleSpy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    redis = await startThrowawayRedis();
    t = await startTestGateway({
      kinds: ['PIXIESET'],
      configure: withRedis(redis.url, randomPrefix('events-outage')),
    });
  });
  afterAll(async () => {
    await clients.closeAll();
    await t?.close();
    if (redis) await stopRedis(redis);
    consoleSpy.mockRestore();
  });

  it('delivers live events while Redis is down, answers a resume with ResyncRequired, and after a data loss', async () => {
    const { id } = await firstConversation(t, 'pixieset');
    /** What `/readyz` says of Redis (server/redisHealth.ts). */
    const redisStatus = async () =>
      ((await (await fetch(`${t.url}/readyz`)).json()) as { redis?: { status: string } }).redis?.status;
    const send = async (c: string) => {
      const r = await t.gql(SEND_MESSAGE, { id, c });
      expect((r.body.errors ?? []).filter((e) => e.extensions?.code !== 'REDIS_UNAVAILABLE')).toEqual([]);
    };
    const client = clients.client('ws', t);
    const sub = client.subscribe<ThreadEvents>(THREAD_EVENTS, { ids: [id] });
    await untilLive(sub, (n) => send(`hello ${n}`));
    const cursor = sub.values.at(-1)!.conversationEvents.cursor;

    await kill(redis);
    await eventually(async () => expect(await redisStatus()).toBe('down'));
    await send('while down');
    await eventually(() => expect(seen(sub.values)).toContain('while down'));
    const during = client.subscribe<ThreadEvents>(THREAD_EVENTS, { ids: [id], after: cursor });
    const [first] = await during.waitFor(1);
    expect(first!.conversationEvents).toMatchObject({ __typename: 'ResyncRequired', reason: 'UNKNOWN_CURSOR' });
    during.dispose();

    // Back, empty: a new epoch. The subscriber goes on; a cursor of before is unknown.
    redis = await restart(redis);
    await eventually(async () => expect(await redisStatus()).toBe('up'), { timeoutMs: 15_000 });
    await send('after the restart');
    await eventually(() => expect(seen(sub.values)).toContain('after the restart'));
    const late = client.subscribe<ThreadEvents>(THREAD_EVENTS, { ids: [id], after: cursor });
    const [again] = await late.waitFor(1);
    expect(again!.conversationEvents).toMatchObject({ __typename: 'ResyncRequired', reason: 'UNKNOWN_CURSOR' });
    // The subscriber's new cursor resumes (from the new stream), and live ones follow.
    const resumed = client.subscribe<ThreadEvents>(THREAD_EVENTS, {
      ids: [id],
      after: sub.values.at(-1)!.conversationEvents.cursor,
    });
    await send('resumed');
    await eventually(() => expect(seen(resumed.values)).toEqual(['resumed']));
    expect(sub.errors).toEqual([]);
    expect(seen(sub.values).filter((v) => !v.startsWith('hello'))).toEqual([
      'while down',
      'after the restart',
      'resumed',
    ]);
  });
});
