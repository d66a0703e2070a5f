import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { Config } from '../src/config/schema';
import { startEmbedded, SANDBOX_API_KEY } from '../src/sandbox/embedded';
import type { Faults } from '../src/sandbox/kit/server';
import { createGateway } from '../src/server/createGateway';
import { createLogger } from '../src/server/logger';

/**
 * # `npm run soak` (issue 6; not part of `npm test`)
 *
 * The embedded sandbox and one gateway in this process, on loopback ports. For `--minutes` (default 2) it runs:
 * - `--workers` (8) loops of mixed operations: inbox pages (following cursors), threads, unread counts,
 *   sources with health, node lookups, sends (some repeating an idempotency key), mark read/unread;
 * - `--subscribers` (20) graphql-ws clients on `unreadCountChanged`, each keeping the last value pushed;
 * - vendor-side activity: messages arriving and threads read in the vendors' own UIs;
 * - faults: every `--fault-every` seconds (15) one source gets one fault knob (latency, 50% errors, hang,
 *   429 with Retry-After, malformed bodies, refused connections) for a third of the period.
 * Then it clears the faults, lets pollers and webhooks settle, and reports heap growth, error counts by code,
 * HTTP statuses, requests and 429s seen by each emulator, and whether the last unread counts pushed to every
 * subscriber equal the emulators' own unread state (and, when they do not, whether one more vendor event per
 * source repairs them). Exit code 1 when a 5xx, an INTERNAL_SERVER_ERROR or a mismatch was seen. Every loop is bounded by the duration; every address is 127.0.0.1.
 *
 * `--redis` runs pub/sub, idempotency and persisted queries through REDIS_URL. Run with `node --expose-gc`
 * (the npm script does) for heap figures after a full collection.
 */
const { values: argv } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    workers: { type: 'string', default: '8' },
    subscribers: { type: 'string', default: '20' },
    'fault-every': { type: 'string', default: '15' },
    redis: { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
  },
});
const MINUTES = Number(argv.minutes);
const WORKERS = Number(argv.workers);
const SUBSCRIBERS = Number(argv.subscribers);
const FAULT_EVERY_MS = Number(argv['fault-every']) * 1000;
if (![MINUTES, WORKERS, SUBSCRIBERS, FAULT_EVERY_MS].every((n) => Number.isFinite(n) && n > 0)) {
  throw new Error('--minutes, --workers, --subscribers and --fault-every must be positive numbers');
}

/** A small seeded PRNG (mulberry32), so two runs with one seed make the same choices. */
let state = Number(argv.seed) >>> 0 || 1;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gc = (globalThis as { gc?: () => void }).gc;
const heapMb = () => {
  gc?.();
  return process.memoryUsage().heapUsed / 1024 / 1024;
};

type GqlBody = {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: { code?: string; source?: string } }>;
};
type UnreadValue = {
  total: number;
  bySource: Array<{ source: { id: string }; total: number; conversationsWithUnread: number }>;
};

