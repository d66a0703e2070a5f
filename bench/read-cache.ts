import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseConfig } from '../src/config/load';
import type { SourceConfig } from '../src/config/schema';
import { Child, runAlone } from './ipc';
import { failed, GqlClient, sleep, summarize, type RequestCounts, type Summary } from './lib';
import { THREAD_PAGE } from './queries';

/**
 * # The read cache, warm (issue 13 target 3)
 *
 * One thread page (the conversation with its participants and its newest 20 messages with their senders) asked
 * again and again by `concurrency` clients, against two gateways in front of the same emulators: one with the
 * read cache off (today) and one with it on (config `cache.enabled`), each in a process of its own, as deployed
 * (production mode). Upstream requests are counted from the emulators' own logs, grouped by the X-Request-Id the
 * bench sends. Nothing writes meanwhile, so the cache stays warm: the figure is the gateway's own cost of a
 * page it does not have to read. Issue 13's figure for today is about 400 pages a second (Chatwoot, 8
 * connections); the target is 1,500. `cpu ms/op` is the gateway's CPU per page: 1000 ÷ it is what one core could
 * serve with nothing else running (the gateway runs on one thread; the load generator shares the machine).
 *
 * `npm run bench -- --workloads cache` (part of the default run), or alone: `npx tsx bench/read-cache.ts
 * [--duration s] [--concurrency n] [--scale n] [--repeat n]`. The machine is shared: run it on a quiet moment, or
 * with `--repeat 3` (off and on alternate, the median run is shown).
 */

const API_KEY = 'sandbox-key';
const TODAY_OPS = 400;
const TARGET_OPS = 1500;

export interface ReadCacheRun {
  source: string;
  cache: 'off' | 'on';
  concurrency: number;
  ops: number;
  errors: number;
  throughput: number;
  latency: Summary;
  /** Upstream requests per page, from the emulators' logs. */
  upstreamPerOp: number;
  /** The gateway process's CPU (user + system) per page: less sensitive to a busy machine than ops/s. */
  cpuMsPerOp: number;
  firstError?: string;
}
export interface ReadCacheResults {
  runs: ReadCacheRun[];
  text: string;
}

export interface ReadCacheBenchOptions {
  /** Seconds per measured run. @default 5 */
  duration?: number;
  /** Clients at once. @default 8 */
  concurrency?: number;
  /** Dataset size (about 20×n conversations per source). @default 5 */
  scale?: number;
  /** Runs per source and gateway, alternating off and on (the table shows the median run by throughput). @default 1 */
  repeat?: number;
  /** Sources to measure. @default every source */
  sources?: string[];
  log?: (line: string) => void;
}

