import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { Child } from './ipc';
import {
  eventDeliveries,
  failed,
  noSubscriberMemory,
  skippedRow,
  sleep,
  subscriberMemory,
  summarize,
  type EventDeliveries,
  type GqlClient,
  type RequestCounts,
  type SubscriberMemory,
  type Summary,
} from './lib';

/**
 * # Thread-events fan-out (issue 14, "Tests and numbers")
 *
 * N subscribers on one Chatwoot conversation's `conversationEvents`, over graphql-ws (one WebSocket each, as the
 * unread fan-out) or over GraphQL over SSE (graphql-sse's distinct connections mode: one `POST /graphql` stream
 * with `Accept: text/event-stream` each, the way a phone or a serverless client holds it; the client here is a
 * lean node:http reader of the protocol's `event: next` / `data:` lines, so that the bench's own CPU stays small).
 * Then messages arrive at the Chatwoot emulator (`simulateIncoming`: the contact writes; the emulator posts its
 * signed `message_created` webhook to the gateway, which publishes `MessageAdded` from the webhook's payload):
 * delivery is measured from the moment the bench asks the emulator for the message until each subscriber has
 * the `MessageAdded` with that message's content, so the path includes the webhook's delivery and ingest.
 *
 * The subscriptions give no first value, so readiness is the gateway's own count
 * (`switchboard_thread_event_subscribers` on /metrics) followed by warm-up messages until every subscriber got
 * one (unmeasured, as the unread fan-out's first event). Memory is the gateway's heap and RSS growth after full
 * GCs ÷ subscribers. Every loop is bounded; every address is 127.0.0.1.
 */

export type EventsTransport = 'ws' | 'sse';

export const EVENTS_SUBSCRIPTION = /* GraphQL */ `
  subscription ThreadEvents($ids: [ID!]) {
    conversationEvents(conversationIds: $ids) {
      __typename
      at
      cursor
      conversationId
      ... on MessageAdded {
        message {
          id
          content
          sentAt
          direction
          sender {
            id
            name
          }
          attachments {
            id
            filename
          }
        }
      }
    }
  }
`;

/** What the workload asks of a child process (bench/ipc.ts Child; a test may answer in-process). */
export type Caller = Pick<Child, 'call'>;

/** A gateway as bench/run.ts starts it (bench/gateway-process.ts: `memory`, `cpu`). */
export interface EventsTarget {
  name: string;
  child: Caller;
  url: string;
  wsUrl: string;
  http: GqlClient;
}

export interface ThreadEventsOptions {
  /** The sandbox child (bench/sandbox-process.ts: `setWebhookBase`, `simulateIncoming`, `drain`). */
  sandbox: Caller;
  apiKey: string;
  subscribers: number[];
  /** Measured messages per size and transport (after the warm-up). */
  events: number;
  transports: EventsTransport[];
  /** Open files this process may hold (ulimit -n). */
  fdLimit: number;
  log?: (line: string) => void;
  /** --profile: around the measured messages only. */
  profile?: { start(): Promise<void>; stop(phase: string): Promise<void> };
}

export interface ThreadEventsRun {
  transport: EventsTransport;
  subscribers: number;
  /** Subscribers the gateway counted (switchboard_thread_event_subscribers) once all were opened. */
  subscribed: number;
  /** Subscribers that received a warm-up message: the ones every measured message is expected at. */
  ready: number;
  connectSeconds: number;
  warmups: number;
  events: number;
  delivered: number;
  expected: number;
  duplicates: number;
  latency: Summary;
  perEvent: EventDeliveries[];
  memory: SubscriberMemory;
  /** Gateway CPU per delivered event (the webhook's handling included). */
  cpuUsPerDelivery: number;
  /** This process's CPU per received event. */
  clientCpuUsPerDelivery: number;
  /** Upstream requests the gateway made per measured message (webhook re-read, totals; none on the delivery path). */
  upstreamPerMessage: number;
  errors: number;
  skipped?: string;
}

/** One subscriber: what it received, and how it goes. */
interface Sub {
  /** Index of the last bench message it received (-1: none yet). */
  last: number;
  close: () => void;
}

interface Pending {
  index: number;
  t0: number;
  latencies: number[];
  remaining: number;
  done: () => void;
}

const CONTENT_PREFIX = 'evbench';

