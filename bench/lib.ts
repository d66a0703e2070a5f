import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A request an emulator logged, with the gateway's X-Request-Id and its arrival time (epoch ms). */
export interface CapturedRequest {
  source: string;
  id: string;
  at: number;
  method: string;
  path: string;
}

/** Requests per id group (`inbox.gw.c1.17` → `inbox.gw.c1`; `live-protocol-4` → `live-protocol`), then per source. */
export type RequestCounts = Record<string, Record<string, number>>;

export function groupOf(id: string | undefined): string {
  if (!id) return '-';
  const dot = id.lastIndexOf('.');
  return dot >= 0 ? id.slice(0, dot) : id.replace(/-\d+$/, '');
}

export interface Summary {
  n: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarize(values: number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p99: percentile(s, 99),
    max: s.length ? (s[s.length - 1] as number) : Number.NaN,
    mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : Number.NaN,
  };
}

/** One incoming message of a fan-out run: its deliveries, the first, median, 99th percentile and last (ms after it). */
export interface EventDeliveries {
  delivered: number;
  first: number;
  p50: number;
  p99: number;
  max: number;
}

/** {@link EventDeliveries} of one message from its deliveries' latencies. */
export function eventDeliveries(latencies: number[]): EventDeliveries {
  const s = summarize(latencies);
  return {
    delivered: s.n,
    first: latencies.length ? Math.min(...latencies) : Number.NaN,
    p50: s.p50,
    p99: s.p99,
    max: s.max,
  };
}

/** A fan-out run's gateway memory: per subscriber (after full GCs), and the process's before and after. */
export interface SubscriberMemory {
  heapPerSubscriberKB: number;
  rssPerSubscriberKB: number;
  heapBeforeMB: number;
  heapAfterMB: number;
  rssBeforeMB: number;
  rssAfterMB: number;
}

/** The memory of a run that measured none (skipped, or failed before). */
export function noSubscriberMemory(): SubscriberMemory {
  return {
    heapPerSubscriberKB: Number.NaN,
    rssPerSubscriberKB: Number.NaN,
    heapBeforeMB: 0,
    heapAfterMB: 0,
    rssBeforeMB: 0,
    rssAfterMB: 0,
  };
}

/** What `subscribers` subscribers added between two of the gateway's memory readings. */
export function subscriberMemory(
  before: NodeJS.MemoryUsage,
  after: NodeJS.MemoryUsage,
  subscribers: number,
): SubscriberMemory {
  const mb = (b: number) => b / 1024 / 1024;
  return {
    heapPerSubscriberKB: (after.heapUsed - before.heapUsed) / 1024 / Math.max(1, subscribers),
    rssPerSubscriberKB: (after.rss - before.rss) / 1024 / Math.max(1, subscribers),
    heapBeforeMB: mb(before.heapUsed),
    heapAfterMB: mb(after.heapUsed),
    rssBeforeMB: mb(before.rss),
    rssAfterMB: mb(after.rss),
  };
}

/**
 * The number of sequential upstream round trips of one operation, from the arrival times of its requests at
 * the emulators while every emulator adds `latencyMs` before answering: a request that arrived at least about
 * one latency after another one could have waited for it, so it sits one level deeper. Parallel requests of one
 * level arrive within a few ms of each other, far less than the latency.
 */
export function roundTripDepth(entries: Array<Pick<CapturedRequest, 'at'>>, latencyMs: number): number {
  const sorted = [...entries].sort((a, b) => a.at - b.at);
  const depth: number[] = [];
  let best = 0;
  for (let i = 0; i < sorted.length; i++) {
    let d = 1;
    for (let j = 0; j < i; j++) {
      if ((sorted[j] as CapturedRequest).at + latencyMs * 0.8 <= (sorted[i] as CapturedRequest).at)
        d = Math.max(d, (depth[j] as number) + 1);
    }
    depth.push(d);
    best = Math.max(best, d);
  }
  return best;
}

export interface GqlResponse {
  status: number;
  text: string;
  ms: number;
}

/** A lean GraphQL-over-HTTP client (node:http, keep-alive), so the load generator costs as little CPU as it can. */
export class GqlClient {
  private readonly agent: Agent;
  private readonly url: URL;

  constructor(
    endpoint: string,
    private readonly apiKey: string,
    maxSockets: number,
  ) {
    this.url = new URL(endpoint);
    this.agent = new Agent({ keepAlive: true, maxSockets });
  }

  post(query: string, variables: Record<string, unknown> | undefined, requestId: string): Promise<GqlResponse> {
    const body = JSON.stringify({ query, variables });
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.agent,
          hostname: this.url.hostname,
          port: this.url.port,
          path: this.url.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            accept: 'application/graphql-response+json, application/json',
            authorization: `Bearer ${this.apiKey}`,
            'x-request-id': requestId,
            // extensions.upstream: this operation's upstream requests per source, as the gateway counted them.
            'x-upstream-stats': '1',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              ms: performance.now() - t0,
            }),
          );
          res.on('error', reject);
        },
      );
      req.setTimeout(120_000, () => req.destroy(new Error('request timed out after 120 s')));
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A response that carries GraphQL errors, or no data: the bench counts it as a failed operation. */
export function failed(r: GqlResponse): boolean {
  return r.status !== 200 || r.text.includes('"errors":[') || !r.text.startsWith('{"data"');
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** V8's gc, exposed on first use (not at import: only the benches that weigh the heap turn the flag on). */
let gcOnce: (() => void) | null = null;

/** The heap in use after two full collections: what is retained, for the byte-per-item figures. */
export function heapAfterGc(): number {
  if (!gcOnce) {
    setFlagsFromString('--expose-gc');
    gcOnce = runInNewContext('gc') as () => void;
  }
  gcOnce();
  gcOnce();
  return process.memoryUsage().heapUsed;
}

/** A report row for a run that was skipped: its label, target and size, "skipped", the other columns empty. */
export function skippedRow(label: string, target: string, size: number, columns: number): string[] {
  return [label, target, String(size), 'skipped', ...Array<string>(Math.max(0, columns - 4)).fill('')];
}

/** A plain-text table: the header, a rule, then one line a row, each column padded to its widest cell. */
export function table(head: string[], body: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(line)];
}
