import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import type { SourceConfig } from '../src/config/schema';
import { createMemoryCatalogStore } from '../src/connectors/catalog-stores/memory';
import { createRedisCatalogStore } from '../src/connectors/catalog-stores/redis';
import { createConnector, profileOf } from '../src/connectors/registry';
import type { Connector, ConversationModel, SourceKind } from '../src/connectors/types';
import { VENDORS } from '../src/sandbox';
import type { EmulatorHandle } from '../src/sandbox/kit/server';
import { Child, runAlone, serveRpc } from './ipc';
import { heapAfterGc, summarize, table } from './lib';

/**
 * # Catalogs at real sizes (issue 13 target 5)
 *
 * For each catalog source (Protocol, Chatwoot, Monica) and each size (conversations per source), the connector in
 * this process against the vendor's emulator in a child process of its own (this file with `--emulator-child`; its
 * rate limit lifted, the connector's own cap too, so the figures are the work, not the waiting; the documented limit
 * is applied afterwards to say how long the same requests take there):
 * - bytes a conversation: the heap the memory store retains (after GC, with the store and without it), and the
 *   Redis store's `MEMORY USAGE` of the items hash over the same conversations (when Redis answers);
 * - the first full sync: its duration and upstream requests (from the emulator's request log), and the minutes the
 *   same requests need at the vendor's documented rate limit;
 * - the refresh after it, with one conversation changed upstream: a webhook source re-reads the conversation its
 *   webhook names (`applyChanges`), a polling one (Monica) runs one poll;
 * - the catalog's periodic refresh once it is older than `catalogMaxAgeMs` (its snapshot backdated 11 minutes, then
 *   one read): a full re-sync, or above 1,000 conversations the vendor's incremental refresh (`readChanges`:
 *   Chatwoot one `updated_within` request, Protocol the two list heads and the conversations they name, Monica the
 *   `-updated_at` head and one rolling page); its upstream requests and duration;
 * - the 50-row inbox page of the source from the warm catalog: p50 and p99 over 200 pages.
 *
 * `npm run bench -- --workloads catalog [--catalog-sizes 1000,10000]`, or `tsx bench/catalog-scale.ts [sizes]`;
 * 100,000 takes many minutes (the emulators sort their whole list for every page): run it by hand.
 */

export interface CatalogScaleRow {
  source: string;
  conversations: number;
  bytesPerConversation: number;
  redisBytesPerConversation: number | null;
  firstSyncMs: number;
  firstSyncRequests: number;
  /** Minutes the first sync's requests take at the vendor's documented limit (null: none documented). */
  firstSyncMinutesAtLimit: number | null;
  refreshPath: string;
  refreshRequests: number;
  /** The periodic refresh of a stale catalog (full, or incremental above 1,000 conversations). */
  staleRefreshRequests: number;
  staleRefreshMs: number;
  pageP50Ms: number;
  pageP99Ms: number;
}

export interface CatalogScaleResults {
  rows: CatalogScaleRow[];
  text: string;
}

const KINDS: SourceKind[] = ['PROTOCOL', 'CHATWOOT', 'MONICA'];

async function redisOrNull(): Promise<Redis | null> {
  const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  try {
    await redis.connect();
    await redis.ping();
    return redis;
  } catch {
    redis.disconnect();
    return null;
  }
}

