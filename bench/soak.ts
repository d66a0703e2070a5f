import { createHash, randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { parseConfig } from '../src/config/load';
import type { SourceConfig } from '../src/config/schema';
import { SANDBOX_API_KEY } from '../src/sandbox/embedded';
import type { Faults } from '../src/sandbox/kit/server';
import { createGateway } from '../src/server/createGateway';
import { createLogger } from '../src/server/logger';
import { Child, killChildren } from './ipc';

/**
 * # `npm run soak` (issue 6; not part of `npm test`)
 *
 * The vendor emulators in a child process (bench/sandbox-process.ts, the vendors' own rate limits on) and one
 * gateway in this process, on loopback ports. For `--minutes` (default 2) it runs:
 * - `--workers` (8) loops of mixed operations: inbox pages (following cursors), threads, unread counts,
 *   sources with health, node lookups, sends (some repeating an idempotency key), mark read/unread;
 * - `--subscribers` (20) graphql-ws clients on `unreadCountChanged`, each keeping the last value pushed;
 * - vendor-side activity: messages arriving and threads read in the vendors' own UIs;
 * - faults: every `--fault-every` seconds (15) one source gets one fault knob (latency, 50% errors, hang,
 *   429 with Retry-After, malformed bodies, refused connections) for a third of the period.
 * Then it clears the faults, lets pollers and webhooks settle, and reports error counts by code, HTTP statuses,
 * requests seen by each emulator, whether the last unread counts pushed to every subscriber equal the
 * emulators' own unread state (and, when they do not, whether one more vendor event per source repairs them),
 * and memory. Exit code 1 when a 5xx, an INTERNAL_SERVER_ERROR or a mismatch was seen. Every loop is bounded by
 * the duration; every address is 127.0.0.1.
 *
 * ## Memory (issue 12 item 18)
 *
 * The sources' own data (every message the soak sends or simulates) lives in the emulators' process, so this
 * process's heap is the gateway's (plus the soak's own constant bookkeeping): the gateway keeps no message,
 * and its catalogs hold one row per conversation, a number the soak never changes (it creates none). Heap after a
 * full GC is sampled every 15 s; `heapMb.afterWarmup` compares the median of the last minute of the warm-up
 * (`--warmup`, 2 minutes) with the median of the last minute of the run: the goal is growth within 5 %.
 * `afterWarmup.withoutCodeSpace` is the same without V8's code space (compiled code, which the JIT keeps adding
 * to for minutes: about 1.9 MB between minute 2 and 10 of a run), i.e. the growth of what the gateway holds.
 * With `--heap-snapshots DIR`, `retainedObjects` is the total size of the objects in a V8 heap snapshot at the
 * end of the warm-up and at the end of the load: what the gateway retains, without the allocator's slack.
 * `sources.heapMb` is the emulators' heap after a full GC at the start and the end: the growth of the sources'
 * own data, reported apart. `stores` are the gateway's in-memory stores (`switchboard_memory_store_entries`) at
 * the end of the warm-up and at the end. Steady state means every bounded store is full: with
 * `--store-bounds soak` (the default) the soak sets `server.memoryStores` low enough (400 idempotency keys,
 * 2,000 webhook event keys) to fill within the warm-up; `--store-bounds default` keeps the production defaults
 * (10,000 and 50,000), which take longer than 10 minutes of this traffic to fill. `stores.stillFillingAfterWarmup`
 * names the stores that were not full yet at the end of the warm-up (their growth is the heap's, up to their bound).
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
    warmup: { type: 'string', default: '2' },
    'store-bounds': { type: 'string', default: 'soak' },
    /** A directory: V8 heap snapshots at the end of the warm-up and of the load, to diff what grew. */
    'heap-snapshots': { type: 'string' },
  },
});
const WARMUP_MINUTES = Math.min(Number(argv.warmup), Number(argv.minutes) / 2);
if (argv['store-bounds'] !== 'soak' && argv['store-bounds'] !== 'default') {
  throw new Error('--store-bounds is soak or default');
}
/** Bounds that fill within the warm-up at the soak's rate (about 5 stored sends and 20 webhook events a second). */
const SOAK_STORE_BOUNDS = { idempotencyKeys: 400, webhookEventKeys: 2000 };
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
const MB = 1024 * 1024;
/** Heap after full collections: a few rounds, letting finalizers and socket teardown run in between. */
const heapMb = async () => {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(20);
  }
  return process.memoryUsage().heapUsed / MB;
};
/**
 * V8's code space (compiled code: the JIT keeps optimizing hot functions long after the warm-up), read right after
 * {@link heapMb}: `heapMb.afterWarmup.withoutCodeSpace` is the growth of the heap without it, the gateway's data.
 */
