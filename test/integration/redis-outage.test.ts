import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Client } from 'graphql-ws';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { randomPrefix } from '../utils/redis';
import { redisAnswers, startThrowawayRedis, stopRedis, type ThrowawayRedis } from '../utils/redis-global-setup';
import { eventually, waitFor } from '../utils/wait';
import { createWsClient, subscribe } from '../utils/ws';

/**
 * Issue 12 item 2: a Redis outage costs nothing but Redis. The test runs its own redis-server (never the suites'
 * shared one: it is killed), a gateway on it in front of Pixieset and Chatwoot under traffic, kills Redis with
 * SIGKILL and checks that queries still answer from the sources with a typed REDIS_UNAVAILABLE warning, that a
 * Chatwoot webhook is accepted and its change reaches a subscriber of this instance, that the outage is one log
 * line and `/readyz` says so; then restarts Redis on the same port and checks that everything resumes.
 */

interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Catches the emulator's webhook deliveries, so the test delivers them itself and sees the gateway's answer. */
async function startCapture(): Promise<{ url: string; deliveries: Delivery[]; close(): Promise<void> }> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      deliveries.push({ path: req.url ?? '', headers: req.headers, body });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    deliveries,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Starts redis-server at `url` (a loopback port), in `dir`, and waits until it answers. */
async function startRedisAt(url: string, dir: string): Promise<ThrowawayRedis> {
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', new URL(url).port, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  await waitFor(() => redisAnswers(url, 500), { timeoutMs: 10_000, everyMs: 50, what: `redis-server at ${url}` });
  return { child, url, dir };
}