export async function readCacheBench(o: ReadCacheBenchOptions = {}): Promise<ReadCacheResults> {
  const duration = o.duration ?? 5;
  const concurrency = o.concurrency ?? 8;
  const log = o.log ?? (() => undefined);
  const here = dirname(__filename);
  const sandbox = Child.start('sandbox', join(here, 'sandbox-process.ts'), ['--scale', String(o.scale ?? 5)], {
    stdoutPipe: true,
  });
  const gateways: Array<{ cache: 'off' | 'on'; child: Child; http: GqlClient; url: string }> = [];
  try {
    const info = await sandbox.firstLine<{ sourceConfigs: SourceConfig[] }>(120_000);
    const hash = createHash('sha256').update(API_KEY).digest('hex');
    for (const cache of ['off', 'on'] as const) {
      const config = parseConfig(
        {
          server: { host: '127.0.0.1', port: 0, operationTimeoutMs: 120_000 },
          // As bench/run.ts: the gateway's own per-source caps lifted, or they would bound the throughput.
          sources: info.sourceConfigs.map((s) => ({ ...s, rateLimitPerMinute: null, maxConcurrency: 256 })),
          // The per-key limits (server.keyLimits) lifted too: the bench is one key at full speed.
          apiKeys: [
            {
              name: 'bench',
              sha256: hash,
              sources: ['*'],
              limits: { operationsPerMinute: null, concurrentOperations: null },
            },
          ],
          cache: { enabled: cache === 'on' },
        },
        {},
      );
      const child = Child.start(`gateway-cache-${cache}`, join(here, 'gateway-process.ts'), [], {
        env: { NODE_ENV: 'production' },
        execArgv: ['--expose-gc'],
      });
      const r = await child.call<{ url: string }>('start', { config, baseline: false, logLevel: 'warn' });
      gateways.push({ cache, child, url: r.url, http: new GqlClient(`${r.url}/graphql`, API_KEY, 64) });
    }
    const first = gateways[0]!;
    const sources = o.sources ?? info.sourceConfigs.map((s) => s.id);
    const threads = new Map<string, string>();
    for (const s of sources) {
      const r = await first.http.post(
        `query($s: [ID!]) { conversations(first: 1, filter: { sources: $s }) { nodes { id } } }`,
        { s: [s] },
        `setup.cache.${s}`,
      );
      const id = (JSON.parse(r.text) as { data?: { conversations: { nodes: Array<{ id: string }> } } }).data
        ?.conversations.nodes[0]?.id;
      if (id) threads.set(s, id);
    }

    const runs: ReadCacheRun[] = [];
    for (let round = 0; round < Math.max(1, o.repeat ?? 1); round++)
      for (const [source, id] of threads) {
        for (const g of gateways) {
          await sandbox.call('setWebhookBase', { url: g.url });
          log(`  read cache · ${source} · cache ${g.cache} · concurrency ${concurrency} …`);
          const op = (requestId: string) => g.http.post(THREAD_PAGE, { id }, requestId);
          // Warm-up: JIT, sockets, catalogs, and the cache itself.
          await loop(op, `warm.cache.${g.cache}.${source}`, concurrency, Math.min(1.5, duration));
          await sleep(200);
          await sandbox.call('drain');
          const prefix = `cache.${g.cache}.${source}`;
          const cpu0 = await g.child.call<{ user: number; system: number }>('cpu');
          const r = await loop(op, prefix, concurrency, duration);
          const cpu1 = await g.child.call<{ user: number; system: number }>('cpu');
          await sleep(300);
          const { counts } = await sandbox.call<{ counts: RequestCounts }>('drain');
          const upstream = Object.values(counts[prefix] ?? {}).reduce((a, b) => a + b, 0);
          runs.push({
            source,
            cache: g.cache,
            concurrency,
            ops: r.ops,
            errors: r.errors,
            throughput: r.latencies.length / r.seconds,
            latency: summarize(r.latencies),
            upstreamPerOp: upstream / Math.max(1, r.ops),
            cpuMsPerOp: (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / 1000 / Math.max(1, r.ops),
            ...(r.firstError ? { firstError: r.firstError } : {}),
          });
        }
      }
    return { runs, text: table(medians(runs), concurrency, duration, Math.max(1, o.repeat ?? 1)) };
  } finally {
    for (const g of gateways) g.http.close();
    await Promise.all(gateways.map((g) => g.child.stop()));
    await sandbox.stop();
  }
}

async function loop(
  op: (requestId: string) => ReturnType<GqlClient['post']>,
  prefix: string,
  concurrency: number,
  seconds: number,
) {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let n = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const r = await op(`${prefix}.${n++}`);
      if (failed(r)) {
        errors++;
        firstError ??= `${r.status} ${r.text.slice(0, 300)}`;
      } else latencies.push(r.ms);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latencies, errors, firstError, ops: n, seconds: (performance.now() - started) / 1000 };
}

/** Per source and cache setting, the run with the median throughput (ties: the earlier one). */
function medians(runs: ReadCacheRun[]): ReadCacheRun[] {
  const groups = new Map<string, ReadCacheRun[]>();
  for (const r of runs) {
    const k = `${r.source}\u0000${r.cache}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  return [...groups.values()].map((g) => {
    const sorted = [...g].sort((a, b) => a.throughput - b.throughput);
    return sorted[Math.floor((sorted.length - 1) / 2)] as ReadCacheRun;
  });
}

function table(runs: ReadCacheRun[], concurrency: number, duration: number, repeat: number): string {
  const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const lines = [
    `Read cache, warm thread page (participants + newest 20 messages with senders), concurrency ${concurrency}, ${duration} s a run${repeat > 1 ? `, median of ${repeat} runs` : ''}`,
    `source     cache  ops/s   p50 ms  p99 ms  upstream/op  cpu ms/op  errors  vs today (${TODAY_OPS}/s)  target ${TARGET_OPS}/s`,
  ];
  for (const r of runs) {
    lines.push(
      [
        r.source.padEnd(10),
        r.cache.padEnd(5),
        f(r.throughput).padStart(6),
        f(r.latency.p50, 1).padStart(7),
        f(r.latency.p99, 1).padStart(7),
        f(r.upstreamPerOp, 2).padStart(12),
        f(r.cpuMsPerOp, 2).padStart(10),
        String(r.errors).padStart(7),
        `${f(r.throughput / TODAY_OPS, 2)}×`.padStart(20),
        r.cache === 'on' ? (r.throughput >= TARGET_OPS ? '  met' : '  not met') : '',
      ].join(' '),
    );
    if (r.firstError) lines.push(`           first error: ${r.firstError}`);
  }
  return lines.join('\n');
}

if (require.main === module) {
  const arg = (name: string, fallback: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : fallback;
  };
  runAlone(
    readCacheBench({
      duration: arg('duration', 5),
      concurrency: arg('concurrency', 8),
      scale: arg('scale', 5),
      repeat: arg('repeat', 1),
      log: (l) => process.stderr.write(`${l}\n`),
    }),
    'read-cache bench failed: ',
  );
}