/** Prometheus text value of an unlabelled metric, or null when absent. */
function metricValue(body: string, name: string): number | null {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(body);
  return m ? Number(m[1]) : null;
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  return res.text();
}

/** The open conversation every subscriber watches: its global id and the id the emulator's controls take. */
async function chatwootConversation(t: EventsTarget): Promise<{ id: string; control: string }> {
  const r = await t.http.post(
    `{ conversations(first: 1, filter: { sources: ["chatwoot"], status: [OPEN] }) { edges { node { id nativeId } } } }`,
    undefined,
    `setup.events.${t.name}`,
  );
  if (failed(r)) throw new Error(`events: no Chatwoot conversation: ${r.text.slice(0, 300)}`);
  const node = (
    JSON.parse(r.text) as { data: { conversations: { edges: Array<{ node: { id: string; nativeId: string } }> } } }
  ).data.conversations.edges[0]?.node;
  if (!node) throw new Error('events: the Chatwoot emulator has no open conversation');
  return { id: node.id, control: node.nativeId };
}

/** The message index in a delivered event's content, or null for another message. */
function indexOf(content: unknown, run: string): number | null {
  if (typeof content !== 'string' || !content.startsWith(`${CONTENT_PREFIX} ${run} `)) return null;
  const n = Number(content.slice(CONTENT_PREFIX.length + run.length + 2));
  return Number.isInteger(n) ? n : null;
}

export async function threadEventsBench(t: EventsTarget, o: ThreadEventsOptions): Promise<ThreadEventsRun[]> {
  const log = o.log ?? (() => undefined);
  await o.sandbox.call('setWebhookBase', { url: t.url });
  const conv = await chatwootConversation(t);
  const runs: ThreadEventsRun[] = [];
  for (const transport of o.transports)
    for (const n of o.subscribers) {
      log(`  thread events · ${t.name} · ${transport} · ${n} subscribers …`);
      runs.push(await oneRun(t, o, conv, transport, n));
    }
  return runs;
}