/** A loopback port nothing listens on (yet). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function kill(redis: ThrowawayRedis): Promise<void> {
  const exited = new Promise<void>((resolve) => redis.child.once('exit', () => resolve()));
  redis.child.kill('SIGKILL');
  await exited;
}

const QUERY = `{
  conversations(first: 30) { nodes { id source { id } lastMessage { content } } }
  unreadCount { total bySource { source { id } total } }
}`;
type Answer = {
  conversations: { nodes: Array<{ id: string; source: { id: string }; lastMessage: { content: string } | null }> };
  unreadCount: { total: number; bySource: Array<{ source: { id: string }; total: number }> };
};
type Rows = { conversationChanged: { nativeId: string; lastMessage: { content: string } | null } };
const ROWS = `subscription { conversationChanged(sources: ["chatwoot"]) { nativeId lastMessage { content } } }`;

const codesOf = (errors: Array<{ extensions?: Record<string, unknown> }> | undefined) =>
  (errors ?? []).map((e) => e.extensions?.code);

/** The value of an unlabelled sample on `/metrics`. */
async function sample(t: TestGateway, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** The gateway's log lines at warn level or above (pino: 40+), parsed. */
const warnings = (t: TestGateway, from = 0) =>
  t.logs
    .slice(from)
    .map((l) => JSON.parse(l) as { level: number; msg: string; [k: string]: unknown })
    .filter((l) => l.level >= 40);

describe('a Redis outage costs nothing but Redis (issue 12 item 2)', () => {
  let redis: ThrowawayRedis;
  let t: TestGateway;
  let capture: Awaited<ReturnType<typeof startCapture>>;
  const clients: Client[] = [];
  const consoleErrors: unknown[][] = [];
  let consoleSpy: jest.SpyInstance;

  beforeAll(async () => {
    // ioredis prints "[ioredis] Unhandled error event" through console.error when a client has no error listener.
    consoleSpy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      consoleErrors.push(args);
    });
    redis = await startThrowawayRedis();
    const prefix = randomPrefix('outage');
    t = await startTestGateway({
      kinds: ['PIXIESET', 'CHATWOOT'],
      configure: (c) => ({ ...c, redis: { url: redis.url, keyPrefix: prefix } }),
    });
    capture = await startCapture();
    t.embedded.sandbox.setWebhookBase(capture.url);
  });
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
    await t?.close();
    await capture?.close();
    if (redis) await stopRedis(redis);
    consoleSpy.mockRestore();
  });

  const deliver = (d: Delivery, g: TestGateway = t) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const h of ['x-chatwoot-signature', 'x-chatwoot-timestamp', 'x-chatwoot-delivery']) {
      const v = d.headers[h];
      if (typeof v === 'string') headers[h] = v;
    }
    return fetch(`${g.url}${d.path}`, { method: 'POST', headers, body: d.body });
  };
  /** An incoming Chatwoot message, its webhook caught and delivered to the gateway: the gateway's answer. */
  const incoming = async (content: string, g: TestGateway = t) => {
    const mark = capture.deliveries.length;
    const cw = t.embedded.sandbox.emulators.get('chatwoot')!;
    cw.controls.simulateIncoming({ content });
    const d = await waitFor(() => capture.deliveries.slice(mark).find((x) => x.path.startsWith('/webhooks/chatwoot')), {
      what: 'the Chatwoot delivery',
    });
    return deliver(d, g);
  };
  const readyz = async (g: TestGateway = t) => {
    const r = await fetch(`${g.url}/readyz`);
    return { status: r.status, body: (await r.json()) as { status: string; redis?: { status: string } } };
  };
  /** Both sources answered: the inbox holds rows of each, and unread totals of Chatwoot. */
  const expectHealthy = (r: Awaited<ReturnType<TestGateway['gql']>>) => {
    expect(r.status).toBe(200);
    const data = r.body.data as Answer | undefined;
    expect(data).toBeTruthy();
    expect(codesOf(r.body.errors)).not.toContain('INTERNAL_SERVER_ERROR');
    const sources = new Set(data!.conversations.nodes.map((n) => n.source.id));
    expect(sources).toEqual(new Set(['pixieset', 'chatwoot']));
    expect(data!.unreadCount.bySource.map((s) => s.source.id)).toContain('chatwoot');
  };

  it('answers from the sources with a typed warning, accepts webhooks, logs once, says so in /readyz, and resumes', async () => {
    // Before: all well, through Redis.
    const before = await t.gql(QUERY);
    expectHealthy(before);
    expect(before.body.errors).toBeUndefined();
    expect((await readyz()).body.redis?.status).toBe('up');
    expect(await sample(t, 'switchboard_redis_up')).toBe(1);

    const ws = createWsClient(t.wsUrl, t.apiKey);
    clients.push(ws);
    const rows = subscribe<Rows>(ws, ROWS);
    // The subscription is live once a change reaches it: one webhook while Redis is up.
    expect((await incoming('while redis is up')).status).toBe(202);
    await eventually(() =>
      expect(rows.values.some((v) => v.conversationChanged.lastMessage?.content === 'while redis is up')).toBe(true),
    );

    // Traffic while Redis dies: every answer is a 200 with both sources' data.
    const logMark = t.logs.length;
    let traffic = true;
    const answers: Array<Awaited<ReturnType<TestGateway['gql']>>> = [];
    const loop = (async () => {
      while (traffic) answers.push(await t.gql(QUERY));
    })();
    await waitFor(() => answers.length >= 2, { what: 'traffic before the kill' });
    await kill(redis);

    const degraded = await eventually(
      async () => {
        const r = await t.gql(QUERY);
        expect(codesOf(r.body.errors)).toContain('REDIS_UNAVAILABLE');
        return r;
      },
      { timeoutMs: 10_000, everyMs: 50 },
    );
    expectHealthy(degraded);
    const warning = degraded.body.errors!.find((e) => e.extensions?.code === 'REDIS_UNAVAILABLE')!;
    expect(warning.extensions).toMatchObject({ code: 'REDIS_UNAVAILABLE', degraded: true });

    // A webhook is applied here and accepted, and its change reaches this instance's subscriber.
    const hook = await incoming('while redis is down');
    expect(hook.status).toBe(202);
    await eventually(
      () =>
        expect(rows.values.some((v) => v.conversationChanged.lastMessage?.content === 'while redis is down')).toBe(
          true,
        ),
      { timeoutMs: 10_000 },
    );
    // The inbox shows it too (the catalog's local copy was patched).
    await eventually(async () => {
      const r = await t.gql<Answer>(QUERY);
      expect(r.body.data!.conversations.nodes.some((n) => n.lastMessage?.content === 'while redis is down')).toBe(true);
    });

    const ready = await readyz();
    expect(ready.status).toBe(200); // the sources are ready: a Redis outage alone keeps the instance in rotation
    expect(ready.body.redis?.status).toBe('down');
    expect(await sample(t, 'switchboard_redis_up')).toBe(0);
    expect(await sample(t, 'switchboard_redis_outages_total')).toBe(1);
    expect(await sample(t, 'switchboard_redis_fallbacks_total')).toBeGreaterThan(0);

    traffic = false;
    await loop;
    expect(answers.length).toBeGreaterThan(2);
    for (const r of answers) expectHealthy(r);

    // One line for the outage, none per command, and no unhandled ioredis error events.
    expect(warnings(t, logMark).map((l) => l.msg)).toEqual(['redis unavailable']);
    expect(consoleErrors.map((a) => String(a[0]))).toEqual([]);

    // Redis comes back (empty: no persistence): everything resumes through it.
    redis = await startRedisAt(redis.url, redis.dir); // the same port
    await eventually(async () => expect((await readyz()).body.redis?.status).toBe('up'), { timeoutMs: 15_000 });
    const back = await t.gql(QUERY);
    expectHealthy(back);
    expect(back.body.errors).toBeUndefined();
    expect(await sample(t, 'switchboard_redis_up')).toBe(1);
    const up = t.logs
      .slice(logMark)
      .map((l) => JSON.parse(l) as { msg: string; downMs?: number })
      .filter((l) => l.msg === 'redis available again');
    expect(up).toHaveLength(1);
    expect(typeof up[0]!.downMs).toBe('number');

    expect((await incoming('after redis returned')).status).toBe(202);
    await eventually(
      () =>
        expect(rows.values.some((v) => v.conversationChanged.lastMessage?.content === 'after redis returned')).toBe(
          true,
        ),
      { timeoutMs: 10_000 },
    );
    expect(consoleErrors.map((a) => String(a[0]))).toEqual([]);
  }, 90_000);

  it('an instance started while Redis is down answers, accepts webhooks and says so, then joins Redis when it starts', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const g = await startTestGateway({
      embedded: t.embedded,
      configure: (c) => ({ ...c, redis: { url, keyPrefix: randomPrefix('outage-start') } }),
    });
    let late: ThrowawayRedis | null = null;
    try {
      const first = await eventually(
        async () => {
          const r = await g.gql(QUERY);
          expect(codesOf(r.body.errors)).toContain('REDIS_UNAVAILABLE');
          return r;
        },
        { timeoutMs: 10_000, everyMs: 50 },
      );
      expectHealthy(first);
      expect((await readyz(g)).body.redis?.status).toBe('down');
      expect((await incoming('to an instance without redis', g)).status).toBe(202);
      await eventually(async () => {
        const r = await g.gql<Answer>(QUERY);
        expect(
          r.body.data!.conversations.nodes.some((n) => n.lastMessage?.content === 'to an instance without redis'),
        ).toBe(true);
      });
      expect(warnings(g).map((l) => l.msg)).toEqual(['redis unavailable']);

      late = await startRedisAt(url, mkdtempSync(path.join(tmpdir(), 'switchboard-outage-')));
      await eventually(async () => expect((await readyz(g)).body.redis?.status).toBe('up'), { timeoutMs: 15_000 });
      const back = await g.gql(QUERY);
      expectHealthy(back);
      expect(back.body.errors).toBeUndefined();
      expect(consoleErrors.map((a) => String(a[0]))).toEqual([]);
    } finally {
      await g.close();
      if (late) await stopRedis(late);
    }
  }, 60_000);

  it('a Redis that stops answering on an open connection (frozen, SIGSTOP) is an outage too, caught by the command timeout', async () => {
    const frozen = await startThrowawayRedis();
    const g = await startTestGateway({
      embedded: t.embedded,
      configure: (c) => ({
        ...c,
        redis: { url: frozen.url, keyPrefix: randomPrefix('outage-frozen'), commandTimeoutMs: 300 },
      }),
    });
    try {
      expectHealthy(await g.gql(QUERY));
      expect((await readyz(g)).body.redis?.status).toBe('up');
      frozen.child.kill('SIGSTOP'); // the connections stay open; nothing answers
      const degraded = await eventually(
        async () => {
          const r = await g.gql(QUERY);
          expect(codesOf(r.body.errors)).toContain('REDIS_UNAVAILABLE');
          expect((await readyz(g)).body.redis?.status).toBe('down');
          return r;
        },
        { timeoutMs: 15_000, everyMs: 50 },
      );
      expectHealthy(degraded);
      expect((await incoming('while redis is frozen', g)).status).toBe(202);
      expect(warnings(g).map((l) => [l.msg, l.err])).toEqual([['redis unavailable', 'Command timed out']]);

      frozen.child.kill('SIGCONT');
      await eventually(async () => expect((await readyz(g)).body.redis?.status).toBe('up'), { timeoutMs: 15_000 });
      const back = await g.gql(QUERY);
      expectHealthy(back);
      expect(back.body.errors).toBeUndefined();
      expect(consoleErrors.map((a) => String(a[0]))).toEqual([]);
    } finally {
      frozen.child.kill('SIGCONT');
      await g.close();
      await stopRedis(frozen);
    }
  }, 60_000);
});