async function main() {
  const embedded = await startEmbedded({
    port: 0,
    redisUrl: argv.redis ? (process.env.REDIS_URL ?? 'redis://127.0.0.1:6379') : undefined,
  });
  const keyPrefix = `soak-${randomUUID()}:`;
  const config: Config = embedded.config.redis
    ? { ...embedded.config, redis: { ...embedded.config.redis, keyPrefix } }
    : embedded.config;
  let logErrors = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (chunk.toString().includes('"level":50')) logErrors++;
      cb();
    },
  });
  const gateway = await createGateway({
    config,
    logger: createLogger({ level: 'warn', destination: sink }),
    production: true,
  });
  embedded.sandbox.setWebhookBase(gateway.url);
  const emulators = embedded.sandbox.emulators;
  const sourceIds = [...emulators.keys()];

  const codes = new Map<string, number>();
  const statuses = new Map<number, number>();
  let operations = 0;
  const count = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);

  async function gql(query: string, variables?: Record<string, unknown>): Promise<GqlBody> {
    operations++;
    try {
      const res = await fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${SANDBOX_API_KEY}` },
        body: JSON.stringify({ query, variables }),
      });
      count(statuses, res.status);
      const body = (await res.json()) as GqlBody;
      for (const e of body.errors ?? []) count(codes, e.extensions?.code ?? 'NONE');
      return body;
    } catch (e) {
      count(codes, `CLIENT:${(e as Error).message}`);
      return {};
    }
  }

  // Conversations to work on (ids of every source).
  const ids: string[] = [];
  for (let after: string | null = null, pages = 0; pages < 5; pages++) {
    const r = await gql(
      `query($after: String) { conversations(first: 100, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id } } } }`,
      { after },
    );
    const c = r.data?.conversations as
      { pageInfo: { hasNextPage: boolean; endCursor: string }; edges: Array<{ node: { id: string } }> } | undefined;
    if (!c) break;
    ids.push(...c.edges.map((e) => e.node.id));
    if (!c.pageInfo.hasNextPage) break;
    after = c.pageInfo.endCursor;
  }
  if (ids.length === 0) throw new Error('the sandbox listed no conversation');

  // Subscribers.
  const clients: Client[] = [];
  const last: Array<UnreadValue | null> = [];
  let pushes = 0;
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const client = createClient({
      url: gateway.wsUrl,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 5,
      connectionParams: { authorization: `Bearer ${SANDBOX_API_KEY}` },
    });
    clients.push(client);
    last.push(null);
    client.subscribe<{ unreadCountChanged: UnreadValue }>(
      {
        query: `subscription { unreadCountChanged { total bySource { source { id } total conversationsWithUnread } } }`,
      },
      {
        next: (v) => {
          pushes++;
          if (v.data) last[i] = v.data.unreadCountChanged;
          for (const e of v.errors ?? []) count(codes, `WS:${String(e.extensions?.code ?? 'NONE')}`);
        },
        error: (e) => count(codes, `WS:closed:${String((e as { code?: number }).code ?? 'error')}`),
        complete: () => undefined,
      },
    );
  }

  const heapStart = heapMb();
  let heapPeak = heapStart;
  const heapSamples: number[] = [heapStart];
  const started = Date.now();
  const deadline = started + MINUTES * 60_000;
  const faultsApplied: string[] = [];

  const operationsMix: Array<() => Promise<unknown>> = [
    async () => {
      let after: string | null = null;
      for (let i = 0; i < 1 + Math.floor(random() * 3); i++) {
        const r = await gql(
          `query($after: String) { conversations(first: 20, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id subject unreadCount lastMessageAt participants { name } lastMessage { content sender { name } } } } } }`,
          { after },
        );
        const p = (r.data?.conversations as { pageInfo: { hasNextPage: boolean; endCursor: string } } | undefined)
          ?.pageInfo;
        if (!p?.hasNextPage) break;
        after = p.endCursor;
      }
    },
    () =>
      gql(
        `query($id: ID!) { conversation(id: $id) { id subject messages(last: 20) { edges { node { id content sentAt sender { name } attachments { filename } } } } } }`,
        { id: pick(ids) },
      ),
    () => gql(`{ unreadCount { total bySource { source { id } total } } }`),
    () => gql(`{ sources { id health { status circuit lastErrorCode } } }`),
    () => gql(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: [pick(ids), pick(ids), pick(ids)] }),
    async () => {
      const key = random() < 0.3 ? `soak-repeat-${Math.floor(random() * 20)}` : randomUUID();
      await gql(`mutation($input: SendMessageInput!) { sendMessage(input: $input) { id } }`, {
        input: { conversationId: pick(ids), content: `soak ${key}`, idempotencyKey: key },
      });
    },
    () => gql(`mutation($id: ID!) { markConversationRead(id: $id) { id unreadCount } }`, { id: pick(ids) }),
    () => gql(`mutation($id: ID!) { markConversationUnread(id: $id) { id unreadCount } }`, { id: pick(ids) }),
    async () => {
      const e = emulators.get(pick(sourceIds))!;
      e.controls.simulateIncoming({ content: 'soak: a client writes' });
    },
  ];

  const workers = Array.from({ length: WORKERS }, async () => {
    while (Date.now() < deadline) {
      await pick(operationsMix)();
      await sleep(5 + random() * 20);
    }
  });
  const faults = (async () => {
    const knobs: Array<[string, Faults]> = [
      ['latencyMs 300', { latencyMs: 300 }],
      ['errorRate 0.5', { errorRate: 0.5 }],
      ['hang', { hang: true }],
      ['rateLimitRetryAfter 2', { rateLimitRetryAfter: 2 }],
      ['malformed', { malformed: true }],
      ['refuse', { refuse: true }],
    ];
    while (Date.now() + FAULT_EVERY_MS < deadline) {
      await sleep(FAULT_EVERY_MS * (2 / 3));
      const source = pick(sourceIds);
      const [name, f] = pick(knobs);
      faultsApplied.push(`${source}: ${name}`);
      emulators.get(source)!.setFaults(f);
      await sleep(FAULT_EVERY_MS / 3);
      emulators.get(source)!.setFaults({});
    }
  })();
  const sampler = (async () => {
    while (Date.now() < deadline) {
      await sleep(5000);
      const h = process.memoryUsage().heapUsed / 1024 / 1024;
      heapSamples.push(h);
      heapPeak = Math.max(heapPeak, h);
    }
  })();
  const progress = setInterval(
    () => process.stderr.write(`soak: ${Math.round((Date.now() - started) / 1000)} s, ${operations} operations\n`),
    15_000,
  );

  await Promise.all([...workers, faults, sampler]);
  clearInterval(progress);
  for (const e of emulators.values()) e.setFaults({});

  // Settle: pollers (every 2-5 s), webhooks and circuits (half-open after 10 s) catch up; then compare.
  const expected = () =>
    Object.fromEntries(
      sourceIds.map((s) => [s, emulators.get(s)!.controls.unreadState()]).filter(([, v]) => v !== null) as Array<
        [string, { total: number; conversationsWithUnread: number }]
      >,
    );
  const mismatches = () => {
    const want = expected();
    const out: string[] = [];
    last.forEach((v, i) => {
      for (const [source, w] of Object.entries(want)) {
        const got = v?.bySource.find((b) => b.source.id === source);
        if (!got || got.total !== w.total || got.conversationsWithUnread !== w.conversationsWithUnread) {
          out.push(
            `subscriber ${i} ${source}: pushed ${got ? `${got.total}/${got.conversationsWithUnread}` : 'nothing'}, emulator ${w.total}/${w.conversationsWithUnread}`,
          );
        }
      }
    });
    return out;
  };
  const settleStarted = Date.now();
  let mismatch = mismatches();
  while (mismatch.length > 0 && Date.now() - settleStarted < 60_000) {
    await sleep(1000);
    mismatch = mismatches();
  }
  const settledInMs = Date.now() - settleStarted;
  // Diagnosis when they differ: one more vendor event per source. Matching then means the gateway had missed
  // updates while the source was failing and only the next event repaired them.
  let afterOneMoreEvent: boolean | null = null;
  if (mismatch.length > 0) {
    for (const e of emulators.values())
      if (e.controls.unreadState() !== null) e.controls.simulateIncoming({ content: 'soak: one more' });
    const again = Date.now();
    while (mismatches().length > 0 && Date.now() - again < 15_000) await sleep(500);
    afterOneMoreEvent = mismatches().length === 0;
  }
  const heapEnd = heapMb();

  const upstream = Object.fromEntries(
    [...emulators].map(([id, e]) => {
      const log = e.requests();
      return [id, { requests: log.length, status429: log.filter((r) => r.status === 429).length }];
    }),
  );
  const report = {
    minutes: MINUTES,
    workers: WORKERS,
    subscribers: SUBSCRIBERS,
    redis: Boolean(config.redis),
    operations,
    operationsPerSecond: Math.round((operations / ((deadline - started) / 1000)) * 10) / 10,
    httpStatuses: Object.fromEntries([...statuses].sort()),
    errorsByCode: Object.fromEntries([...codes].sort((a, b) => b[1] - a[1])),
    errorLogLines: logErrors,
    faultsApplied,
    upstream,
    subscriptionPushes: pushes,
    heapMb: {
      start: Math.round(heapStart * 10) / 10,
      end: Math.round(heapEnd * 10) / 10,
      peak: Math.round(heapPeak * 10) / 10,
      growth: Math.round((heapEnd - heapStart) * 10) / 10,
      afterFullGc: Boolean(gc),
    },
    unread: {
      emulators: expected(),
      match: mismatch.length === 0,
      settledInMs,
      mismatches: mismatch.slice(0, 10),
      afterOneMoreEvent,
    },
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);

  await Promise.all(clients.map((c) => c.dispose()));
  await gateway.close();
  await embedded.sandbox.close();
  const bad =
    (statuses.get(500) ?? 0) +
    [...statuses].filter(([s]) => s > 500).reduce((a, [, n]) => a + n, 0) +
    (codes.get('INTERNAL_SERVER_ERROR') ?? 0);
  process.exit(bad > 0 || mismatch.length > 0 ? 1 : 0);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
