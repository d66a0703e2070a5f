import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'graphql-ws';
import type { RequestLogEntry } from '../../src/sandbox/kit/server';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { createWsClient, subscribe } from '../utils/ws';
import {
  adjust,
  eventually,
  makeTransport,
  measure,
  metric,
  randomPrefix,
  recording,
  REDIS_URL,
  type RecordingPubSub,
} from '../live/helpers';

/**
 * Two gateway instances in front of the same sandbox, sharing one Redis (pub/sub, catalogs, leases, event ids):
 * a change ingested by one reaches subscribers of the other; exactly one polls each POLLING source; the lease
 * moves to the survivor when its holder stops (gracefully, or killed: a real child process).
 */
type Unread = { unreadCountChanged: { total: number } };
const UNREAD = `subscription($s: [ID!]) { unreadCountChanged(sources: $s) { total } }`;
const POLL_MS = 200;
const LEASE_MS = 1500;

const isPoll = (e: RequestLogEntry) =>
  e.path.replace(/\/$/, '') === '/api/v1/conversations' && e.query.page_size === '100';

describe('two gateway instances sharing Redis', () => {
  let prefix: string;
  let a: TestGateway;
  let b: TestGateway;
  let pubA: RecordingPubSub;
  let pubB: RecordingPubSub;
  const clients: Client[] = [];
  const client = (g: TestGateway) => {
    const c = createWsClient(g.wsUrl, g.apiKey);
    clients.push(c);
    return c;
  };
  const configure = () =>
    adjust({
      redisPrefix: prefix,
      liveLeaseMs: LEASE_MS,
      source: (s) => (s.kind === 'PIXIESET' ? { pollIntervalMs: POLL_MS } : {}),
    });

  beforeEach(async () => {
    prefix = randomPrefix('scale');
    pubA = recording(makeTransport('Redis', prefix));
    pubB = recording(makeTransport('Redis', prefix));
    a = await startTestGateway({ kinds: ['PIXIESET', 'PROTOCOL'], pubsub: pubA, configure: configure() });
    b = await startTestGateway({ embedded: a.embedded, pubsub: pubB, configure: configure() });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
    await b.close();
    await a.close();
    await pubA.close();
    await pubB.close();
  });

  const px = () => a.embedded.sandbox.emulators.get('pixieset')!;
  const pr = () => a.embedded.sandbox.emulators.get('protocol')!;
  const polls = (g: TestGateway) =>
    metric(g.url, 'switchboard_live_polls_total', { source: 'pixieset', outcome: 'ok' });
  const holder = () => {
    const onA = a.gateway.services.live.pollingSources().includes('pixieset');
    const onB = b.gateway.services.live.pollingSources().includes('pixieset');
    if (onA === onB) throw new Error(`expected exactly one poller, got A=${onA} B=${onB}`);
    return onA ? { holder: a, standby: b } : { holder: b, standby: a };
  };

  it('pushes a change ingested by a webhook on instance B to a subscriber on instance A, once', async () => {
    a.embedded.sandbox.setWebhookBase(b.url);
    const sub = subscribe<Unread>(client(a), UNREAD, { s: ['protocol'] });
    const [first] = await sub.waitFor(1);
    const marks = { a: pubA.published.length, b: pubB.published.length, logsA: a.logs.length };
    const latencies: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const sent = Date.now();
      pr().controls.simulateIncoming({ content: `across ${i}` });
      await sub.waitFor(1 + i, 5000);
      latencies.push(Date.now() - sent);
    }
    expect(sub.values.map((v) => v.unreadCountChanged.total)).toEqual(
      [0, 1, 2, 3].map((n) => first!.unreadCountChanged.total + n),
    );
    expect(sub.values.at(-1)!.unreadCountChanged.total).toBe(pr().controls.unreadState()!.total);
    // B took the webhooks and published each change once; A published nothing for them.
    expect(b.logs.some((l) => l.includes('"route":"/webhooks/protocol"'))).toBe(true);
    expect(a.logs.slice(marks.logsA).some((l) => l.includes('"route":"/webhooks/protocol"'))).toBe(false);
    expect(pubB.on('unread:protocol', marks.b)).toHaveLength(3);
    expect(pubA.on('unread:protocol', marks.a)).toHaveLength(0);
    // A's cached totals follow B's publications: a new subscriber on A gets the current value.
    const late = subscribe<Unread>(client(a), UNREAD, { s: ['protocol'] });
    expect((await late.waitFor(1))[0]!.unreadCountChanged.total).toBe(pr().controls.unreadState()!.total);
    measure('webhook on B → subscriber on A latency', `${latencies.join(', ')} ms`);
  });

  it('polls a POLLING source from exactly one instance, and both instances push what it finds', async () => {
    const subA = subscribe<Unread>(client(a), UNREAD, { s: ['pixieset'] });
    const subB = subscribe<Unread>(client(b), UNREAD, { s: ['pixieset'] });
    await subA.waitFor(1);
    await subB.waitFor(1);
    const { holder: h, standby: s } = await eventually(holder);
    expect(s.gateway.services.live.activePollers()).toEqual(['pixieset']); // standing by

    const before = { h: await polls(h), s: await polls(s) };
    px().clearRequests();
    await eventually(async () => expect(await polls(h)).toBeGreaterThanOrEqual(before.h + 6));
    const after = { h: await polls(h), s: await polls(s) };
    const listReads = px().requests().filter(isPoll).length;
    expect(after.s).toBe(before.s);
    expect(holder().holder).toBe(h);
    // Every list read of the window is the holder's (one per poll, ±1 for a poll in flight at either edge).
    expect(Math.abs(listReads - (after.h - before.h))).toBeLessThanOrEqual(1);

    const start = subA.values[0]!.unreadCountChanged.total;
    px().controls.simulateIncoming({});
    await subA.waitFor(2, 5000);
    await subB.waitFor(2, 5000);
    expect(subA.values[1]!.unreadCountChanged.total).toBe(start + 1);
    expect(subB.values[1]!.unreadCountChanged.total).toBe(start + 1);
    expect(
      [...pubA.on('unread:pixieset'), ...pubB.on('unread:pixieset')].filter(
        (p) => (p.payload as { total: number }).total === start + 1,
      ),
    ).toHaveLength(1);
  });

  it('hands polling to the other instance within the lease time when the holder stops', async () => {
    const subA = subscribe<Unread>(client(a), UNREAD, { s: ['pixieset'] });
    const subB = subscribe<Unread>(client(b), UNREAD, { s: ['pixieset'] });
    await subA.waitFor(1);
    await subB.waitFor(1);
    const { holder: h, standby: s } = await eventually(holder);
    const survivorSub = s === a ? subA : subB;
    const polled = await polls(s);

    const stopped = Date.now();
    await h.gateway.close();
    await eventually(async () => {
      expect(s.gateway.services.live.pollingSources()).toEqual(['pixieset']);
      expect(await polls(s)).toBeGreaterThan(polled);
    }, LEASE_MS);
    measure('lease handover after gateway.close() of the holder', Date.now() - stopped, 'ms');

    // The survivor's subscriber keeps getting changes.
    const seen = survivorSub.values.length;
    const total = survivorSub.values.at(-1)!.unreadCountChanged.total;
    px().controls.simulateIncoming({});
    await survivorSub.waitFor(seen + 1, 5000);
    expect(survivorSub.values.at(-1)!.unreadCountChanged.total).toBe(total + 1);
  });
});

