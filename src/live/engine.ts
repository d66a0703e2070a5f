import type { Connector, SourceChange, SourceUnreadModel } from '../connectors/types';
import { createLiveContext, type LiveEngineMetrics } from './context';
import { ConversationFeed, type ConversationEvent } from './conversationFeed';
import { createMemoryCoordination, type LiveCoordination } from './coordination';
import type { Redis } from 'ioredis';
import type { RedisGuard } from '../connectors/catalog-stores/redis';
import { MemoryEventLog, type EventLog, type EventLogOptions } from './eventLog';
import { eventsOfChange, fromWire, ThreadEvents, type DeliveredEvent, type ThreadEvent } from './events';
import { WebhookIngest } from './ingest';
import { Pollers } from './pollers';
import { eventsTopic } from './protocol';
import type { PubSubTransport } from './pubsub';
import { RedisEventLog } from './redisEventLog';
import { UnreadTotals, type FailureListener } from './unreadTotals';

export type { ConversationEvent } from './conversationFeed';
export type { LiveEngineMetrics } from './context';
export type { DeliveredEvent, ThreadEvent } from './events';

/** How the server builds the engine. */
export interface LiveEngineOptions {
  connectors: Connector[];
  pubsub: PubSubTransport;
  /** Configured poll interval per source id (POLLING sources). */
  pollIntervalMs: (sourceId: string) => number;
  /** Leases, seen event ids and last published totals; in memory (one instance) unless given. */
  coordination?: LiveCoordination;
  /**
   * Time to live of a source's poll lease; its holder renews it every third of that. @default max(3 × the
   * source's poll interval, 5 s)
   */
  leaseMs?: (sourceId: string) => number;
  /** Reports background failures (logged by the server). */
  onError?: (error: unknown, sourceId: string) => void;
  /** Optional counters (the server feeds them to its metrics registry; the engine knows no metrics library). */
  metrics?: LiveEngineMetrics & ThreadEventMetrics;
  /** docs/live.md "Event log": bounds of the thread events kept per source. @default 1000 events, 10 minutes */
  eventLog?: Partial<Omit<EventLogOptions, 'now'>>;
  /**
   * docs/live.md "Event log": keep the log in Redis streams (shared by every instance, so a cursor resumes on any
   * of them) instead of in memory; `health` makes it fall back while Redis is down.
   */
  eventLogRedis?: { redis: Redis; prefix: string; health?: RedisGuard };
}

/**
 * Thread-event counts the server exports (server/metrics.ts, issue 14): events this instance published on
 * `events:<source>` (after the once-per-identity claim, so a dropped echo is not counted), its watchers, the
 * events it replayed to resuming subscribers and the ResyncRequired notices it sent.
 */
export interface ThreadEventMetrics {
  threadEventPublished?(sourceId: string, kind: string): void;
  threadEventWatchers?(delta: 1 | -1): void;
  threadEventReplayed?(sourceId: string): void;
  threadEventResync?(reason: string): void;
}

/**
 * The live engine: unread totals and conversation changes of every source, pushed to subscribers on one gateway
 * instance or on many sharing Redis. docs/live.md is its protocol (topics, what each instance does, ordering,
 * leases, what Redis holds, poller states, failure and repair); this class only wires its four parts together:
 *
 * - {@link UnreadTotals} (unreadTotals.ts): the cached totals per source, coalesced reads, publication of real
 *   changes on `unread:<source>`, repair of a webhook source's totals;
 * - {@link WebhookIngest} (ingest.ts): dedupe of webhook deliveries and events, batches applied per source;
 * - {@link ConversationFeed} (conversationFeed.ts): `conversation:<source>` announcements and their fan-out;
 * - {@link Pollers} (pollers.ts): one poller per watched pollable source, polling while it holds the lease.
 */
export class LiveEngine {
  private readonly ctx: ReturnType<typeof createLiveContext>;
  private readonly totals: UnreadTotals;
  private readonly feed: ConversationFeed;
  private readonly webhooks: WebhookIngest;
  private readonly pollers: Pollers;
  private readonly events: ThreadEvents;

  /** Per source: when this instance's poller polled successfully first since it last stopped or failed (pollingSince). */
  private readonly polledSince = new Map<string, number>();
  private readonly eventMetrics: ThreadEventMetrics | undefined;