/** The Redis store's bytes per conversation: the items hash of one written snapshot, by MEMORY USAGE. */
async function redisBytes(redis: Redis, sourceId: string, items: readonly ConversationModel[]): Promise<number> {
  const prefix = `bench-catalog-${process.pid}-${Date.now()}:`;
  const store = createRedisCatalogStore(redis, prefix);
  try {
    await store.write(sourceId, { syncedAt: Date.now(), items: [...items] });
    const bytes = Number(await redis.call('MEMORY', 'USAGE', `${prefix}catalog:${sourceId}:items`, 'SAMPLES', '0'));
    return bytes / Math.max(1, items.length);
  } finally {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
}

async function measureOne(
  kind: SourceKind,
  n: number,
  redis: Redis | null,
  log: (line: string) => void,
): Promise<CatalogScaleRow> {
  const vendor = VENDORS.find((v) => v.kind === kind);
  if (!vendor) throw new Error(`no emulator for ${kind}`);
  const child = Child.start(`emulator-${kind}`, __filename, ['--emulator-child'], {
    execArgv: ['--max-old-space-size=8192'],
  });
  let connector: Connector | null = null;
  try {
    const { url } = await child.call<{ url: string }>('start', { kind, n }, 600_000);
    const config = {
      ...vendor.sourceConfig(url),
      retries: 0,
      timeoutMs: 600_000,
      rateLimitPerMinute: null,
    } as SourceConfig;
    const store = createMemoryCatalogStore();
    connector = createConnector(config, { catalogStore: store, policy: { maxConcurrency: 8 } });
    const c = connector;
    const emu = {
      clearRequests: () => child.call('clear'),
      upstream: () => child.call<number>('upstream'),
      simulateIncoming: () => child.call('simulateIncoming'),
    };
    const upstream = emu.upstream;
    const list = (id: string) =>
      c.openSession({ requestId: id }).listConversations({ offset: 0, limit: 50, filter: {} });

    log(`  catalog · ${config.id} · ${n.toLocaleString('en')} conversations: first sync …`);
    await emu.clearRequests();
    const t0 = performance.now();
    const first = await list('bench-catalog-sync');
    const firstSyncMs = performance.now() - t0;
    const firstSyncRequests = await upstream();

    // Monica's poller takes its baseline from the first poll: one before the measured one.
    if (c.poll) await c.poll({ requestId: 'bench-catalog-baseline' });

    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await list(`bench-catalog-page-${i}`);
      times.push(performance.now() - t);
    }
    const page = summarize(times);

    // One conversation changes upstream; then the refresh the connector would run for it.
    const changed = first.items[0]?.nativeId;
    await emu.simulateIncoming();
    await emu.clearRequests();
    let refreshPath: string;
    if (c.poll && !c.applyChanges) {
      // No webhooks (Monica): the poll is how it learns of any change.
      refreshPath = 'one poll';
      await c.poll({ requestId: 'bench-catalog-poll' });
    } else {
      refreshPath = 'webhook: re-read the named conversation';
      if (changed && c.applyChanges) {
        await c.applyChanges([{ sourceId: config.id, conversationNativeId: changed }], {
          requestId: 'bench-catalog-webhook',
        });
      }
    }
    const refreshRequests = await upstream();

    // The periodic refresh, once the snapshot is older than catalogMaxAgeMs (10 minutes): backdated, then one read.
    await store.touch(config.id, Date.now() - 11 * 60_000);
    await emu.clearRequests();
    const ts = performance.now();
    await list('bench-catalog-stale');
    const staleRefreshMs = performance.now() - ts;
    const staleRefreshRequests = await upstream();

    // In a function of its own, so that nothing here holds the items when the store lets them go.
    const { count, redisBytesPerConversation } = await (async () => {
      const items = (await store.read(config.id))?.items ?? [];
      return {
        count: items.length,
        redisBytesPerConversation: redis ? await redisBytes(redis, config.id, items) : null,
      };
    })();
    const withStore = heapAfterGc();
    await store.close();
    const withoutStore = heapAfterGc();
    const limit = profileOf(kind).limits.rateLimitPerMinute ?? null;
    return {
      source: config.id,
      conversations: count,
      bytesPerConversation: (withStore - withoutStore) / Math.max(1, count),
      redisBytesPerConversation,
      firstSyncMs,
      firstSyncRequests,
      firstSyncMinutesAtLimit: limit ? firstSyncRequests / limit : null,
      refreshPath,
      refreshRequests,
      staleRefreshRequests,
      staleRefreshMs,
      pageP50Ms: page.p50,
      pageP99Ms: page.p99,
    };
  } finally {
    await connector?.close?.();
    await child.stop();
  }
}