describe('a gateway process killed while it holds the poll lease', () => {
  let dir: string;
  let child: ChildProcess | null = null;
  let survivor: TestGateway;
  let pub: RecordingPubSub;
  const clients: Client[] = [];

  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(clients.splice(0).map((c) => c.dispose()));
    await survivor?.close();
    await pub?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('hands polling to the surviving instance within the lease time', async () => {
    const prefix = randomPrefix('kill');
    pub = recording(makeTransport('Redis', prefix));
    survivor = await startTestGateway({
      kinds: ['PIXIESET'],
      pubsub: pub,
      configure: adjust({ redisPrefix: prefix, liveLeaseMs: LEASE_MS, source: () => ({ pollIntervalMs: POLL_MS }) }),
    });
    const px = survivor.embedded.sandbox.emulators.get('pixieset')!;

    // The other instance: `node src/index.ts --config` in front of the same emulator and Redis.
    dir = mkdtempSync(join(tmpdir(), 'switchboard-live-'));
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0, liveLeaseMs: LEASE_MS },
        redis: { url: REDIS_URL, keyPrefix: prefix },
        sources: survivor.embedded.config.sources.map((s) => ({ ...s, pollIntervalMs: POLL_MS })),
        apiKeys: [{ name: 'test', sha256: createHash('sha256').update(survivor.apiKey).digest('hex'), sources: ['*'] }],
      }),
    );
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts', '--config', file], {
      cwd: join(__dirname, '..', '..'),
      env: { ...process.env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const url = await eventually(
      () => {
        const m = /"url":"(http:\/\/[^"]+)\/graphql"/.exec(out);
        if (!m) throw new Error(`the child has not started: ${out}`);
        return m[1] as string;
      },
      30_000,
      100,
    );

    // The child gets a subscriber first, so it takes the lease; the in-process instance then stands by.
    const childClient = createWsClient(`${url.replace('http', 'ws')}/graphql`, survivor.apiKey);
    clients.push(childClient);
    await subscribe<Unread>(childClient, UNREAD, { s: ['pixieset'] }).waitFor(1, 10_000);
    await eventually(() =>
      expect(px.requests().filter((e) => isPoll(e) && e.headers['x-request-id']?.startsWith('live-'))).not.toHaveLength(
        0,
      ),
    );
    const mine = createWsClient(survivor.wsUrl, survivor.apiKey);
    clients.push(mine);
    const sub = subscribe<Unread>(mine, UNREAD, { s: ['pixieset'] });
    await sub.waitFor(1);
    expect(survivor.gateway.services.live.activePollers()).toEqual(['pixieset']);
    expect(survivor.gateway.services.live.pollingSources()).toEqual([]);

    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    const killed = Date.now();
    await exited;
    // The dead holder's lease expires (at most LEASE_MS after its last renewal) and the standby, checking every
    // min(interval, lease / 4), takes it: within the lease time plus one check.
    await eventually(
      () => expect(survivor.gateway.services.live.pollingSources()).toEqual(['pixieset']),
      LEASE_MS + LEASE_MS / 4 + 250,
      10,
    );
    measure(`lease takeover after SIGKILL of the holder (lease ${LEASE_MS} ms)`, Date.now() - killed, 'ms');

    const total = sub.values.at(-1)!.unreadCountChanged.total;
    px.controls.simulateIncoming({});
    await sub.waitFor(sub.values.length + 1, 5000);
    expect(sub.values.at(-1)!.unreadCountChanged.total).toBe(total + 1);
  });
});