  constructor(opts: LiveEngineOptions) {
    this.eventMetrics = opts.metrics;
    const metrics: LiveEngineMetrics = {
      ...opts.metrics,
      poll: (sourceId, outcome) => {
        if (outcome === 'ok') {
          if (!this.polledSince.has(sourceId)) this.polledSince.set(sourceId, Date.now());
        } else this.polledSince.delete(sourceId);
        opts.metrics?.poll?.(sourceId, outcome);
      },
    };
    this.ctx = createLiveContext({
      ...opts,
      pubsub: countPublishedEvents(opts.pubsub, opts.metrics),
      metrics,
      coordination: opts.coordination ?? createMemoryCoordination(),
    });
    this.totals = new UnreadTotals(this.ctx);
    this.feed = new ConversationFeed(this.ctx);
    this.webhooks = new WebhookIngest(this.ctx, this.feed, this.totals);
    // A poll's thread events go through the same once-per-identity publication as the gateway's own writes.
    this.pollers = new Pollers(this.ctx, this.feed, this.totals, opts, (events) => this.events.publish(events));
    this.events = new ThreadEvents(
      this.ctx,
      opts.connectors.map((c) => c.id),
      eventLog(opts, (e, s) => this.ctx.report(e, s)),
    );
  }

  /**
   * Thread events of the gateway's own writes (docs/live.md "Thread events"): published at once, and once per
   * event across instances, so the vendor's webhook echo of the same message adds nothing.
   */
  publishEvents(events: ThreadEvent[]): Promise<void> {
    return this.events.publish(events);
  }

  /**
   * Watches thread events of sources (docs/live.md "Cursors"): with `after`, the events since that cursor first
   * (or ResyncRequired), then live ones. Resolves to an unsubscribe function.
   */
  async watchEvents(
    sourceIds: string[],
    after: string | null,
    onEvent: (e: DeliveredEvent) => void,
  ): Promise<() => Promise<void>> {
    await this.events.ready;
    const stop = this.countedWatch(sourceIds, after, onEvent);
    // docs/live.md "Thread events": a polling source's events come from its poller, which runs while watched.
    const polled = sourceIds.filter(
      (s) => this.ctx.connectors.get(s)?.capabilities.realtime === 'POLLING' && this.pollers.acquire(s, true),
    );
    return once(async () => {
      stop();
      for (const s of polled) {
        this.pollers.release(s, true);
        if (!this.pollers.active().includes(s)) this.polledSince.delete(s);
      }
    });
  }

  /**
   * The current totals of a source; null when it has no read state. Served from the cache while somebody else
   * on this instance already watches the source, read from the source otherwise (docs/live.md "Unread totals").
   */
  current(sourceId: string): Promise<SourceUnreadModel | null> {
    return this.totals.current(sourceId);
  }

  /** Re-reads a source's totals and publishes them if they changed; concurrent calls coalesce. */
  refresh(sourceId: string): Promise<void> {
    return this.totals.refresh(sourceId);
  }

  /** A mutation through the gateway changed something: announce the conversation, refresh the totals now. */
  async touch(sourceId: string, conversationNativeId: string | null): Promise<void> {
    if (conversationNativeId) await this.feed.publish(sourceId, conversationNativeId);
    else this.feed.changed(sourceId, null);
    await this.totals.refresh(sourceId).catch((e: unknown) => this.ctx.report(e, sourceId));
  }

  /**
   * Changes a webhook reported (docs/live.md "Webhook ingest"). Each event id is applied once across instances
   * within a day; the rest are batched per source, applied, announced and followed by a re-read of the totals.
   * Resolves once the batch holding these changes is done. Returns how many were new.
   */
  ingest(changes: SourceChange[]): Promise<number> {
    const events = changes.flatMap((c) => (c.events ?? []).map((e) => eventsOfChange(c.sourceId, e)));
    if (events.length > 0)
      void this.events.publish(events).catch((e: unknown) => this.ctx.report(e, events[0]!.sourceId));
    return this.webhooks.ingest(changes);
  }

  /**
   * Claims a webhook delivery's own keys (a vendor's delivery id, its signature) for `ttlMs` across instances:
   * true when none of them was seen before, false for a replay (the caller refuses it).
   */
  claimDelivery(sourceId: string, keys: string[], ttlMs: number): Promise<boolean> {
    return this.webhooks.claimDelivery(sourceId, keys, ttlMs);
  }

  /**
   * Watches unread totals of sources; starts their pollers. `onFailure` hears, once per failure episode, of a
   * source whose totals could not be re-read (docs/live.md "Failure and repair"). Resolves to an unsubscribe
   * function.
   */
  async watchUnread(
    sourceIds: string[],
    onChange: (value: SourceUnreadModel) => void,
    onFailure?: FailureListener,
  ): Promise<() => Promise<void>> {
    await this.totals.ready;
    const stopListening = this.totals.listen(sourceIds, onChange, onFailure);
    for (const s of sourceIds) this.watch(s);
    return once(async () => {
      stopListening();
      for (const s of sourceIds) this.unwatch(s);
    });
  }

  /** Watches conversation changes of sources; starts their pollers. Resolves to an unsubscribe function. */
  async watchConversations(
    sourceIds: string[],
    onChange: (event: ConversationEvent) => void,
  ): Promise<() => Promise<void>> {
    await Promise.all(sourceIds.map((s) => this.feed.join(s, onChange)));
    for (const s of sourceIds) this.watch(s);
    return once(async () => {
      for (const s of sourceIds) this.unwatch(s);
      await Promise.all(sourceIds.map((s) => this.feed.leave(s, onChange)));
    });
  }

