import { startSandbox } from '../src/sandbox';
import type { Faults, RequestLogEntry } from '../src/sandbox/kit/server';
import { serveRpc } from './ipc';
import { groupOf, type CapturedRequest, type RequestCounts } from './lib';

/**
 * The bench's upstream: every vendor emulator in a process of its own, so that the gateway's CPU and memory
 * are its own. `tsx bench/sandbox-process.ts [--scale 5] [--latency 0] [--seed 1]` prints one JSON line
 * `{ sourceConfigs, emulators }` on stdout and serves until SIGINT/SIGTERM (or, under the bench, until the
 * bench goes away). Each emulator's own control API (`/__sandbox/...`) works as usual; the bench also drives
 * it through IPC (bench/ipc.ts): latency, webhook target, request counts, request captures, incoming messages.
 */

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} expects a number, got ${process.argv[i + 1]}`);
  return v;
}

async function main() {
  const scale = flag('scale', 5);
  const latencyMs = flag('latency', 0);
  const seed = flag('seed', 1);
  // Vendors' own rate limits are lifted (the bench measures the gateway, not the vendors' quotas), unless
  // `--vendor-limits 1` (the soak: real 429s from Monica's 60 a minute).
  const vendorLimits = flag('vendor-limits', 0) > 0;
  const sandbox = await startSandbox({ scale, seed, rateLimitPerMinute: vendorLimits ? undefined : 1_000_000_000 });
  const setLatency = (ms: number) => {
    for (const h of sandbox.emulators.values()) h.setFaults(ms > 0 ? { latencyMs: ms } : {});
  };
  setLatency(latencyMs);

  // The emulators keep at most 100,000 log entries: drain them often into counters (and captures). An entry
  // gets its service time (`ms`) once answered; until then it waits in `unanswered` (a minute at most).
  let counts: RequestCounts = {};
  let serviceMs: Record<string, number> = {};
  let unanswered: Array<{ group: string; e: RequestLogEntry }> = [];
  let capture: CapturedRequest[] | null = null;
  const drain = () => {
    const now = Date.now();
    const still: typeof unanswered = [];
    for (const u of unanswered) {
      if (u.e.ms !== undefined) serviceMs[u.group] = (serviceMs[u.group] ?? 0) + u.e.ms;
      else if (now - u.e.at < 60_000) still.push(u);
    }
    unanswered = still;
    for (const [source, h] of sandbox.emulators) {
      const log: RequestLogEntry[] = h.requests();
      h.clearRequests();
      for (const e of log) {
        const id = e.headers['x-request-id'];
        const group = groupOf(id);
        const g = (counts[group] ??= {});
        g[source] = (g[source] ?? 0) + 1;
        if (e.ms !== undefined) serviceMs[group] = (serviceMs[group] ?? 0) + e.ms;
        else unanswered.push({ group, e });
        if (capture && capture.length < 200_000)
          capture.push({ source, id: id ?? '-', at: e.at, method: e.method, path: e.path });
      }
    }
  };
  const timer = setInterval(drain, 100);

  const close = async () => {
    clearInterval(timer);
    await sandbox.close();
  };
  serveRpc(
    {
      setLatency: ({ ms }: { ms: number }) => setLatency(ms),
      setWebhookBase: ({ url }: { url: string | null }) => sandbox.setWebhookBase(url),
      /** Requests per group and source, and the emulators' total service time per group, since the last drain. */
      drain: () => {
        drain();
        const out = { counts, serviceMs };
        counts = {};
        serviceMs = {};
        return out;
      },
      captureStart: () => {
        drain();
        capture = [];
      },
      captureStop: () => {
        drain();
        const out = capture ?? [];
        capture = null;
        return out;
      },
      simulateIncoming: ({
        source,
        conversationId,
        content,
      }: {
        source: string;
        conversationId?: string;
        content?: string;
      }) => {
        const h = sandbox.emulators.get(source);
        if (!h) throw new Error(`no emulator ${source}`);
        return h.controls.simulateIncoming({ conversationId, content });
      },
      unread: ({ source }: { source: string }) => sandbox.emulators.get(source)?.controls.unreadState() ?? null,
      setFaults: ({ source, faults }: { source: string; faults: Faults }) =>
        sandbox.emulators.get(source)?.setFaults(faults),
      /** This process's heap after full collections (it runs with --expose-gc under the soak): the sources' data. */
      memory: () => {
        const gc = (globalThis as { gc?: () => void }).gc;
        for (let i = 0; i < 3; i++) gc?.();
        return { heapUsed: process.memoryUsage().heapUsed, collected: Boolean(gc) };
      },
    },
    close,
  );
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      void close().finally(() => process.exit(0));
    });
  }
  process.stdout.write(
    `${JSON.stringify({
      sourceConfigs: sandbox.sourceConfigs,
      emulators: Object.fromEntries([...sandbox.emulators].map(([id, h]) => [id, h.url])),
    })}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`sandbox: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