/** The child: one emulator, its request log counted without the control API's own requests. */
function serveEmulator(): void {
  let emu: EmulatorHandle | null = null;
  serveRpc(
    {
      start: async ({ kind, n }: { kind: SourceKind; n: number }) => {
        const vendor = VENDORS.find((v) => v.kind === kind);
        if (!vendor) throw new Error(`no emulator for ${kind}`);
        emu = await vendor.start({ port: 0, scale: n / 20, rateLimitPerMinute: 1_000_000_000 });
        return { url: emu.url };
      },
      clear: () => emu?.clearRequests(),
      upstream: () => emu?.requests().filter((r) => !r.path.startsWith('/__sandbox')).length ?? 0,
      simulateIncoming: () => {
        emu?.controls.simulateIncoming({});
      },
    },
    async () => {
      await emu?.close();
    },
  );
}

export async function catalogScaleBench(
  sizes: number[] = [1_000, 10_000],
  log: (line: string) => void = () => undefined,
  kinds: SourceKind[] = KINDS,
): Promise<CatalogScaleResults> {
  const redis = await redisOrNull();
  const rows: CatalogScaleRow[] = [];
  const failures: string[] = [];
  try {
    for (const n of sizes) {
      for (const kind of kinds) {
        try {
          rows.push(await measureOne(kind, n, redis, log));
        } catch (e) {
          // One size of one source failing (a timeout at 100,000) leaves the others' rows.
          failures.push(`${kind} at ${n.toLocaleString('en')}: ${describe(e)}`);
          log(`  catalog · ${kind} · ${n}: failed: ${String(e)}`);
        }
      }
    }
  } finally {
    redis?.disconnect();
  }
  const head = [
    'source',
    'conversations',
    'bytes/conv (heap)',
    'bytes/conv (Redis)',
    'first sync ms',
    'first sync requests',
    'at documented limit',
    'refresh requests',
    'stale refresh requests',
    'stale refresh ms',
    'page p50 ms',
    'page p99 ms',
  ];
  const f = (v: number, d = 0) => v.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d });
  const body = rows.map((r) => [
    r.source,
    f(r.conversations),
    f(r.bytesPerConversation),
    r.redisBytesPerConversation === null ? '-' : f(r.redisBytesPerConversation),
    f(r.firstSyncMs),
    f(r.firstSyncRequests),
    r.firstSyncMinutesAtLimit === null ? 'no limit' : `${f(r.firstSyncMinutesAtLimit, 1)} min`,
    `${r.refreshRequests} (${r.refreshPath})`,
    f(r.staleRefreshRequests),
    f(r.staleRefreshMs),
    f(r.pageP50Ms, 3),
    f(r.pageP99Ms, 3),
  ]);
  const text = [
    'Catalogs at real sizes (issue 13 target 5; the connector in this process, each emulator in a child; vendor and connector limits lifted; heap = retained by the memory store after GC)',
    ...table(head, body),
    ...failures.map((f) => `failed: ${f}`),
  ].join('\n');
  return { rows, text };
}

/** An error with its causes (a GatewayError's original error, fetch's own cause: ECONNRESET, a timeout). */
function describe(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur && depth < 4; depth++) {
    const err = cur as { message?: string; code?: string; originalError?: unknown; cause?: unknown };
    parts.push(`${err.message ?? String(cur)}${typeof err.code === 'string' ? ` (${err.code})` : ''}`);
    cur = err.originalError ?? err.cause;
  }
  return parts.join(' <- ');
}

/** `--catalog-sizes 1000,10000` (conversations per source). */
export function parseCatalogSizes(raw: string | undefined): number[] {
  const sizes = (raw ?? '1000,10000')
    .split(',')
    .filter(Boolean)
    .map((s) => Number(s));
  for (const s of sizes)
    if (!Number.isInteger(s) || s < 1) throw new Error(`--catalog-sizes: "${raw}" is not a list of sizes`);
  return sizes;
}

// `tsx bench/catalog-scale.ts 1000,10000,100000 [MONICA,CHATWOOT]` runs this section alone (of these kinds).
if (require.main === module && process.argv.includes('--emulator-child')) {
  serveEmulator();
} else if (require.main === module) {
  const kinds = process.argv[3] ? (process.argv[3].split(',') as SourceKind[]) : KINDS;
  runAlone(catalogScaleBench(parseCatalogSizes(process.argv[2]), (l) => process.stderr.write(`${l}\n`), kinds));
}
