import { execSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { parseConfig } from '../src/config/load';
import type { SourceConfig } from '../src/config/schema';
import { chatwootReadCheckBench, type ReadCheckResults } from './chatwoot-reads';
import { readCacheBench, type ReadCacheResults } from './read-cache';
import { threadSendBench, type ThreadSendResults } from './thread-send';
import { catalogScaleBench, parseCatalogSizes, type CatalogScaleResults } from './catalog-scale';
import { peopleBench, type PeopleBenchResults } from './people';
import {
  THREAD_EVENTS_HEAD,
  threadEventsBench,
  threadEventsTable,
  type EventsTransport,
  type ThreadEventsRun,
} from './thread-events';
import { Child, killChildren } from './ipc';
import { INBOX, SEND_MESSAGE } from './queries';
import {
  eventDeliveries,
  failed,
  GqlClient,
  noSubscriberMemory,
  roundTripDepth,
  skippedRow,
  sleep,
  subscriberMemory,
  summarize,
  type CapturedRequest,
  type EventDeliveries,
  type GqlResponse,
  type RequestCounts,
  type SubscriberMemory,
  type Summary,
} from './lib';

/**
 * # `npm run bench` (issue 7)
 *
 * Three processes on loopback: this one (the load generator and the graphql-ws subscribers), the sandbox
 * (bench/sandbox-process.ts: every vendor emulator, with an added upstream latency), and two gateways
 * (bench/gateway-process.ts): the real one and the naive baseline (the same gateway with the options of
 * bench/baseline.ts), both pointed at the same emulators. Each workload runs against both, in this run:
 *
 * - inbox:  `conversations(first: 50)` with source, participants, lastMessage with its sender, and unreadCount;
 * - thread: one conversation (one per source, in turn) with its newest 100 messages and their attachments;
 * - send:   `sendMessage` with an idempotency key unique per call, over 40 conversations of every source;
 * - fan-out: N graphql-ws subscribers on `unreadCountChanged`, then an incoming message at the Protocol
 *   emulator (its signed webhook reaches the gateway): the time until every subscriber has the new count.
 *
 * Upstream requests are counted from the emulators' own request logs, grouped by the X-Request-Id the bench
 * sends (the gateway forwards it upstream). The upstream critical path of a workload is its number of
 * sequential upstream round trips (measured: a few operations run while every emulator waits `probe` ms, and
 * the arrival times of their requests show how many levels deep they go) times the configured latency.
 *
 * Every loop is bounded by its duration or a count; every address is 127.0.0.1; children die with this process.
 */

const API_KEY = 'sandbox-key';
const FANOUT_SOURCE = 'protocol';

const { values: argv } = parseArgs({
  options: {
    latency: { type: 'string', default: '0' },
    scale: { type: 'string', default: '5' },
    duration: { type: 'string', default: '5' },
    subscribers: { type: 'string', default: '1000,10000' },
    events: { type: 'string', default: '3' },
    out: { type: 'string', default: 'bench/results/latest.json' },
    seed: { type: 'string', default: '1' },
    'log-level': { type: 'string', default: 'info' },
    workloads: { type: 'string', default: 'inbox,thread,send,fanout,events,reads,threadsend,catalog,cache,people' },
    'event-transports': { type: 'string', default: 'ws,sse' },
    'catalog-sizes': { type: 'string', default: '1000,10000' },
    'people-contacts': { type: 'string', default: '10000' },
    targets: { type: 'string', default: 'gateway,baseline' },
    profile: { type: 'boolean', default: false },
    cache: { type: 'string', default: '' },
    help: { type: 'boolean', default: false },
  },
});

if (argv.help) {
  process.stdout.write(`npm run bench -- [options]
  --latency <ms>        upstream latency added by every emulator (default 0)
  --scale <n>           dataset size: about 20×n conversations per source (default 5)
  --duration <s>        seconds per measured workload and concurrency (default 5)
  --subscribers <list>  fan-out sizes (default 1000,10000)
  --events <n>          incoming messages per fan-out size (default 3)
  --out <file>          JSON results (default bench/results/latest.json)
  --workloads <list>    any of inbox,thread,send,fanout,reads (default all; reads: Chatwoot read checks, bench/chatwoot-reads.ts)
                        threadsend: upstream requests of a thread page and of a send, bench/thread-send.ts
                        catalog: catalogs at real sizes (memory, first sync, refresh, page), bench/catalog-scale.ts
                        cache: a warm thread page with the read cache off and on, bench/read-cache.ts
                        people: the people index at --people-contacts per source (memory, build, pages), bench/people.ts
                        events: --subscribers on one Chatwoot conversation's conversationEvents, --events
                        messages at the emulator (its webhook), bench/thread-events.ts
  --event-transports <list> ws,sse: the events workload's subscriber transports (default both)
  --catalog-sizes <list> conversations per source for the catalog workload (default 1000,10000; 100000 by hand)
  --people-contacts <n> contacts per source for the people workload (default 10000)
  --targets <list>      gateway,baseline (default both)
  --log-level <level>   the gateways' log level; logs go to /dev/null (default info)
  --profile             write V8 CPU profiles of the gateways to bench/results/profiles/
  --cache <list>        caches on in the gateways: read (config cache.enabled), responses (cache.responses); default none
`);
  process.exit(0);
}

const num = (name: string, v: string | undefined, min: number): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new Error(`--${name} expects a number ≥ ${min}, got "${v}"`);
  return n;
};
const cacheFlags = new Set((argv.cache ?? '').split(',').filter(Boolean));
for (const f of cacheFlags)
  if (f !== 'read' && f !== 'responses') throw new Error(`--cache expects read and/or responses, got "${f}"`);
