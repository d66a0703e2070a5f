import type { Config, SourceConfig } from '../../src/config/schema';
import type { PubSubTransport } from '../../src/live/pubsub';
import { createInMemoryPubSub } from '../../src/live/transports/inMemory';
import { createRedisPubSub } from '../../src/live/transports/redis';
import { BACKENDS, randomPrefix as kitPrefix, REDIS_URL, type Backend } from '../utils/redis';
import { eventually as kitEventually } from '../utils/wait';

/**
 * Shared by the live suites (test/live, test/integration/live*): transports, recorders, waits. The Redis URL, key
 * prefixes and waits come from the test kit (test/utils).
 */

export { REDIS_URL };
export { sleep } from '../utils/wait';

/** A key prefix of its own per test, so that runs (and tests) sharing one Redis never see each other. */
export const randomPrefix = (tag = 'live') => kitPrefix(tag);

export type TransportKind = Backend;
export const TRANSPORTS: TransportKind[] = [...BACKENDS];

export interface Published {
  topic: string;
  payload: unknown;
  at: number;
}

/** A transport that remembers every publish made through it (by this instance). */
export interface RecordingPubSub extends PubSubTransport {
  published: Published[];
  /** Publishes on `topic` from index `from` of {@link published}. */
  on(topic: string, from?: number): Published[];
}

export function recording(inner: PubSubTransport): RecordingPubSub {
  const published: Published[] = [];
  return {
    published,
    on: (topic, from = 0) => published.slice(from).filter((p) => p.topic === topic),
    async publish(topic, payload) {
      published.push({ topic, payload, at: Date.now() });
      await inner.publish(topic, payload);
    },
    subscribe: (topic, onMessage) => inner.subscribe(topic, onMessage),
    close: () => inner.close(),
  };
}

export function makeTransport(kind: TransportKind, prefix: string): PubSubTransport {
  return kind === 'Redis' ? createRedisPubSub(REDIS_URL, prefix) : createInMemoryPubSub();
}

/**
 * The embedded config, adjusted: Redis (url and key prefix) for the Redis variant, a lease time, and per-source
 * changes (poll intervals, rate limits).
 */
export function adjust(opts: {
  redisPrefix?: string | null;
  liveLeaseMs?: number;
  source?: (s: SourceConfig) => Partial<SourceConfig>;
}): (c: Config) => Config {
  return (c) => ({
    ...c,
    server: { ...c.server, ...(opts.liveLeaseMs ? { liveLeaseMs: opts.liveLeaseMs } : {}) },
    ...(opts.redisPrefix ? { redis: { url: REDIS_URL, keyPrefix: opts.redisPrefix } } : {}),
    sources: c.sources.map((s) => ({ ...s, ...(opts.source?.(s) ?? {}) }) as SourceConfig),
  });
}

/** Polls `check` until it stops throwing (or returns true), failing after `timeoutMs` with the last error. */
export function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 20) {
  return kitEventually(check, { timeoutMs, everyMs });
}

/** The value of one sample in a Prometheus text exposition (0 when absent). */
export async function metric(baseUrl: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.indexOf('}'));
    const got = Object.fromEntries(
      [...inner.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1] as string, m[2] as string]),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

/** Optional measurements for the report: printed only with LIVE_MEASURE=1. */
export function measure(what: string, value: number | string, unit = ''): void {
  if (process.env.LIVE_MEASURE) process.stdout.write(`[measure] ${what}: ${value}${unit ? ` ${unit}` : ''}\n`);
}
