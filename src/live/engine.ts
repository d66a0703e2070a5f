import type { Connector, SourceChange, SourceUnreadModel, UpstreamCall } from '../connectors/types';
import type { PubSubTransport } from './pubsub';

/**
 * # The live-update protocol
 *
 * The engine keeps each source's unread totals and tells subscribers about real changes only.
 *
 * Topics (through the PubSubTransport, so every instance sharing Redis sees them):
 * - `unread:<sourceId>` → `{ sourceId, total, conversationsWithUnread }`, the new full value, published only
 *   when it differs from the last value this engine saw.
 * - `conversation:<sourceId>` → `{ sourceId, conversationNativeId }`, published when a conversation's unread
 *   count, last message or status may have changed (a gateway mutation, a webhook, a poll that saw a change).
 *
 * Change detection, per source:
 * - the gateway's own mutations call {@link LiveEngine.touch} at once;
 * - WEBHOOK sources: `/webhooks/<source id>` → connector.parseWebhook → {@link LiveEngine.ingest}
 *   (deduplicated by event id);
 * - POLLING sources: one poller per source, running only while somebody watches it, whatever the number of
 *   watchers, every `pollIntervalMs`.
 *
 * Subscribers get the current value first (see the Subscription resolvers), then each change.
 */
export interface LiveEngineOptions {
  connectors: Connector[];
  pubsub: PubSubTransport;
  /** Poll interval per source id (POLLING sources). */
  pollIntervalMs: (sourceId: string) => number;
  /** Reports background failures (logged by the server). */
  onError?: (error: unknown, sourceId: string) => void;
  /** Optional counters (the server feeds them to its metrics registry; the engine knows no metrics library). */
  metrics?: LiveEngineMetrics;
}

/** What the engine reports to metrics, when asked to. */
export interface LiveEngineMetrics {
  /** Each upstream call of the engine's own sessions (refreshes and polls), with the session's request id. */
  upstream?(call: UpstreamCall, requestId: string): void;
  /** One poll tick of a POLLING source ended. */
  poll?(sourceId: string, outcome: 'ok' | 'error'): void;
  /** A new unread total of a source was published. */
  unreadChanged?(sourceId: string): void;
}

type Listener<T> = (value: T) => void;

export class LiveEngine {
  private readonly connectors: Map<string, Connector>;
  private readonly last = new Map<string, SourceUnreadModel | null>();
  private readonly pollers = new Map<string, { refs: number; timer: NodeJS.Timeout }>();
  private readonly inflight = new Map<string, { promise: Promise<void>; again: boolean }>();
  private readonly seenEvents = new Map<string, number>();
  /** Watchers per source: while a source is watched, its cached totals are kept fresh. */
  private readonly watchers = new Map<string, number>();
  private closed = false;
  private seq = 0;

  constructor(private readonly opts: LiveEngineOptions) {
    this.connectors = new Map(opts.connectors.map((c) => [c.id, c]));
  }

  /**
   * The current totals of a source; null when it has no read state. Served from the cache while somebody
   * already watches the source (pollers and webhooks keep it fresh), read from the source otherwise.
   */
  async current(sourceId: string): Promise<SourceUnreadModel | null> {
    if (!this.last.has(sourceId) || !this.isFresh(sourceId)) await this.refresh(sourceId);
    return this.last.get(sourceId) ?? null;
  }

  private isFresh(sourceId: string): boolean {
    // The caller itself is one watcher; another one means updates have been flowing.
    return (this.watchers.get(sourceId) ?? 0) > 1;
  }

  /**
   * Re-reads a source's totals and publishes them if they changed. Concurrent calls coalesce: at most one
   * read in flight per source, plus one more if something changed meanwhile.
   */
  refresh(sourceId: string): Promise<void> {
    const running = this.inflight.get(sourceId);
    if (running) {
      running.again = true;
      return running.promise;
    }
    const entry = { promise: Promise.resolve(), again: false };
    entry.promise = (async () => {
      try {
        do {
          entry.again = false;
          await this.readOnce(sourceId);
        } while (entry.again && !this.closed);
      } finally {
        this.inflight.delete(sourceId);
      }
    })();
    this.inflight.set(sourceId, entry);
    return entry.promise;
  }

  private async readOnce(sourceId: string): Promise<void> {
    const connector = this.connectors.get(sourceId);
    if (!connector || !connector.capabilities.unreadCounts) {
      this.last.set(sourceId, null);
      return;
    }
    const requestId = `live-${sourceId}-${++this.seq}`;
    const m = this.opts.metrics;
    const session = connector.openSession({ requestId, recordUpstream: m?.upstream && ((call) => m.upstream?.(call, requestId)) });
    const next = await session.unreadCount();
    const prev = this.last.get(sourceId);
    this.last.set(sourceId, next);
    const changed =
      prev === undefined ||
      (prev === null) !== (next === null) ||
      (prev && next && (prev.total !== next.total || prev.conversationsWithUnread !== next.conversationsWithUnread));
    if (changed && prev !== undefined && next) {
      await this.opts.pubsub.publish(`unread:${sourceId}`, next);
      this.opts.metrics?.unreadChanged?.(sourceId);
    }
  }