const opt = {
  latency: num('latency', argv.latency, 0),
  scale: num('scale', argv.scale, 1),
  duration: num('duration', argv.duration, 0.5),
  subscribers: (argv.subscribers ?? '')
    .split(',')
    .filter(Boolean)
    .map((s) => num('subscribers', s, 1)),
  events: Math.min(100, num('events', argv.events, 1)),
  out: argv.out ?? 'bench/results/latest.json',
  seed: num('seed', argv.seed, 0),
  logLevel: argv['log-level'] ?? 'info',
  workloads: new Set((argv.workloads ?? '').split(',').filter(Boolean)),
  targets: (argv.targets ?? '').split(',').filter((t): t is TargetName => t === 'gateway' || t === 'baseline'),
  profile: argv.profile ?? false,
  eventTransports: (argv['event-transports'] ?? '')
    .split(',')
    .filter((t): t is EventsTransport => t === 'ws' || t === 'sse'),
};
const PROFILE_DIR = resolve('bench/results/profiles');
/** Latency used to measure round-trip depth: well above scheduling noise, so levels separate cleanly. */
const PROBE_MS = opt.latency >= 15 ? opt.latency : 25;

type TargetName = 'gateway' | 'baseline';
interface Target {
  name: TargetName;
  key: string;
  child: Child;
  url: string;
  wsUrl: string;
  http: GqlClient;
}

// ---------------------------------------------------------------------------------------------------------
// Operations

const THREAD = /* GraphQL */ `
  query Thread($id: ID!) {
    conversation(id: $id) {
      id
      subject
      unreadCount
      messages(last: 100) {
        edges {
          cursor
          node {
            id
            content
            sentAt
            direction
            private
            sender {
              id
              name
            }
            attachments {
              id
              filename
              contentType
              size
              url
            }
          }
        }
        pageInfo {
          hasPreviousPage
          startCursor
        }
      }
    }
  }
`;
const UNREAD_SUBSCRIPTION = /* GraphQL */ `
  subscription Badge {
    unreadCountChanged {
      total
      conversationsWithUnread
      bySource {
        total
      }
    }
  }
`;

type Op = (target: Target, requestId: string, n: number) => Promise<GqlResponse>;

// ---------------------------------------------------------------------------------------------------------
// Results

interface UpstreamFigures {
  /** Mean requests per operation, from the emulators' logs. */
  perOp: number;
  perOpBySource: Record<string, number>;
  /** Largest per-source count of one operation, from the gateway's `extensions.upstream`. */
  maxPerSourceOneOp: number;
  /** Requests the gateway made outside operations meanwhile (live engine, webhooks), per operation. */
  backgroundPerOp: number;
  /**
   * The emulators' own time answering one operation's requests (arrival to last byte, added latency included),
   * summed: with one request per operation, the upstream part of its latency.
   */
  serviceMsPerOp: number;
}
interface HttpRun {
  concurrency: number;
  ops: number;
  errors: number;
  seconds: number;
  throughput: number;
  latency: Summary;
  upstream: UpstreamFigures;
  /** Gateway CPU (user + system) per operation. */
  cpuMsPerOp: number;
  /** The kernel's share of it (sockets). */
  systemCpuMsPerOp: number;
  firstError?: string;
}
interface Depth {
  /** Sequential upstream round trips (median over the probe operations). */
  depth: number;
  samples: number[];
  /** depth × configured latency. */
  criticalPathMs: number;
}
interface HttpWorkload {
  runs: HttpRun[];
  depth: Depth;
}
interface FanoutRun {
  subscribers: number;
  connected: number;
  connectSeconds: number;
  events: number;
  delivered: number;
  expected: number;
  latency: Summary;
  /** Each incoming message: its first, median, 99th percentile and last delivery (ms after the trigger). */
  perEvent: EventDeliveries[];
  memory: SubscriberMemory;
  /** Gateway CPU per delivered update (webhook handling included). */
  cpuUsPerDelivery: number;
  /** This process's CPU per received update (the subscribers' side, on the other core). */
  clientCpuUsPerDelivery: number;
  depth: Depth;
  skipped?: string;
  errors: number;
}
interface Results {
  startedAt: string;
  machine: { cpus: number; node: string; platform: string };
  options: Omit<typeof opt, 'workloads'> & { workloads: string[]; probeLatencyMs: number };
  inbox?: Partial<Record<TargetName, HttpWorkload>>;
  thread?: Partial<Record<TargetName, HttpWorkload>>;
  send?: Partial<Record<TargetName, HttpWorkload>>;
  fanout?: Partial<Record<TargetName, FanoutRun[]>>;
  /** Thread-events fan-out over graphql-ws and SSE, issue 14 (bench/thread-events.ts). */
  events?: Partial<Record<TargetName, ThreadEventsRun[]>>;
  /** Upstream cost of noticing reads made in Chatwoot's dashboard (bench/chatwoot-reads.ts). */
  reads?: ReadCheckResults;
  /** Upstream requests of a thread page and of a send, beside issue 13's figures (bench/thread-send.ts). */
  threadSend?: ThreadSendResults;
  /** Catalogs at real sizes, issue 13 target 5 (bench/catalog-scale.ts). */
  catalog?: CatalogScaleResults;
  /** A warm thread page with the read cache off and on, issue 13 target 3 (bench/read-cache.ts). */
  cache?: ReadCacheResults;
  /** The people index at 10,000 contacts per source, issue 15 (bench/people.ts). */
  people?: PeopleBenchResults;
  targets?: TargetCheck[];
}
interface TargetCheck {
  target: string;
  measured: string;
  goal: string;
  pass: boolean | null;
  margin: string;
}

// ---------------------------------------------------------------------------------------------------------
// Processes

let sandbox: Child;
const targets: Target[] = [];