const codeSpaceMb = () =>
  (getHeapSpaceStatistics().find((s) => s.space_name === 'code_space')?.space_used_size ?? 0) / MB;
/**
 * With `--heap-snapshots`: writes a V8 heap snapshot and returns the total size of the objects it holds (every
 * object reachable after a full GC, nothing else): what the gateway retains, without the allocator's slack.
 */
const snapshot = (name: string): number | null => {
  if (!argv['heap-snapshots']) return null;
  const file = writeHeapSnapshot(join(argv['heap-snapshots'], `soak-${name}.heapsnapshot`));
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[] } };
    nodes: number[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const self = fields.indexOf('self_size');
  let bytes = 0;
  for (let i = self; i < snap.nodes.length; i += fields.length) bytes += snap.nodes[i]!;
  return bytes / MB;
};
const round = (n: number) => Math.round(n * 10) / 10;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? s[(s.length - 1) / 2]!
      : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
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
  const sandbox = Child.start(
    'sandbox',
    join(dirname(__filename), 'sandbox-process.ts'),
    ['--scale', '1', '--latency', '0', '--seed', String(argv.seed), '--vendor-limits', '1'],
    { stdoutPipe: true, execArgv: ['--expose-gc'] },
  );
  const info = await sandbox.firstLine<{ sourceConfigs: SourceConfig[]; emulators: Record<string, string> }>(120_000);
  const sha256 = (k: string) => createHash('sha256').update(k).digest('hex');
  const config = parseConfig(
    {
      server: {
        host: '127.0.0.1',
        port: 0,
        ...(argv['store-bounds'] === 'soak' ? { memoryStores: SOAK_STORE_BOUNDS } : {}),
      },
      ...(argv.redis
        ? { redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', keyPrefix: `soak-${randomUUID()}:` } }
        : {}),
      sources: info.sourceConfigs,
      // The soak's one key stands for every tenant's traffic: the per-key limits (server.keyLimits, issue 12 item 4)
      // are lifted for it, or most of the load would be refused with LIMIT_EXCEEDED before reaching the gateway's
      // stores and sources (131,831 of 137,828 operations in a run with the defaults).
      apiKeys: [
        {
          name: 'sandbox',
          sha256: sha256(SANDBOX_API_KEY),
          sources: ['*'],
          limits: {
            operationsPerMinute: null,
            concurrentOperations: null,
            subscriptionsPerSocket: null,
            subscriptionsPerKey: null,
          },
        },
      ],
    },
    {},
  );
  const sourcesHeapMb = async () => (await sandbox.call<{ heapUsed: number }>('memory')).heapUsed / MB;
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
  await sandbox.call('setWebhookBase', { url: gateway.url });
  const sourceIds = Object.keys(info.emulators);
  const setFaults = (source: string, faults: Faults) => sandbox.call('setFaults', { source, faults });
  const unreadState = (source: string) =>
    sandbox.call<{ total: number; conversationsWithUnread: number } | null>('unread', { source });
  /** Upstream requests per source, counted by the sandbox from its request logs. */
  const upstreamCounts: Record<string, number> = {};
  const drainUpstream = async () => {
    const { counts } = await sandbox.call<{ counts: Record<string, Record<string, number>> }>('drain');
    for (const bySource of Object.values(counts))
      for (const [source, n] of Object.entries(bySource)) upstreamCounts[source] = (upstreamCounts[source] ?? 0) + n;
  };
  const stores = async () => {
    const text = (await gateway.metrics.render()).body;
    return Object.fromEntries(
      [...text.matchAll(/^switchboard_memory_store_entries\{store="([a-z_]+)"\} (\d+)$/gm)].map((m) => [
        m[1],
        Number(m[2]),
      ]),
    );
  };

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

  const heapStart = await heapMb();
  const sourcesHeapStart = await sourcesHeapMb();
  let heapPeak = heapStart;
  /** Heap after a full GC, every 15 s: [ms since start, MB]. */
  const heapSamples: Array<[number, number]> = [[0, heapStart]];
  const codeSamples: Array<[number, number]> = [[0, codeSpaceMb()]];
  let storesAtWarmup: Record<string, number> = {};
  let retainedAtWarmup: number | null = null;
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
    () => sandbox.call('simulateIncoming', { source: pick(sourceIds) }),
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
      await setFaults(source, f);
      await sleep(FAULT_EVERY_MS / 3);
      await setFaults(source, {});
    }
  })();
  const sampler = (async () => {
    while (Date.now() < deadline) {
      const at = Date.now() - started;
      // The peak is the heap as it is (garbage included); the samples are after a full GC.
      heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed / MB);
      heapSamples.push([at, await heapMb()]);
      codeSamples.push([at, codeSpaceMb()]);
      if (Object.keys(storesAtWarmup).length === 0 && at >= WARMUP_MINUTES * 60_000) {
        storesAtWarmup = await stores();
        retainedAtWarmup = snapshot('warmup');
      }
      await drainUpstream();
      await sleep(Math.min(15_000, Math.max(0, deadline - Date.now())));
    }
  })();
  const progress = setInterval(
    () => process.stderr.write(`soak: ${Math.round((Date.now() - started) / 1000)} s, ${operations} operations\n`),
    15_000,
  );

  await Promise.all([...workers, faults, sampler]);
  clearInterval(progress);
  const storesAtEnd = await stores();
  // After the full collections of a sample, like the warm-up's snapshot: otherwise the snapshot holds what the last
  // seconds left for finalizers (fetch's response registry cells: about 0.5 MB at 230 operations a second).
  const heapAtEndOfLoad = await heapMb();
  heapSamples.push([Date.now() - started, heapAtEndOfLoad]);
  codeSamples.push([Date.now() - started, codeSpaceMb()]);
  const retainedAtEnd = snapshot('end');
  for (const s of sourceIds) await setFaults(s, {});

  // Settle: pollers (every 2-5 s), webhooks and circuits (half-open after 10 s) catch up; then compare.
  const expected = async () =>
    Object.fromEntries(
      (await Promise.all(sourceIds.map(async (s) => [s, await unreadState(s)] as const))).filter(
        ([, v]) => v !== null,
      ) as Array<[string, { total: number; conversationsWithUnread: number }]>,
    );
  const mismatches = async () => {
    const want = await expected();
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
  let mismatch = await mismatches();
  while (mismatch.length > 0 && Date.now() - settleStarted < 60_000) {
    await sleep(1000);
    mismatch = await mismatches();
  }
  const settledInMs = Date.now() - settleStarted;
  // Diagnosis when they differ: one more vendor event per source. Matching then means the gateway had missed
  // updates while the source was failing and only the next event repaired them.
  let afterOneMoreEvent: boolean | null = null;
  if (mismatch.length > 0) {
    for (const s of sourceIds)
      if ((await unreadState(s)) !== null) await sandbox.call('simulateIncoming', { source: s });
    const again = Date.now();
    while ((await mismatches()).length > 0 && Date.now() - again < 15_000) await sleep(500);
    afterOneMoreEvent = (await mismatches()).length === 0;
  }
  const heapEnd = await heapMb();
  const sourcesHeapEnd = await sourcesHeapMb();
  await drainUpstream();
  // Median heap of the minute before `untilMs` (the samples are after a full GC).
  const minuteBefore = (untilMs: number, samples = heapSamples) =>
    median(samples.filter(([at]) => at > untilMs - 60_000 && at <= untilMs).map(([, mb]) => mb));
  const loadMs = deadline - started;
  const atWarmup = minuteBefore(WARMUP_MINUTES * 60_000);
  const atEnd = minuteBefore(loadMs);
  const dataSamples = heapSamples.map(([at, mb], i): [number, number] => [at, mb - (codeSamples[i]?.[1] ?? 0)]);
  const dataAtWarmup = minuteBefore(WARMUP_MINUTES * 60_000, dataSamples);
  const dataAtEnd = minuteBefore(loadMs, dataSamples);

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
    upstreamRequests: upstreamCounts,
    subscriptionPushes: pushes,
    heapMb: {
      start: round(heapStart),
      end: round(heapEnd),
      peak: round(heapPeak),
      growth: round(heapEnd - heapStart),
      afterFullGc: Boolean(gc),
      afterWarmup: {
        warmupMinutes: WARMUP_MINUTES,
        atWarmup: round(atWarmup),
        atEnd: round(atEnd),
        growthPercent: round(((atEnd - atWarmup) / atWarmup) * 100),
        withinFivePercent: Math.abs(atEnd - atWarmup) <= 0.05 * atWarmup,
        /** The same without V8's code space (compiled code, which the JIT keeps adding to): the gateway's data. */
        withoutCodeSpace: {
          atWarmup: round(dataAtWarmup),
          atEnd: round(dataAtEnd),
          growthPercent: round(((dataAtEnd - dataAtWarmup) / dataAtWarmup) * 100),
          codeSpaceMb: {
            atWarmup: round(minuteBefore(WARMUP_MINUTES * 60_000, codeSamples)),
            atEnd: round(minuteBefore(loadMs, codeSamples)),
          },
        },
      },
      byMinute: Array.from({ length: Math.ceil(loadMs / 60_000) }, (_, m) =>
        round(minuteBefore(Math.min((m + 1) * 60_000, loadMs))),
      ),
      retainedObjects:
        retainedAtWarmup !== null && retainedAtEnd !== null
          ? {
              atWarmup: round(retainedAtWarmup),
              atEnd: round(retainedAtEnd),
              growthPercent: round(((retainedAtEnd - retainedAtWarmup) / retainedAtWarmup) * 100),
            }
          : null,
    },
    sources: {
      heapMb: {
        start: round(sourcesHeapStart),
        end: round(sourcesHeapEnd),
        growth: round(sourcesHeapEnd - sourcesHeapStart),
      },
    },
    stores: {
      bounds: argv['store-bounds'] === 'soak' ? SOAK_STORE_BOUNDS : 'defaults',
      atWarmup: storesAtWarmup,
      atEnd: storesAtEnd,
      /** Stores that were still filling after the warm-up: their growth is part of the heap's (up to their bound). */
      stillFillingAfterWarmup: Object.keys(storesAtEnd).filter((k) => (storesAtEnd[k] ?? 0) > (storesAtWarmup[k] ?? 0)),
    },
    unread: {
      emulators: await expected(),
      match: mismatch.length === 0,
      settledInMs,
      mismatches: mismatch.slice(0, 10),
      afterOneMoreEvent,
    },
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);

  await Promise.all(clients.map((c) => c.dispose()));
  await gateway.close();
  await sandbox.stop();
  const bad =
    (statuses.get(500) ?? 0) +
    [...statuses].filter(([s]) => s > 500).reduce((a, [, n]) => a + n, 0) +
    (codes.get('INTERNAL_SERVER_ERROR') ?? 0);
  process.exit(bad > 0 || mismatch.length > 0 ? 1 : 0);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  killChildren();
  process.exit(1);
});
