import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/server/logger';
import { createRedisHealth } from '../../src/server/redisHealth';
import { deferred } from '../utils/wait';

/**
 * The Redis health object (server/redisHealth.ts, issue 12 item 2) over fake ioredis clients: what it logs, when
 * it says Redis is down, and how guard() falls back. The real clients' events are exercised by
 * test/integration/redis-outage.test.ts.
 */
class FakeClient extends EventEmitter {
  status = 'connecting';
  /** disconnect(reconnect) calls: ioredis closes the stream (a `close` event) and, with `true`, reconnects. */
  disconnects: boolean[] = [];
  disconnect(reconnect = false) {
    this.disconnects.push(reconnect);
    this.status = reconnect ? 'reconnecting' : 'end';
    this.emit('close');
  }
  ready() {
    this.status = 'ready';
    this.emit('ready');
  }
  drop(code = 'ECONNREFUSED') {
    this.status = 'reconnecting';
    this.emit('error', Object.assign(new Error(`connect ${code}`), { code }));
    this.emit('close');
  }
}

function setup() {
  const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString('utf8')));
      cb();
    },
  });
  let now = 1_000;
  const health = createRedisHealth({ logger: createLogger({ level: 'debug', destination }), now: () => now });
  const commands = new FakeClient();
  const subscriber = new FakeClient();
  health.watch(commands as unknown as Redis, 'commands');
  health.watch(subscriber as unknown as Redis, 'subscriber');
  return {
    health,
    commands,
    subscriber,
    lines,
    advance: (ms: number) => (now += ms),
  };
}

describe('Redis health', () => {
  it('is connecting until every client is ready, then up, with nothing logged', () => {
    const { health, commands, subscriber, lines } = setup();
    expect(health.state()).toBe('connecting');
    commands.ready();
    expect(health.state()).toBe('connecting');
    subscriber.ready();
    expect(health.state()).toBe('up');
    expect(health.isUp()).toBe(true);
    expect(lines).toEqual([]);
  });

  it('logs one line per outage however many clients drop and errors repeat, and one when every client is back', () => {
    const { health, commands, subscriber, lines, advance } = setup();
    commands.ready();
    subscriber.ready();
    const changes: boolean[] = [];
    health.onChange((up) => changes.push(up));

    commands.drop();
    subscriber.drop();
    for (let i = 0; i < 100; i++) commands.drop(); // ioredis: an error and a close per reconnect attempt
    expect(health.isDown()).toBe(true);
    expect(health.downSince()).toBe(1_000);
    expect(health.lastError()).toBe('ECONNREFUSED');

    advance(4_200);
    commands.ready();
    expect(health.isDown()).toBe(true); // the subscriber is not back yet
    subscriber.ready();
    expect(health.isUp()).toBe(true);

    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [40, 'redis unavailable'],
      [30, 'redis available again'],
    ]);
    expect(lines[0]).toMatchObject({ client: 'commands', err: 'ECONNREFUSED' });
    expect(lines[1]).toMatchObject({ downMs: 4_200 });
    expect(changes).toEqual([false, true]);
    expect(health.outages()).toBe(1);
  });

  it('counts a failed first connection as an outage', () => {
    const { health, commands, lines } = setup();
    commands.drop();
    expect(health.state()).toBe('down');
    expect(lines.map((l) => l.msg)).toEqual(['redis unavailable']);
  });

  it('guard: runs against Redis while it is up, falls back when it is down or the call fails', async () => {
    const { health, commands, subscriber } = setup();
    commands.ready();
    subscriber.ready();
    let calls = 0;
    const run = async () => {
      calls++;
      return 'redis';
    };
    expect(await health.guard(run, () => 'local')).toBe('redis');
    expect(
      await health.guard(
        () => Promise.reject(new Error('WRONGTYPE')),
        () => 'local',
      ),
    ).toBe('local');
    expect(health.fallbacks()).toBe(1);

    commands.drop();
    expect(await health.guard(run, () => 'local')).toBe('local');
    expect(calls).toBe(1); // known down: Redis is not tried
    expect(health.fallbacks()).toBe(2);
  });

  it('guard: a call in flight when Redis goes down falls back at once, and its late answer is ignored', async () => {
    const { health, commands, subscriber } = setup();
    commands.ready();
    subscriber.ready();
    const late = deferred<string>();
    const answer = health.guard(
      () => late.promise,
      () => 'local',
    );
    commands.drop();
    expect(await answer).toBe('local');
    late.reject(new Error('Connection is closed.')); // no unhandled rejection
  });

  it('degradedSince: an operation is degraded when Redis was down, went down, or a call fell back meanwhile', async () => {
    const { health, commands, subscriber } = setup();
    commands.ready();
    subscriber.ready();
    const clean = health.mark();
    expect(health.degradedSince(clean)).toBe(false);
    await health.guard(
      () => Promise.reject(new Error('x')),
      () => undefined,
    );
    expect(health.degradedSince(clean)).toBe(true);

    const beforeOutage = health.mark();
    commands.drop();
    commands.ready();
    expect(health.isUp()).toBe(true);
    expect(health.degradedSince(beforeOutage)).toBe(true); // went down and came back during the operation
    expect(health.degradedSince(health.mark())).toBe(false);
  });

  it('two calls timed out in a row on open connections are an outage: one line, and every client reconnects', async () => {
    const { health, commands, subscriber, lines } = setup();
    commands.ready();
    subscriber.ready();
    const timedOut = () => Promise.reject(new Error('Command timed out'));
    expect(await health.guard(timedOut, () => 'local')).toBe('local');
    expect(health.isUp()).toBe(true); // one slow command is not an outage
    expect(
      await health.guard(
        async () => 'redis',
        () => 'local',
      ),
    ).toBe('redis');
    expect(await health.guard(timedOut, () => 'local')).toBe('local');
    expect(health.isUp()).toBe(true); // an answer in between reset the count
    expect(await health.guard(timedOut, () => 'local')).toBe('local');
    expect(health.isDown()).toBe(true);
    expect([commands.disconnects, subscriber.disconnects]).toEqual([[true], [true]]);
    expect(lines.map((l) => [l.msg, l.err])).toEqual([['redis unavailable', 'Command timed out']]);
    commands.ready();
    subscriber.ready();
    expect(health.isUp()).toBe(true);
    expect(lines.map((l) => l.msg)).toEqual(['redis unavailable', 'redis available again']);
  });

  it('close(): the clients quitting is not an outage', () => {
    const { health, commands, subscriber, lines } = setup();
    commands.ready();
    subscriber.ready();
    health.close();
    commands.emit('close');
    subscriber.emit('close');
    expect(lines).toEqual([]);
  });
});