  /**
   * Calls `listener` with every change this instance hears of, before it is announced: each conversation a webhook
   * batch, a poll or a gateway mutation (`touch`) names, and null for a change of the source that names none.
   * Changes heard by other instances arrive only on the pub/sub topics. Returns the function that stops it.
   */
  onChange(listener: (sourceId: string, conversationNativeId: string | null) => void): () => void {
    return this.feed.onChange(listener);
  }

  /**
   * Since when (epoch ms, this process's clock) this instance polls the source without a break: the end of its
   * poller's first successful poll since the poller started, lost the lease or failed; null while it does not
   * poll. Changes made after that reach {@link onChange} within a poll interval.
   */
  pollingSince(sourceId: string): number | null {
    const since = this.polledSince.get(sourceId);
    if (since === undefined) return null;
    if (!this.pollers.holding().includes(sourceId)) {
      this.polledSince.delete(sourceId);
      return null;
    }
    return since;
  }

  /** Sources whose poller runs on this instance (holding the lease or standing by), for metrics and tests. */
  activePollers(): string[] {
    return this.pollers.active();
  }

  /** Sources this instance is polling now (it holds their lease). */
  pollingSources(): string[] {
    return this.pollers.holding();
  }

  /** ThreadEvents.watch, counted (ThreadEventMetrics): replays are the events delivered before it returns. */
  private countedWatch(sourceIds: string[], after: string | null, onEvent: (e: DeliveredEvent) => void): () => void {
    const m = this.eventMetrics;
    if (!m) return this.events.watch(sourceIds, after, onEvent);
    let replaying = true;
    const stop = this.events.watch(sourceIds, after, (e) => {
      if (e.kind === 'ResyncRequired') m.threadEventResync?.(e.reason);
      else if (replaying || e.replayed) m.threadEventReplayed?.(e.event.sourceId);
      onEvent(e);
    });
    replaying = false;
    m.threadEventWatchers?.(1);
    let stopped = false;
    return () => {
      stop();
      if (!stopped) m.threadEventWatchers?.(-1);
      stopped = true;
    };
  }

  private watch(sourceId: string) {
    this.ctx.watchers.add(sourceId);
    this.pollers.acquire(sourceId);
  }

  private unwatch(sourceId: string) {
    this.ctx.watchers.remove(sourceId);
    this.pollers.release(sourceId);
    if (!this.pollers.active().includes(sourceId)) this.polledSince.delete(sourceId);
  }

  /** docs/live.md "What each instance does": closing hands every lease over at once. */
  async close(): Promise<void> {
    if (this.ctx.closed()) return;
    this.ctx.close();
    this.totals.stopRepairs();
    await this.pollers.close();
    await this.totals.settled();
    await this.webhooks.settled();
    // Leases released, so another instance takes over polling at once.
    await this.ctx.coordination.close().catch(() => undefined);
    const subscriptions = [
      ...(await this.totals.close()),
      ...(await this.feed.close()),
      ...(await this.events.close()),
    ];
    await Promise.allSettled(subscriptions.map((u) => u?.()));
  }
}

/** The engine's pub/sub, counting each thread event as it reaches `events:<source>` (ThreadEventMetrics). */
function countPublishedEvents(pubsub: PubSubTransport, m: ThreadEventMetrics | undefined): PubSubTransport {
  const count = m?.threadEventPublished;
  if (!count) return pubsub;
  const prefix = eventsTopic('');
  return {
    async publish(topic, payload) {
      await pubsub.publish(topic, payload);
      const kind = (payload as { kind?: unknown } | null)?.kind;
      if (topic.startsWith(prefix) && typeof kind === 'string') count(topic.slice(prefix.length), kind);
    },
    subscribe: (topic, onMessage) => pubsub.subscribe(topic, onMessage),
    close: () => pubsub.close(),
  };
}

/** docs/live.md "Event log": a Redis stream per source when the engine is given Redis, else in memory. */
function eventLog(opts: LiveEngineOptions, onError: (e: unknown, sourceId: string) => void): EventLog<ThreadEvent> {
  const bounds = { maxLength: 1000, maxAgeMs: 600_000, ...opts.eventLog };
  if (!opts.eventLogRedis) return new MemoryEventLog<ThreadEvent>(bounds);
  return new RedisEventLog<ThreadEvent>({
    ...opts.eventLogRedis,
    maxLength: bounds.maxLength,
    maxAgeMs: bounds.maxAgeMs,
    decode: fromWire,
    onError,
  });
}

/** An unsubscribe function that acts once. */
function once(f: () => Promise<void>): () => Promise<void> {
  let done = false;
  return async () => {
    if (done) return;
    done = true;
    await f();
  };
}