  /** A mutation through the gateway changed something: refresh now and announce the conversation. */
  async touch(sourceId: string, conversationNativeId: string | null): Promise<void> {
    if (conversationNativeId) {
      await this.opts.pubsub.publish(`conversation:${sourceId}`, { sourceId, conversationNativeId });
    }
    await this.refresh(sourceId).catch((e: unknown) => this.opts.onError?.(e, sourceId));
  }

  /** Changes a webhook reported; repeats of an event id within a day are ignored. Returns how many were new. */
  async ingest(changes: SourceChange[]): Promise<number> {
    const now = Date.now();
    const fresh = changes.filter((c) => {
      if (!c.eventId) return true;
      const key = `${c.sourceId}:${c.eventId}`;
      if (this.seenEvents.has(key)) return false;
      this.seenEvents.set(key, now);
      return true;
    });
    if (this.seenEvents.size > 100_000) {
      for (const [k, t] of this.seenEvents) if (now - t > 86_400_000) this.seenEvents.delete(k);
    }
    const sources = new Set<string>();
    const bySource = new Map<string, SourceChange[]>();
    for (const c of fresh) bySource.set(c.sourceId, [...(bySource.get(c.sourceId) ?? []), c]);
    await Promise.all(
      [...bySource].map(([sourceId, list]) =>
        this.connectors.get(sourceId)?.applyChanges?.(list).catch((e: unknown) => this.opts.onError?.(e, sourceId)),
      ),
    );
    for (const c of fresh) {
      sources.add(c.sourceId);
      if (c.conversationNativeId) {
        await this.opts.pubsub.publish(`conversation:${c.sourceId}`, {
          sourceId: c.sourceId,
          conversationNativeId: c.conversationNativeId,
        });
      }
    }
    await Promise.all([...sources].map((s) => this.refresh(s).catch((e: unknown) => this.opts.onError?.(e, s))));
    return fresh.length;
  }

  /** Watches unread totals of sources; starts their pollers. Resolves to an unsubscribe function. */
  async watchUnread(sourceIds: string[], onChange: Listener<SourceUnreadModel>): Promise<() => Promise<void>> {
    const subs = await Promise.all(
      sourceIds.map((s) => this.opts.pubsub.subscribe(`unread:${s}`, (p) => onChange(p as SourceUnreadModel))),
    );
    for (const s of sourceIds) this.acquirePoller(s);
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      for (const s of sourceIds) this.releasePoller(s);
      await Promise.all(subs.map((u) => u()));
    };
  }

  /** Watches conversation changes of sources; starts their pollers. */
  async watchConversations(
    sourceIds: string[],
    onChange: Listener<{ sourceId: string; conversationNativeId: string }>,
  ): Promise<() => Promise<void>> {
    const subs = await Promise.all(
      sourceIds.map((s) =>
        this.opts.pubsub.subscribe(`conversation:${s}`, (p) => onChange(p as { sourceId: string; conversationNativeId: string })),
      ),
    );
    for (const s of sourceIds) this.acquirePoller(s);
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      for (const s of sourceIds) this.releasePoller(s);
      await Promise.all(subs.map((u) => u()));
    };
  }

  /** How many pollers run (for metrics and tests). */
  activePollers(): string[] {
    return [...this.pollers.keys()];
  }

  private acquirePoller(sourceId: string) {
    this.watchers.set(sourceId, (this.watchers.get(sourceId) ?? 0) + 1);
    const c = this.connectors.get(sourceId);
    if (!c || c.capabilities.realtime !== 'POLLING' || !c.capabilities.unreadCounts) return;
    const p = this.pollers.get(sourceId);
    if (p) {
      p.refs++;
      return;
    }
    const timer = setInterval(() => {
      this.refresh(sourceId).then(
        () => this.opts.metrics?.poll?.(sourceId, 'ok'),
        (e: unknown) => {
          this.opts.metrics?.poll?.(sourceId, 'error');
          this.opts.onError?.(e, sourceId);
        },
      );
    }, this.opts.pollIntervalMs(sourceId));
    timer.unref();
    this.pollers.set(sourceId, { refs: 1, timer });
  }

  private releasePoller(sourceId: string) {
    const w = (this.watchers.get(sourceId) ?? 1) - 1;
    if (w <= 0) this.watchers.delete(sourceId);
    else this.watchers.set(sourceId, w);
    const p = this.pollers.get(sourceId);
    if (!p) return;
    if (--p.refs <= 0) {
      clearInterval(p.timer);
      this.pollers.delete(sourceId);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.pollers.values()) clearInterval(p.timer);
    this.pollers.clear();
    await Promise.allSettled([...this.inflight.values()].map((i) => i.promise));
  }
}