async function oneRun(
  t: EventsTarget,
  o: ThreadEventsOptions,
  conv: { id: string; control: string },
  transport: EventsTransport,
  n: number,
): Promise<ThreadEventsRun> {
  const base: ThreadEventsRun = {
    transport,
    subscribers: n,
    subscribed: 0,
    ready: 0,
    connectSeconds: 0,
    warmups: 0,
    events: 0,
    delivered: 0,
    expected: 0,
    duplicates: 0,
    latency: summarize([]),
    perEvent: [],
    memory: noSubscriberMemory(),
    cpuUsPerDelivery: Number.NaN,
    clientCpuUsPerDelivery: Number.NaN,
    upstreamPerMessage: Number.NaN,
    errors: 0,
  };
  if (!(o.fdLimit >= n + 1024)) {
    const skipped = `ulimit -n is ${o.fdLimit}: ${n} subscribers need at least ${n + 1024} open files (raise it with \`ulimit -n ${n + 4096}\`)`;
    return { ...base, skipped };
  }
  const run = `${Date.now().toString(36)}${transport}${n}`;
  const mem0 = await t.child.call<NodeJS.MemoryUsage>('memory', { collect: true });

  let errors = 0;
  let duplicates = 0;
  let opened = 0;
  let ready = 0;
  let current: Pending | null = null;
  /** Resolves when `opened` reaches a count (the batch loop). */
  let openWaiter: { until: number; done: () => void } | null = null;
  /** Woken by each subscriber's first message (the warm-up loop). */
  let readyWaiter: { until: number; done: () => void } | null = null;

  const onOpen = () => {
    opened++;
    if (openWaiter && opened >= openWaiter.until) openWaiter.done();
  };
  const onEvent = (sub: Sub, data: unknown) => {
    const ev = (data as { conversationEvents?: { __typename?: string; message?: { content?: unknown } } } | null)
      ?.conversationEvents;
    if (!ev) {
      errors++;
      return;
    }
    if (ev.__typename !== 'MessageAdded') return;
    const i = indexOf(ev.message?.content, run);
    if (i === null) return;
    if (i <= sub.last) {
      duplicates++;
      return;
    }
    const first = sub.last < 0;
    sub.last = i;
    if (first) {
      ready++;
      if (readyWaiter && ready >= readyWaiter.until) readyWaiter.done();
    }
    const p = current;
    if (p && i === p.index) {
      p.latencies.push(performance.now() - p.t0);
      if (--p.remaining === 0) p.done();
    }
  };
  const variables = { ids: [conv.id] };
  const open = transport === 'ws' ? openWs : openSse;
  const subs: Sub[] = [];
  const waitFor = (set: (w: { until: number; done: () => void } | null) => void, reached: () => boolean) =>
    function wait(until: number, ms: number): Promise<boolean> {
      if (reached()) return Promise.resolve(true);
      return new Promise<boolean>((resolveWait) => {
        const timer = setTimeout(() => {
          set(null);
          resolveWait(false);
        }, ms);
        set({
          until,
          done: () => {
            clearTimeout(timer);
            set(null);
            resolveWait(true);
          },
        });
      });
    };

  try {
    const t0 = performance.now();
    const BATCH = 250;
    for (let i = 0; i < n; i += BATCH) {
      const k = Math.min(BATCH, n - i);
      for (let j = 0; j < k; j++) {
        const sub: Sub = { last: -1, close: () => {} };
        sub.close = open(t, o.apiKey, variables, {
          open: onOpen,
          event: (d) => onEvent(sub, d),
          error: () => {
            errors++;
          },
        });
        subs.push(sub);
      }
      const target = subs.length;
      const wait = waitFor(
        (w) => (openWaiter = w),
        () => opened >= target,
      );
      if (!(await wait(target, 60_000))) break;
    }
    // The gateway's own count of watchers: every subscription is live at the gateway (none can miss a message).
    let subscribed = 0;
    for (let i = 0; i < 600; i++) {
      subscribed = metricValue(await scrape(t.url), 'switchboard_thread_event_subscribers') ?? -1;
      if (subscribed < 0 || subscribed >= subs.length) break;
      await sleep(100);
    }
    const connectSeconds = (performance.now() - t0) / 1000;

    let index = 0;
    /** One message at the emulator: resolves with its deliveries' latencies (ms after the trigger). */
    const oneMessage = async (expected: number, timeoutMs: number): Promise<number[]> => {
      const p: Pending = { index: index++, t0: 0, latencies: [], remaining: expected, done: () => {} };
      const done = new Promise<void>((resolveDone) => {
        p.done = resolveDone;
      });
      current = p;
      p.t0 = performance.now();
      const r = await o.sandbox.call<{ id?: unknown; error?: string }>('simulateIncoming', {
        source: 'chatwoot',
        conversationId: conv.control,
        content: `${CONTENT_PREFIX} ${run} ${p.index}`,
      });
      if (r?.id === undefined) throw new Error(`the Chatwoot emulator refused the message: ${JSON.stringify(r)}`);
      if (expected > 0) await Promise.race([done, sleep(timeoutMs)]);
      current = null;
      return p.latencies;
    };

    // Warm-up until every subscriber got a message (at most 5), then one more that all get: unmeasured.
    let warmups = 0;
    const waitReady = waitFor(
      (w) => (readyWaiter = w),
      () => ready >= subs.length,
    );
    while (ready < subs.length && warmups < 5) {
      await oneMessage(0, 0);
      warmups++;
      await waitReady(subs.length, 10_000);
    }
    await oneMessage(ready, 30_000);
    warmups++;
    await sleep(300);
    const mem1 = await t.child.call<NodeJS.MemoryUsage>('memory', { collect: true });

    const latencies: number[] = [];
    const perEvent: ThreadEventsRun['perEvent'] = [];
    let delivered = 0;
    let ran = 0;
    await o.sandbox.call('drain');
    await o.profile?.start();
    const cpu0 = await t.child.call<{ user: number; system: number }>('cpu');
    const self0 = process.cpuUsage();
    for (let e = 0; e < o.events && ready > 0; e++) {
      const got = await oneMessage(ready, 30_000);
      latencies.push(...got);
      perEvent.push(eventDeliveries(got));
      delivered += got.length;
      ran++;
      await sleep(300);
    }
    const cpu1 = await t.child.call<{ user: number; system: number }>('cpu');
    const self1 = process.cpuUsage(self0);
    await o.profile?.stop(`events.${t.name}.${transport}.${n}`);
    const { counts } = await o.sandbox.call<{ counts: RequestCounts }>('drain');
    const upstream = Object.entries(counts)
      .filter(([g]) => g.startsWith('webhook') || g.startsWith('live-'))
      .reduce((a, [, by]) => a + Object.values(by).reduce((x, y) => x + y, 0), 0);

    return {
      ...base,
      subscribed,
      ready,
      connectSeconds,
      warmups,
      events: ran,
      delivered,
      expected: ran * ready,
      duplicates,
      latency: summarize(latencies),
      perEvent,
      memory: subscriberMemory(mem0, mem1, ready),
      cpuUsPerDelivery: (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / Math.max(1, delivered),
      clientCpuUsPerDelivery: (self1.user + self1.system) / Math.max(1, delivered),
      upstreamPerMessage: upstream / Math.max(1, ran),
      errors,
    };
  } finally {
    for (const s of subs) s.close();
    // Let the gateway see every close before the next run measures its memory.
    for (let i = 0; i < 300; i++) {
      const left = metricValue(await scrape(t.url), 'switchboard_thread_event_subscribers');
      if (!left) break;
      await sleep(100);
    }
  }
}

interface SubHooks {
  open: () => void;
  event: (data: unknown) => void;
  error: () => void;
}

/** One graphql-ws client (one WebSocket) with one subscription; returns its close. */
function openWs(t: EventsTarget, apiKey: string, variables: Record<string, unknown>, h: SubHooks): () => void {
  const client = createClient({
    url: t.wsUrl,
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: { authorization: `Bearer ${apiKey}` },
    on: { connected: () => h.open() },
  });
  const unsubscribe = client.subscribe(
    { query: EVENTS_SUBSCRIPTION, variables },
    { next: (v) => h.event(v.data), error: () => h.error(), complete: () => {} },
  );
  return () => {
    unsubscribe();
    void client.dispose();
  };
}

/**
 * One GraphQL-over-SSE stream in graphql-sse's distinct connections mode: `POST /graphql`, `Accept:
 * text/event-stream`, then `event: next` messages whose `data:` is the ExecutionResult. Returns its close (the
 * client aborts the request: the gateway unsubscribes).
 */
function openSse(t: EventsTarget, apiKey: string, variables: Record<string, unknown>, h: SubHooks): () => void {
  const url = new URL(`${t.url}/graphql`);
  const body = JSON.stringify({ query: EVENTS_SUBSCRIPTION, variables });
  let res: IncomingMessage | null = null;
  let closed = false;
  const req: ClientRequest = request(
    {
      hostname: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      agent: false,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        accept: 'text/event-stream',
        authorization: `Bearer ${apiKey}`,
      },
    },
    (r) => {
      res = r;
      if (r.statusCode !== 200) {
        h.error();
        r.resume();
        return;
      }
      h.open();
      r.setEncoding('utf8');
      let buf = '';
      r.on('data', (chunk: string) => {
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const message = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (!message.startsWith('event: next')) continue;
          const data = message
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trimStart())
            .join('\n');
          try {
            h.event((JSON.parse(data) as { data?: unknown }).data);
          } catch {
            h.error();
          }
        }
      });
      r.on('error', () => {
        if (!closed) h.error();
      });
    },
  );
  req.on('error', () => {
    if (!closed) h.error();
  });
  req.end(body);
  return () => {
    closed = true;
    res?.destroy();
    req.destroy();
  };
}

/** The report's table: one row per transport and size. */
export function threadEventsTable(target: string, runs: ThreadEventsRun[]): string[][] {
  const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '–');
  return runs.map((r) =>
    r.skipped
      ? skippedRow(`events ${r.transport} ${r.subscribers}`, target, r.subscribers, THREAD_EVENTS_HEAD.length)
      : [
          `events ${r.transport} ${r.subscribers}`,
          target,
          String(r.subscribers),
          `${r.ready}`,
          `${r.delivered}/${r.expected}${r.duplicates ? ` (${r.duplicates} dup)` : ''}`,
          f(r.latency.p50, 1),
          f(r.latency.p99, 1),
          f(r.latency.max, 1),
          f(r.memory.heapPerSubscriberKB, 1),
          f(r.memory.rssPerSubscriberKB, 1),
          f(r.cpuUsPerDelivery, 1),
          f(r.clientCpuUsPerDelivery, 1),
        ],
  );
}

export const THREAD_EVENTS_HEAD = [
  'thread events',
  'target',
  'subs',
  'ready',
  'delivered',
  'p50 ms',
  'p99 ms',
  'max ms',
  'heap KB/sub',
  'rss KB/sub',
  'cpu µs/delivery',
  'client µs',
];