async function startProcesses(): Promise<{ emulators: Record<string, string> }> {
  const here = dirname(__filename);
  sandbox = Child.start(
    'sandbox',
    join(here, 'sandbox-process.ts'),
    ['--scale', String(opt.scale), '--latency', String(opt.latency), '--seed', String(opt.seed)],
    {
      stdoutPipe: true,
    },
  );
  const info = await sandbox.firstLine<{ sourceConfigs: SourceConfig[]; emulators: Record<string, string> }>(120_000);
  const hash = (k: string) => createHash('sha256').update(k).digest('hex');
  const config = parseConfig(
    {
      // A generous deadline, so that the baseline's slow operations finish instead of failing.
      server: { host: '127.0.0.1', port: 0, operationTimeoutMs: 120_000 },
      // The emulators' vendor rate limits are lifted (sandbox-process.ts); lift the gateway's own per-source caps
      // the same way, or they, not the gateway, would bound the throughput.
      sources: info.sourceConfigs.map((s) => ({ ...s, rateLimitPerMinute: null, maxConcurrency: 256 })),
      // --cache: the read cache and the response cache (issue 13 target 4 measures each lever with them on and off).
      cache: {
        enabled: cacheFlags.has('read'),
        responses: { enabled: cacheFlags.has('responses') },
      },
      // The bench's one key drives every workload (thousands of operations a second, 10,000 subscriptions): its
      // per-key limits (issue 12 item 4, 600 operations a minute by default) are lifted like the sources' caps.
      apiKeys: [
        {
          name: 'bench',
          sha256: hash(API_KEY),
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
  if (opt.profile) mkdirSync(PROFILE_DIR, { recursive: true });
  for (const name of opt.targets) {
    const child = Child.start(name, join(here, 'gateway-process.ts'), [], {
      // As deployed (README): production mode, which also takes graphql-js's development-only checks out.
      env: { NODE_ENV: 'production' },
      execArgv: ['--expose-gc'],
    });
    const r = await child.call<{ url: string; wsUrl: string }>('start', {
      config,
      baseline: name === 'baseline',
      logLevel: opt.logLevel,
    });
    targets.push({
      name,
      key: name === 'gateway' ? 'gw' : 'base',
      child,
      url: r.url,
      wsUrl: r.wsUrl,
      http: new GqlClient(`${r.url}/graphql`, API_KEY, 64),
    });
  }
  return { emulators: info.emulators };
}

async function stopProcesses() {
  for (const t of targets) t.http.close();
  await Promise.all(targets.map((t) => t.child.stop()));
  await sandbox?.stop();
}

let exiting = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (exiting) return;
    exiting = true;
    process.stderr.write(`\n${sig}: stopping the bench's child processes\n`);
    killChildren();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}
process.on('exit', () => killChildren());

/** The gateway process's CPU time so far (user + system, and system alone), in ms. */
const cpuOf = async (t: Target) => {
  const u = await t.child.call<{ user: number; system: number }>('cpu');
  return { total: (u.user + u.system) / 1000, system: u.system / 1000 };
};
const cpuMs = async (t: Target) => (await cpuOf(t)).total;

/** --profile: V8 CPU profiles of the gateway over each measured phase only (warm-ups and set-up excluded). */
const profileStart = async (t: Target) => {
  if (opt.profile) await t.child.call('profileStart');
};
const profileStop = async (t: Target, phase: string) => {
  if (!opt.profile) return;
  const file = join(PROFILE_DIR, `${phase.replace(/\./g, '-')}.cpuprofile`);
  await t.child.call('profileStop', { file });
  process.stderr.write(`    profile: ${file} (bench/profile-top.ts prints its top frames)\n`);
};

// ---------------------------------------------------------------------------------------------------------
// HTTP workloads

/** Parses `extensions.upstream.bySource` from the tail of a response (X-Upstream-Stats: 1). */
function upstreamOf(text: string): Array<{ source: string; requests: number }> {
  const m = /"upstream":\{"total":\d+,"bySource":(\[[^\]]*\])\}/.exec(text);
  return m ? (JSON.parse(m[1] as string) as Array<{ source: string; requests: number }>) : [];
}

/** Runs `op` with `concurrency` workers for `seconds` (and at most `maxOps`), ids `<prefix>.<n>`. */
async function load(t: Target, op: Op, prefix: string, concurrency: number, seconds: number, maxOps = 1_000_000) {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let maxPerSource = 0;
  let n = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const worker = async () => {
    while (performance.now() < deadline && n < maxOps) {
      const i = n++;
      const r = await op(t, `${prefix}.${i}`, i);
      if (failed(r)) {
        errors++;
        firstError ??= `${r.status} ${r.text.slice(0, 300)}`;
      } else latencies.push(r.ms);
      for (const s of upstreamOf(r.text)) maxPerSource = Math.max(maxPerSource, s.requests);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latencies, errors, firstError, ops: n, seconds: (performance.now() - started) / 1000, maxPerSource };
}

const sumValues = (r: Record<string, number> | undefined) => Object.values(r ?? {}).reduce((a, b) => a + b, 0);

async function measure(t: Target, workload: string, op: Op, concurrency: number): Promise<HttpRun> {
  await sandbox.call('setWebhookBase', { url: t.url });
  // Warm-up: JIT, connection pools, catalogs (their first sync), Apollo's document cache.
  await load(t, op, `warm.${workload}.${t.key}.c${concurrency}`, concurrency, Math.min(1.5, opt.duration), 2000);
  await sleep(200);
  await sandbox.call('drain');
  const prefix = `${workload}.${t.key}.c${concurrency}`;
  await profileStart(t);
  const cpu0 = await cpuOf(t);
  const r = await load(t, op, prefix, concurrency, opt.duration);
  const cpu1 = await cpuOf(t);
  await profileStop(t, prefix);
  await sleep(300); // background requests the operations caused (live refreshes, webhooks) land in the logs
  const { counts, serviceMs } = await sandbox.call<{ counts: RequestCounts; serviceMs: Record<string, number> }>(
    'drain',
  );
  const mine = counts[prefix] ?? {};
  const ops = Math.max(1, r.ops);
  const background = Object.entries(counts)
    .filter(([g]) => g !== prefix)
    .reduce((a, [, by]) => a + sumValues(by), 0);
  return {
    concurrency,
    ops: r.ops,
    errors: r.errors,
    seconds: r.seconds,
    throughput: r.latencies.length / r.seconds,
    latency: summarize(r.latencies),
    upstream: {
      perOp: sumValues(mine) / ops,
      perOpBySource: Object.fromEntries(Object.entries(mine).map(([s, n]) => [s, n / ops])),
      maxPerSourceOneOp: r.maxPerSource,
      backgroundPerOp: background / ops,
      serviceMsPerOp: (serviceMs[prefix] ?? 0) / ops,
    },
    cpuMsPerOp: (cpu1.total - cpu0.total) / ops,
    systemCpuMsPerOp: (cpu1.system - cpu0.system) / ops,
    ...(r.firstError ? { firstError: r.firstError } : {}),
  };
}

/** Round-trip depth of `op`: a few sequential operations while every emulator waits PROBE_MS. */
async function probeDepth(t: Target, workload: string, op: Op, samples = 3): Promise<Depth> {
  await sandbox.call('setWebhookBase', { url: t.url });
  await sandbox.call('setLatency', { ms: PROBE_MS });
  try {
    await sandbox.call('captureStart');
    const ids: string[] = [];
    for (let i = 0; i < samples; i++) {
      const id = `probe.${workload}.${t.key}.${i}`;
      ids.push(id);
      await op(t, id, 1_000_000 + i);
    }
    const captured = await sandbox.call<CapturedRequest[]>('captureStop');
    const depths = ids
      .map((id) =>
        roundTripDepth(
          captured.filter((e) => e.id === id),
          PROBE_MS,
        ),
      )
      .sort((a, b) => a - b);
    const depth = depths[Math.floor(depths.length / 2)] ?? 0;
    return { depth, samples: depths, criticalPathMs: depth * opt.latency };
  } finally {
    await sandbox.call('setLatency', { ms: opt.latency });
  }
}

async function httpWorkload(
  name: string,
  op: Op,
  concurrencies: number[],
): Promise<Partial<Record<TargetName, HttpWorkload>>> {
  const out: Partial<Record<TargetName, HttpWorkload>> = {};
  for (const t of targets) {
    const runs: HttpRun[] = [];
    for (const c of concurrencies) {
      process.stderr.write(`  ${name} · ${t.name} · concurrency ${c} …\n`);
      runs.push(await measure(t, name, op, c));
    }
    const depth = await probeDepth(t, name, op);
    out[t.name] = { runs, depth };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Fan-out

interface Sub {
  client: Client;
  dispose: () => void;
  /** The latest total this subscriber received. */
  total: number | null;
  /** Its total when the current event was triggered; null once it has the new one. */
  before: number | null;
}

function fdLimit(): number {
  try {
    const v = execSync('ulimit -n', { shell: '/bin/sh', encoding: 'utf8' }).trim();
    return v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v);
  } catch {
    return Number.NaN;
  }
}

async function fanout(t: Target, n: number, events: number): Promise<FanoutRun> {
  const empty: FanoutRun = {
    subscribers: n,
    connected: 0,
    connectSeconds: 0,
    events: 0,
    delivered: 0,
    expected: 0,
    latency: summarize([]),
    perEvent: [],
    memory: noSubscriberMemory(),
    cpuUsPerDelivery: Number.NaN,
    clientCpuUsPerDelivery: Number.NaN,
    depth: { depth: 0, samples: [], criticalPathMs: 0 },
    errors: 0,
  };
  const limit = fdLimit();
  // This process holds one socket per subscriber, and so does the gateway; both inherit this limit.
  if (!(limit >= n + 1024)) {
    const msg = `ulimit -n is ${limit}: ${n} subscribers need at least ${n + 1024} open files in this process and in the gateway (raise it with \`ulimit -n ${n + 4096}\`)`;
    process.stderr.write(`ERROR: ${msg}; skipping fan-out of ${n}\n`);
    return { ...empty, skipped: msg };
  }
  await sandbox.call('setWebhookBase', { url: t.url });
  const mem0 = await t.child.call<NodeJS.MemoryUsage>('memory', { collect: true });

  const subs: Sub[] = [];
  let errors = 0;
  let initialized = 0;
  let current: { t0: number; latencies: number[]; remaining: number; done: () => void } | null = null;
  let initWaiter: { until: number; done: () => void } | null = null;
  const open = (): Sub => {
    const client = createClient({
      url: t.wsUrl,
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${API_KEY}` },
    });
    const sub: Sub = { client, dispose: () => {}, total: null, before: null };
    sub.dispose = client.subscribe<{ unreadCountChanged: { total: number } }>(
      { query: UNREAD_SUBSCRIPTION },
      {
        next: (v) => {
          const total = v.data?.unreadCountChanged.total;
          if (total === undefined) {
            errors++;
            return;
          }
          const first = sub.total === null;
          sub.total = total;
          if (first) {
            initialized++;
            if (initWaiter && initialized >= initWaiter.until) initWaiter.done();
            return;
          }
          const ev = current;
          if (ev && sub.before !== null && total !== sub.before) {
            sub.before = null;
            ev.latencies.push(performance.now() - ev.t0);
            if (--ev.remaining === 0) ev.done();
          }
        },
        error: () => {
          errors++;
        },
        complete: () => {},
      },
    );
    return sub;
  };
  const waitInitialized = (until: number, ms: number) =>
    initialized >= until
      ? Promise.resolve(true)
      : new Promise<boolean>((resolveWait) => {
          const timer = setTimeout(() => {
            initWaiter = null;
            resolveWait(false);
          }, ms);
          initWaiter = {
            until,
            done: () => {
              clearTimeout(timer);
              initWaiter = null;
              resolveWait(true);
            },
          };
        });

  const t0 = performance.now();
  const BATCH = 250;
  for (let i = 0; i < n; i += BATCH) {
    const k = Math.min(BATCH, n - i);
    for (let j = 0; j < k; j++) subs.push(open());
    if (!(await waitInitialized(subs.length, 60_000))) break;
  }
  const connectSeconds = (performance.now() - t0) / 1000;
  const connected = initialized;
  await sleep(500);
  const mem1 = await t.child.call<NodeJS.MemoryUsage>('memory', { collect: true });

  // Incoming messages at the emulator → its webhook → the gateway → every subscriber.
  const oneEvent = async (): Promise<number[]> => {
    for (const s of subs) s.before = s.total;
    const ev = { t0: performance.now(), latencies: [] as number[], remaining: connected, done: () => {} };
    const done = new Promise<void>((resolveEvent) => {
      ev.done = resolveEvent;
    });
    current = ev;
    let simulated = false;
    for (let attempt = 0; attempt < 5 && !simulated; attempt++) {
      const r = await sandbox.call<{ id?: string }>('simulateIncoming', { source: FANOUT_SOURCE });
      simulated = typeof r?.id === 'string';
    }
    if (!simulated) throw new Error(`the ${FANOUT_SOURCE} emulator refused to simulate an incoming message`);
    await Promise.race([done, sleep(30_000)]);
    current = null;
    await sleep(300);
    return ev.latencies;
  };
  // One unmeasured event first, as the HTTP workloads warm up: the delivery path's first run after the
  // subscriptions were set up (JIT, the old generation those set-ups grew) is not the steady state.
  if (connected > 0) await oneEvent();
  const latencies: number[] = [];
  const perEvent: FanoutRun['perEvent'] = [];
  let delivered = 0;
  await profileStart(t);
  const cpu0 = await cpuMs(t);
  const self0 = process.cpuUsage();
  let ran = 0;
  for (let e = 0; e < events && connected > 0; e++) {
    const got = await oneEvent();
    latencies.push(...got);
    perEvent.push(eventDeliveries(got));
    delivered += got.length;
    ran++;
  }
  const cpu1 = await cpuMs(t);
  const self1 = process.cpuUsage(self0);
  await profileStop(t, `fanout.${t.key}.${n}`);

  for (const s of subs) s.dispose();
  await Promise.all(subs.map((s) => s.client.dispose()));
  // Let the gateway see every close before the next run measures its memory.
  for (let i = 0; i < 100; i++) {
    const open = Number(await t.child.call<string | null>('webSockets'));
    if (!open) break;
    await sleep(100);
  }
  return {
    subscribers: n,
    connected,
    connectSeconds,
    events: ran,
    delivered,
    expected: ran * connected,
    latency: summarize(latencies),
    perEvent,
    memory: subscriberMemory(mem0, mem1, connected),
    cpuUsPerDelivery: ((cpu1 - cpu0) * 1000) / Math.max(1, delivered),
    clientCpuUsPerDelivery: (self1.user + self1.system) / Math.max(1, delivered),
    depth: await fanoutDepth(t),
    errors,
  };
}

/** Round trips between the incoming message and the new count: one subscriber, every emulator waiting PROBE_MS. */
async function fanoutDepth(t: Target): Promise<Depth> {
  await sandbox.call('setLatency', { ms: PROBE_MS });
  const client = createClient({
    url: t.wsUrl,
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${API_KEY}` },
  });
  try {
    const samples: number[] = [];
    let resolveNext: ((total: number) => void) | null = null;
    let last: number | null = null;
    const first = new Promise<void>((ready) => {
      client.subscribe<{ unreadCountChanged: { total: number } }>(
        { query: UNREAD_SUBSCRIPTION },
        {
          next: (v) => {
            last = v.data?.unreadCountChanged.total ?? last;
            ready();
            resolveNext?.(last ?? 0);
          },
          error: () => ready(),
          complete: () => {},
        },
      );
    });
    await Promise.race([first, sleep(30_000)]);
    for (let i = 0; i < 3; i++) {
      await sandbox.call('captureStart');
      const changed = new Promise<void>((r) => {
        resolveNext = () => r();
      });
      await sandbox.call('simulateIncoming', { source: FANOUT_SOURCE });
      await Promise.race([changed, sleep(30_000)]);
      resolveNext = null;
      const captured = await sandbox.call<CapturedRequest[]>('captureStop');
      // The webhook's catalog refresh and the live engine's re-read of the totals, at that emulator.
      const path = captured.filter(
        (e) => e.source === FANOUT_SOURCE && (e.id.startsWith('webhook-') || e.id.startsWith(`live-${FANOUT_SOURCE}`)),
      );
      samples.push(roundTripDepth(path, PROBE_MS));
    }
    samples.sort((a, b) => a - b);
    const depth = samples[1] ?? 0;
    return { depth, samples, criticalPathMs: depth * opt.latency };
  } finally {
    await client.dispose();
    await sandbox.call('setLatency', { ms: opt.latency });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Report

const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '–');
const ratio = (a: number, b: number, d = 1) =>
  Number.isFinite(a) && Number.isFinite(b) && a > 0 ? `${(b / a).toFixed(d)}×` : '–';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '))
    .join('\n');
}

function httpRows(name: string, w: Partial<Record<TargetName, HttpWorkload>> | undefined): string[][] {
  if (!w) return [];
  const rows: string[][] = [];
  const gw = w.gateway;
  const base = w.baseline;
  const concs = (gw ?? base)?.runs.map((r) => r.concurrency) ?? [];
  for (const c of concs) {
    for (const [label, wl] of [
      ['gateway', gw],
      ['baseline', base],
    ] as const) {
      const r = wl?.runs.find((x) => x.concurrency === c);
      if (!r || !wl) continue;
      rows.push([
        `${name} c=${c}`,
        label,
        String(r.ops),
        String(r.errors),
        f(r.throughput, 0),
        f(r.latency.p50, 2),
        f(r.latency.p99, 2),
        `${f(wl.depth.criticalPathMs, 0)} (${wl.depth.depth}×${opt.latency})`,
        f(r.latency.p50 - wl.depth.criticalPathMs, 2),
        f(r.upstream.perOp, 2),
        f(r.upstream.serviceMsPerOp, 2),
        f(r.cpuMsPerOp, 2),
      ]);
    }
    const g = gw?.runs.find((x) => x.concurrency === c);
    const b = base?.runs.find((x) => x.concurrency === c);
    if (g && b) {
      rows.push([
        `${name} c=${c}`,
        'baseline÷gateway',
        '',
        '',
        ratio(b.throughput, g.throughput),
        ratio(g.latency.p50, b.latency.p50),
        ratio(g.latency.p99, b.latency.p99),
        '',
        '',
        ratio(g.upstream.perOp, b.upstream.perOp),
        ratio(g.upstream.serviceMsPerOp, b.upstream.serviceMsPerOp),
        ratio(g.cpuMsPerOp, b.cpuMsPerOp),
      ]);
    }
  }
  return rows;
}

function report(results: Results): string {
  const head = [
    'workload',
    'target',
    'ops',
    'err',
    'ops/s',
    'p50 ms',
    'p99 ms',
    'crit path ms',
    'p50−crit',
    'upstream/op',
    'upstream ms/op',
    'cpu ms/op',
  ];
  const rows = [
    head,
    ...httpRows('inbox', results.inbox),
    ...httpRows('thread', results.thread),
    ...httpRows('send', results.send),
  ];
  let out = rows.length > 1 ? `${table(rows)}\n` : '';
  const ratioNote =
    'baseline÷gateway: ops/s is gateway÷baseline (how many times more); the other columns baseline÷gateway.';
  if (rows.length > 1) out += `${ratioNote}\n`;
  if (results.inbox) {
    out +=
      '\ninbox upstream requests per page, by source (emulator logs; max of one operation from extensions.upstream):\n';
    for (const [label, w] of Object.entries(results.inbox)) {
      const r = w.runs[0];
      if (!r) continue;
      const by = Object.entries(r.upstream.perOpBySource)
        .sort()
        .map(([s, n]) => `${s} ${f(n, 2)}`)
        .join(', ');
      out += `  ${label.padEnd(8)} ${by || '(none)'}; max per source in one page ${r.upstream.maxPerSourceOneOp}\n`;
    }
  }
  if (results.fanout) {
    const fr = [
      [
        'fan-out',
        'target',
        'subs',
        'connected',
        'delivered',
        'p50 ms',
        'p99 ms',
        'max ms',
        'crit path ms',
        'heap KB/sub',
        'rss KB/sub',
        'cpu µs/delivery',
        'client µs',
      ],
    ];
    for (const [label, runs] of Object.entries(results.fanout)) {
      for (const r of runs) {
        if (r.skipped) {
          fr.push(skippedRow(`fan-out ${r.subscribers}`, label, r.subscribers, 13));
          continue;
        }
        fr.push([
          `fan-out ${r.subscribers}`,
          label,
          String(r.subscribers),
          String(r.connected),
          `${r.delivered}/${r.expected}`,
          f(r.latency.p50, 1),
          f(r.latency.p99, 1),
          f(r.latency.max, 1),
          `${f(r.depth.criticalPathMs, 0)} (${r.depth.depth}×${opt.latency})`,
          f(r.memory.heapPerSubscriberKB, 1),
          f(r.memory.rssPerSubscriberKB, 1),
          f(r.cpuUsPerDelivery, 1),
          f(r.clientCpuUsPerDelivery, 1),
        ]);
      }
    }
    for (const n of opt.subscribers) {
      const g = results.fanout.gateway?.find((r) => r.subscribers === n && !r.skipped);
      const b = results.fanout.baseline?.find((r) => r.subscribers === n && !r.skipped);
      if (g && b) {
        fr.push([
          `fan-out ${n}`,
          'baseline÷gateway',
          '',
          '',
          '',
          ratio(g.latency.p50, b.latency.p50),
          ratio(g.latency.p99, b.latency.p99),
          ratio(g.latency.max, b.latency.max),
          '',
          ratio(g.memory.heapPerSubscriberKB, b.memory.heapPerSubscriberKB),
          ratio(g.memory.rssPerSubscriberKB, b.memory.rssPerSubscriberKB),
          ratio(g.cpuUsPerDelivery, b.cpuUsPerDelivery),
          '',
        ]);
      }
    }
    out += `\n${table(fr)}\n`;
  }
  if (results.events) {
    const rows = [
      THREAD_EVENTS_HEAD,
      ...Object.entries(results.events).flatMap(([l, runs]) => threadEventsTable(l, runs)),
    ];
    out += `\n${table(rows)}\n`;
    out +=
      'thread events: delivery from the message asked of the Chatwoot emulator (its webhook → the gateway) to each subscriber; memory after full GCs.\n';
  }
  if (results.targets?.length) {
    out += '\nTargets (issue 7):\n';
    for (const c of results.targets) {
      out += `  ${c.pass === null ? 'N/A ' : c.pass ? 'PASS' : 'MISS'}  ${c.target}: ${c.measured} (goal ${c.goal}; margin ${c.margin})\n`;
    }
  }
  return out;
}

function checkTargets(r: Results): TargetCheck[] {
  const out: TargetCheck[] = [];
  const gwInbox = r.inbox?.gateway;
  const c1 = gwInbox?.runs.find((x) => x.concurrency === 1);
  if (c1 && gwInbox) {
    const over = c1.latency.p50 - gwInbox.depth.criticalPathMs;
    out.push({
      target: 'inbox p50 at concurrency 1 within 3 ms of the upstream critical path',
      measured: `p50 ${f(c1.latency.p50, 2)} ms, critical path ${f(gwInbox.depth.criticalPathMs, 0)} ms (${gwInbox.depth.depth} round trips × ${opt.latency} ms), overhead ${f(over, 2)} ms`,
      goal: '≤ 3 ms overhead',
      pass: over <= 3,
      margin: `${f(3 - over, 2)} ms ${over <= 3 ? 'to spare' : 'over'}`,
    });
  }
  const c32 = gwInbox?.runs.find((x) => x.concurrency === 32);
  if (c32) {
    const applies = opt.latency === 0;
    out.push({
      target: 'inbox throughput from one gateway process at zero upstream latency',
      measured: `${f(c32.throughput, 0)} ops/s at concurrency 32${applies ? '' : ` (latency ${opt.latency} ms: run with --latency 0 to check)`}`,
      goal: '≥ 1000 ops/s',
      pass: applies ? c32.throughput >= 1000 : null,
      margin: `${f(c32.throughput - 1000, 0)} ops/s (${f((c32.throughput / 1000) * 100, 0)}% of the goal)`,
    });
  }
  const gi = r.inbox?.gateway?.runs[0];
  const bi = r.inbox?.baseline?.runs[0];
  if (gi) {
    const maxAvg = Math.max(0, ...Object.values(gi.upstream.perOpBySource));
    const worst = Math.max(maxAvg, gi.upstream.maxPerSourceOneOp);
    out.push({
      target: 'upstream requests per source per inbox page',
      measured: `mean ${f(maxAvg, 2)} for the busiest source, ${gi.upstream.maxPerSourceOneOp} at most in one page`,
      goal: '≤ 2',
      pass: worst <= 2,
      margin: `${f(2 - worst, 2)}`,
    });
    if (bi) {
      const k = bi.upstream.perOp / Math.max(1e-9, gi.upstream.perOp);
      out.push({
        target: 'inbox upstream requests vs the naive baseline',
        measured: `${f(gi.upstream.perOp, 2)} vs ${f(bi.upstream.perOp, 1)} per page: ${gi.upstream.perOp > 0 ? `${f(k, 1)}× fewer` : 'none at all'}`,
        goal: '≥ 10× fewer',
        pass: k >= 10,
        margin: gi.upstream.perOp > 0 ? `${f(k / 10, 1)}× the goal` : 'unbounded',
      });
    }
  }
  const fan = r.fanout?.gateway?.find((x) => x.subscribers === 10_000);
  if (fan) {
    if (fan.skipped) {
      out.push({
        target: '10,000 subscribers on one process',
        measured: fan.skipped,
        goal: 'p99 ≤ 500 ms, < 30 KB each',
        pass: false,
        margin: 'not run',
      });
    } else {
      const all = fan.delivered === fan.expected && fan.connected === fan.subscribers;
      out.push({
        target: '10,000 subscribers: every one updated within 500 ms (p99) of an incoming message',
        measured: `${fan.delivered}/${fan.expected} updates, p99 ${f(fan.latency.p99, 1)} ms (critical path ${f(fan.depth.criticalPathMs, 0)} ms)`,
        goal: 'all updated, p99 ≤ 500 ms',
        pass: all && fan.latency.p99 <= 500,
        margin: `${f(500 - fan.latency.p99, 1)} ms`,
      });
      const kb = Math.max(fan.memory.heapPerSubscriberKB, fan.memory.rssPerSubscriberKB);
      out.push({
        target: '10,000 subscribers: gateway memory per subscriber',
        measured: `${f(fan.memory.heapPerSubscriberKB, 1)} KB heap, ${f(fan.memory.rssPerSubscriberKB, 1)} KB RSS (after full GCs)`,
        goal: '< 30 KB (the larger of the two)',
        pass: kb < 30,
        margin: `${f(30 - kb, 1)} KB`,
      });
    }
  }
  for (const ev of r.events?.gateway ?? []) {
    if (ev.subscribers !== 10_000) continue;
    const what = `thread events, 10,000 subscribers over ${ev.transport === 'ws' ? 'graphql-ws' : 'SSE'}`;
    if (ev.skipped) {
      out.push({
        target: what,
        measured: ev.skipped,
        goal: 'p99 ≤ 500 ms, < 30 KB each',
        pass: false,
        margin: 'not run',
      });
      continue;
    }
    const all = ev.delivered === ev.expected && ev.ready === ev.subscribers && ev.duplicates === 0;
    out.push({
      target: `${what}: every one gets each message within 500 ms (p99) of the emulator's message`,
      measured: `${ev.delivered}/${ev.expected} deliveries, p99 ${f(ev.latency.p99, 1)} ms`,
      goal: 'all delivered once, p99 ≤ 500 ms',
      pass: all && ev.latency.p99 <= 500,
      margin: `${f(500 - ev.latency.p99, 1)} ms`,
    });
    const kb = Math.max(ev.memory.heapPerSubscriberKB, ev.memory.rssPerSubscriberKB);
    out.push({
      target: `${what}: gateway memory per subscriber`,
      measured: `${f(ev.memory.heapPerSubscriberKB, 1)} KB heap, ${f(ev.memory.rssPerSubscriberKB, 1)} KB RSS (after full GCs)`,
      goal: '< 30 KB (the larger of the two)',
      pass: kb < 30,
      margin: `${f(30 - kb, 1)} KB`,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Main

async function main() {
  const results: Results = {
    startedAt: new Date().toISOString(),
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version, platform: process.platform },
    options: { ...opt, workloads: [...opt.workloads], probeLatencyMs: PROBE_MS },
  };
  process.stderr.write(
    `bench: latency ${opt.latency} ms, scale ${opt.scale}, ${opt.duration} s per run, targets ${opt.targets.join('+')}, caches ${[...cacheFlags].join('+') || 'off'}; starting the sandbox and gateways …\n`,
  );
  await startProcesses();
  const first = targets[0];
  if (!first) throw new Error('no target: --targets gateway,baseline');

  // Fixtures, read through the first target once: the inbox page, a thread per source, conversations to write to.
  const warm = await first.http.post(
    `{ conversations(first: 100) { edges { node { id source { id } } } } }`,
    undefined,
    'setup.inbox.0',
  );
  if (failed(warm)) throw new Error(`the inbox failed: ${warm.text.slice(0, 500)}`);
  const convs = (
    JSON.parse(warm.text) as {
      data: { conversations: { edges: Array<{ node: { id: string; source: { id: string } } }> } };
    }
  ).data.conversations.edges.map((e) => e.node);
  const sources = [...new Set(convs.map((c) => c.source.id))].sort();
  const threads: string[] = [];
  for (const s of sources) {
    // The conversation with the most messages and attachments among the source's newest ten.
    const r = await first.http.post(
      `query($s: [ID!]) { conversations(first: 10, filter: { sources: $s }) { edges { node { id messages(last: 100) { edges { node { attachments { id } } } } } } } }`,
      { s: [s] },
      `setup.thread.${s}`,
    );
    const edges =
      (
        JSON.parse(r.text) as {
          data?: {
            conversations: {
              edges: Array<{
                node: { id: string; messages: { edges: Array<{ node: { attachments: unknown[] } }> } | null };
              }>;
            };
          };
        }
      ).data?.conversations.edges ?? [];
    const weight = (e: (typeof edges)[number]) =>
      (e.node.messages?.edges ?? []).reduce((a, m) => a + 1 + m.node.attachments.length, 0);
    const best = [...edges].sort((a, b) => weight(b) - weight(a))[0];
    if (best) threads.push(best.node.id);
  }
  const perSource = new Map<string, string[]>();
  for (const c of convs) perSource.set(c.source.id, [...(perSource.get(c.source.id) ?? []), c.id]);
  const sendTo = sources.flatMap((s) => (perSource.get(s) ?? []).slice(0, 10));
  const runId = Date.now().toString(36);

  const inboxOp: Op = (t, id) => t.http.post(INBOX, undefined, id);
  const threadOp: Op = (t, id, n) => t.http.post(THREAD, { id: threads[n % threads.length] }, id);
  const sendOp: Op = (t, id, n) =>
    t.http.post(
      SEND_MESSAGE,
      {
        input: {
          conversationId: sendTo[n % sendTo.length],
          content: `bench ${runId} ${id}`,
          idempotencyKey: `${runId}-${id}`,
        },
      },
      id,
    );

  if (opt.workloads.has('inbox')) results.inbox = await httpWorkload('inbox', inboxOp, [1, 32]);
  if (opt.workloads.has('thread')) results.thread = await httpWorkload('thread', threadOp, [1, 32]);
  if (opt.workloads.has('send')) results.send = await httpWorkload('send', sendOp, [1, 32]);
  if (opt.workloads.has('fanout')) {
    results.fanout = {};
    for (const t of targets) {
      const runs: FanoutRun[] = [];
      for (const n of opt.subscribers) {
        process.stderr.write(`  fan-out · ${t.name} · ${n} subscribers …\n`);
        runs.push(await fanout(t, n, opt.events));
      }
      results.fanout[t.name] = runs;
    }
  }
  if (opt.workloads.has('events')) {
    results.events = {};
    const fds = fdLimit();
    for (const t of targets) {
      results.events[t.name] = await threadEventsBench(t, {
        sandbox,
        apiKey: API_KEY,
        subscribers: opt.subscribers,
        events: opt.events,
        transports: opt.eventTransports,
        fdLimit: fds,
        log: (l) => process.stderr.write(`${l}\n`),
        profile: { start: () => profileStart(t), stop: (phase) => profileStop(t, phase) },
      });
    }
  }
  if (opt.workloads.has('reads')) {
    results.reads = await chatwootReadCheckBench(undefined, undefined, (l) => process.stderr.write(`${l}\n`));
  }
  if (opt.workloads.has('threadsend')) {
    results.threadSend = await threadSendBench(opt.scale, (l) => process.stderr.write(`${l}\n`));
  }
  if (opt.workloads.has('catalog')) {
    results.catalog = await catalogScaleBench(parseCatalogSizes(argv['catalog-sizes']), (l) =>
      process.stderr.write(`${l}\n`),
    );
  }
  if (opt.workloads.has('cache')) {
    results.cache = await readCacheBench({
      duration: opt.duration,
      scale: opt.scale,
      log: (l) => process.stderr.write(`${l}\n`),
    });
  }
  if (opt.workloads.has('people')) {
    results.people = await peopleBench(Number(argv['people-contacts']), (l) => process.stderr.write(`${l}\n`));
  }
  results.targets = checkTargets(results);

  const text =
    report(results) +
    (results.reads ? `\n${results.reads.text}\n` : '') +
    (results.threadSend ? `\n${results.threadSend.text}\n` : '') +
    (results.catalog ? `\n${results.catalog.text}\n` : '') +
    (results.cache ? `\n${results.cache.text}\n` : '') +
    (results.people ? `\n${results.people.text}\n` : '');
  process.stdout.write(
    `\nSwitchboard bench — latency ${opt.latency} ms, scale ${opt.scale}, ${opt.duration} s per run, ${results.machine.cpus} CPUs, Node ${process.version}\n\n${text}`,
  );
  mkdirSync(dirname(resolve(opt.out)), { recursive: true });
  writeFileSync(resolve(opt.out), `${JSON.stringify({ ...results, table: text }, null, 2)}\n`);
  process.stderr.write(`\nwrote ${opt.out}\n`);
  await stopProcesses();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    killChildren();
    process.exit(1);
  },
);
