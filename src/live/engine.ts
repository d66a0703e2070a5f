import type { Connector, ConversationModel, SourceChange, SourceUnreadModel, UpstreamCall } from '../connectors/types';
import { ErrorCode, GatewayError } from '../errors';
import { createMemoryCoordination, type LiveCoordination } from './coordination';
import type { PubSubTransport } from './pubsub';

/**
 * # The live-update protocol
 *
 * The engine keeps each source's unread totals and tells subscribers about real changes only, on one gateway
 * instance or on many sharing Redis.
 *
 * Topics (through the PubSubTransport, so every instance sharing Redis sees them):
 * - `unread:<sourceId>` → `{ sourceId, total, conversationsWithUnread, asOf }`, the new full value, published
 *   only when it differs from the last value any instance recorded (see coordination.ts: an atomic
 *   compare-and-set over the last published totals, so a change is published once whichever instance reads it,
 *   and a read that started before an already recorded one is dropped). `asOf` is when the read started (epoch
 *   ms on the shared clock: Redis `TIME` with Redis); receivers ignore a message older than one they already
 *   have.
 * - `conversation:<sourceId>` → `{ sourceId, conversationNativeId }`, published when a conversation's unread
 *   count, last message or status may have changed (a gateway mutation, a webhook, a poll that saw a change).
 *
 * Every engine subscribes to `unread:<source>` of every source with unread counts for its whole life and keeps
 * its cached totals (`current()`) equal to what any instance published; subscribers are fanned out from that one
 * subscription per source, and from one `conversation:<source>` subscription per source while somebody on this
 * instance watches it (the conversation is then read once per event on this instance, whatever the number of
 * its subscribers).
 *
 * Change detection, per source:
 * - the gateway's own mutations call {@link LiveEngine.touch} at once;
 * - WEBHOOK sources: `/webhooks/<source id>` → connector.parseWebhook → {@link LiveEngine.ingest}: each event id
 *   is applied once across instances (a day's memory, in Redis when configured); the accepted changes of a
 *   source are batched (one batch runs, the next collects what arrives meanwhile), given to
 *   `connector.applyChanges` (retried twice on failure), announced on `conversation:<source>`, and the totals are
 *   re-read;
 * - POLLING sources: one poller per source, running only while somebody on this instance subscribes to it
 *   (`unreadCountChanged` or `conversationChanged`), whatever the number of subscribers, and across instances
 *   only on the one holding the source's poll lease (`poll:<source>`, coordination.ts; the others stand by and
 *   check every min(interval, lease / 4), so a dead holder's lease is taken over about one lease time later and
 *   a closed holder's at once). Each tick: `connector.poll()` → its changed conversations on
 *   `conversation:<source>`, then the totals are re-read when the poll reported anything (a change without a
 *   conversation means "totals may have moved") or when this instance just took the lease. A connector without
 *   `poll()` has its totals re-read every tick. Ticks are a setTimeout chain: the next is scheduled when one
 *   ends, after `max(pollIntervalMs, connector.minPollIntervalMs())`; on errors after an exponential backoff
 *   with jitter (interval × 2^failures, capped at max(interval, 60 s)), and after Retry-After when the error is
 *   SOURCE_RATE_LIMITED with `retryAfter`.
 *
 * Subscribers get the current value first (see the Subscription resolvers), then each change.
 */
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

/** A `conversation:<source>` event as subscribers on this instance see it. */
export interface ConversationEvent {
  sourceId: string;
  conversationNativeId: string;
  /**
   * The conversation as it is now, with its participants, last message and unread count filled in; read once
   * per event on this instance however many subscribers ask. Null when it is gone or cannot be read.
   */
  load(): Promise<ConversationModel | null>;
}

type Listener<T> = (value: T) => void;

/** Webhook event ids are remembered this long (vendors retry within hours, not days). */
const EVENT_TTL_MS = 86_400_000;
/** Longest pause between poll attempts after errors (unless the interval itself is longer). */
const MAX_BACKOFF_MS = 60_000;
/** Shortest default lease: a lease of a fast poller must survive a slow Redis round trip or a GC pause. */
const MIN_DEFAULT_LEASE_MS = 5_000;
/** Delays before retrying a failed `applyChanges` batch. */
const APPLY_RETRY_MS = [250, 1000];
/** Backoff of a webhook source's totals after a failed re-read (see refreshOrRepair). */
const REPAIR_BASE_MS = 1000;
const REPAIR_MAX_MS = 30_000;

interface PollRun {
  sourceId: string;
  refs: number;
  timer: NodeJS.Timeout | null;
  tick: Promise<void> | null;
  failures: number;
  /** This run holds the lease since its last tick (false: the next held tick is the first). */
  held: boolean;
  stopped: boolean;
}

interface ApplyQueue {
  pending: SourceChange[];
  /** The batch waiting for the running one to end; it takes everything pending when it starts. */
  queued: Promise<void> | null;
  running: Promise<void>;
}

interface UnreadMessage extends SourceUnreadModel {
  asOf: number;
}

function isUnreadMessage(p: unknown): p is UnreadMessage {
  const o = p as Partial<UnreadMessage> | null;
  return (
    !!o &&
    typeof o.sourceId === 'string' &&
    typeof o.total === 'number' &&
    typeof o.conversationsWithUnread === 'number'
  );
}

function isConversationMessage(p: unknown): p is { sourceId: string; conversationNativeId: string } {
  const o = p as { sourceId?: unknown; conversationNativeId?: unknown } | null;
  return !!o && typeof o.sourceId === 'string' && typeof o.conversationNativeId === 'string';
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

export class LiveEngine {
  private readonly connectors: Map<string, Connector>;
  private readonly coordination: LiveCoordination;
  /** The latest totals per source: from this engine's reads and from every instance's publications. */
  private readonly last = new Map<string, SourceUnreadModel | null>();
  /** `asOf` of the latest totals in {@link last}. */
  private readonly lastAsOf = new Map<string, number>();
  private readonly unreadListeners = new Map<string, Set<Listener<SourceUnreadModel>>>();
  private readonly conversationTopics = new Map<
    string,
    { listeners: Set<Listener<ConversationEvent>>; subscribed: Promise<() => Promise<void>> }
  >();
  private readonly pollers = new Map<string, PollRun>();
  private readonly inflight = new Map<string, { promise: Promise<void>; again: boolean }>();
  private readonly applyQueues = new Map<string, ApplyQueue>();
  /** Conversations a poll of this instance just read in full, keyed by source and id, for the next event of each. */
  private readonly pollHints = new Map<string, ConversationModel>();
  /** Watchers per source on this instance: while a source is watched, its cached totals are kept fresh. */
  private readonly watchers = new Map<string, number>();
  /** The engine's own `unread:<source>` subscriptions. */
  private readonly ready: Promise<Array<() => Promise<void>>>;
  private closed = false;
  /** Webhook sources whose totals could not be re-read, with their pending retry. */
  private readonly repairs = new Map<string, { n: number; timer: NodeJS.Timeout | null }>();
  private seq = 0;

  constructor(private readonly opts: LiveEngineOptions) {
    this.connectors = new Map(opts.connectors.map((c) => [c.id, c]));
    this.coordination = opts.coordination ?? createMemoryCoordination();
    const unreadSources = opts.connectors.filter((c) => c.capabilities.unreadCounts).map((c) => c.id);
    this.ready = Promise.all(
      unreadSources.map((s) => opts.pubsub.subscribe(`unread:${s}`, (p) => this.onUnreadMessage(s, p))),
    );
    // Surfaced by watchUnread; never an unhandled rejection.
    this.ready.catch((e: unknown) => unreadSources.forEach((s) => opts.onError?.(e, s)));
  }

  private onUnreadMessage(sourceId: string, payload: unknown) {
    if (!isUnreadMessage(payload) || payload.sourceId !== sourceId) return;
    const asOf = typeof payload.asOf === 'number' ? payload.asOf : 0;
    // Older than what this engine already has: a publication overtaken by a newer one on the way.
    if (asOf < (this.lastAsOf.get(sourceId) ?? 0)) return;
    // The same totals keep the same object, and every listener gets that one object (the fan-out shares payloads
    // by identity: server/fanout.ts).
    const prev = this.last.get(sourceId);
    const value: SourceUnreadModel =
      prev && prev.total === payload.total && prev.conversationsWithUnread === payload.conversationsWithUnread
        ? prev
        : { sourceId, total: payload.total, conversationsWithUnread: payload.conversationsWithUnread };
    this.last.set(sourceId, value);
    this.lastAsOf.set(sourceId, asOf);
    for (const l of this.unreadListeners.get(sourceId) ?? []) l(value);
  }

  /**
   * The current totals of a source; null when it has no read state. Served from the cache while somebody else
   * on this instance already watches the source (pollers, webhooks and other instances' publications keep it
   * fresh), read from the source otherwise.
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

  private openSession(connector: Connector) {
    const requestId = `live-${connector.id}-${++this.seq}`;
    const m = this.opts.metrics;
    return connector.openSession({
      requestId,
      recordUpstream: m?.upstream && ((call) => m.upstream?.(call, requestId)),
    });
  }

  private async readOnce(sourceId: string): Promise<void> {
    const connector = this.connectors.get(sourceId);
    if (!connector || !connector.capabilities.unreadCounts) {
      this.last.set(sourceId, null);
      return;
    }
    // When the read starts, on the clock every instance shares (Redis TIME with Redis).
    const asOf = await this.coordination.now();
    const next = await this.openSession(connector).unreadCount();
    if (!next) {
      this.last.set(sourceId, null);
      return;
    }
    const prev = this.last.get(sourceId);
    const value: SourceUnreadModel =
      prev && prev.total === next.total && prev.conversationsWithUnread === next.conversationsWithUnread
        ? prev
        : { sourceId, total: next.total, conversationsWithUnread: next.conversationsWithUnread };
    const record = await this.coordination.recordUnread(
      sourceId,
      JSON.stringify([value.total, value.conversationsWithUnread]),
      asOf,
    );
    // A read that started before one already recorded (here or on another instance) tells nothing new, unless
    // this engine has nothing at all yet (a first subscriber's current value).
    if (record === 'stale') {
      if (!this.last.get(sourceId)) this.last.set(sourceId, value);
      return;
    }
    if (asOf >= (this.lastAsOf.get(sourceId) ?? 0)) {
      this.last.set(sourceId, value);
      this.lastAsOf.set(sourceId, asOf);
    }
    if (record === 'changed') {
      const message: UnreadMessage = { ...value, asOf };
      await this.opts.pubsub.publish(`unread:${sourceId}`, message);
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

  /**
   * Changes a webhook reported. Each event id is applied once across instances within a day; the rest are
   * batched per source, applied, announced and followed by a re-read of the totals. Resolves once the batch
   * holding these changes is done. Returns how many were new.
   */
  async ingest(changes: SourceChange[]): Promise<number> {
    const keyed = changes.filter((c) => c.eventId);
    const firsts = await this.coordination.firstSeen(
      keyed.map((c) => `${c.sourceId}:${c.eventId as string}`),
      EVENT_TTL_MS,
    );
    const isNew = new Map(keyed.map((c, i) => [c, firsts[i] === true]));
    const fresh = changes.filter((c) => !c.eventId || isNew.get(c));
    const bySource = new Map<string, SourceChange[]>();
    for (const c of fresh) bySource.set(c.sourceId, [...(bySource.get(c.sourceId) ?? []), c]);
    await Promise.all([...bySource].map(([sourceId, list]) => this.enqueueApply(sourceId, list)));
    return fresh.length;
  }

  /**
   * Claims a webhook delivery's own keys (a vendor's delivery id, its signature) for `ttlMs` across instances:
   * true when none of them was seen before, false for a replay (the caller refuses it).
   */
  async claimDelivery(sourceId: string, keys: string[], ttlMs: number): Promise<boolean> {
    const firsts = await this.coordination.firstSeen(
      keys.map((k) => `${sourceId}:delivery:${k}`),
      ttlMs,
    );
    return firsts.every((f) => f);
  }

  private enqueueApply(sourceId: string, changes: SourceChange[]): Promise<void> {
    let q = this.applyQueues.get(sourceId);
    if (!q) {
      q = { pending: [], queued: null, running: Promise.resolve() };
      this.applyQueues.set(sourceId, q);
    }
    const queue = q;
    queue.pending.push(...changes);
    queue.queued ??= queue.running.then(async () => {
      queue.queued = null;
      const batch = queue.pending.splice(0);
      queue.running = this.applyBatch(sourceId, batch);
      await queue.running;
    });
    return queue.queued;
  }

  /** One batch of webhook changes of a source: apply (with retries), announce, re-read totals. Never rejects. */
  private async applyBatch(sourceId: string, batch: SourceChange[]): Promise<void> {
    if (batch.length === 0) return;
    const connector = this.connectors.get(sourceId);
    if (!connector) return;
    // One change per conversation; a change without one ("something changed") is kept once.
    const byConversation = new Map<string | null, SourceChange>();
    for (const c of batch) byConversation.set(c.conversationNativeId, c);
    const changes = [...byConversation.values()];
    if (connector.applyChanges) {
      for (let attempt = 0; ; attempt++) {
        try {
          await connector.applyChanges(changes);
          break;
        } catch (e) {
          this.opts.onError?.(e, sourceId);
          const wait = APPLY_RETRY_MS[attempt];
          if (wait === undefined || this.closed) {
            // The changes are lost: make the connector re-sync on its next read rather than serve stale rows.
            await connector.applyChanges([{ sourceId, conversationNativeId: null }]).catch(() => undefined);
            break;
          }
          await sleep(wait);
        }
      }
    }
    await this.announce(sourceId, changes);
    if (connector.capabilities.unreadCounts) await this.refreshOrRepair(sourceId);
  }

  /**
   * Re-reads a webhook source's totals; when that fails (the source is down or rate-limiting), tries again with
   * backoff while anybody still watches the source, so that pushed totals converge once the source recovers.
   * POLLING sources need none of this: their poller retries anyway.
   */
  private async refreshOrRepair(sourceId: string): Promise<void> {
    try {
      await this.refresh(sourceId);
      this.repairs.delete(sourceId);
    } catch (e) {
      this.opts.onError?.(e, sourceId);
      if (this.closed || this.repairs.has(sourceId)) return;
      const attempt = { n: 0, timer: null as NodeJS.Timeout | null };
      this.repairs.set(sourceId, attempt);
      const retry = () => {
        if (this.closed || (this.watchers.get(sourceId) ?? 0) === 0) {
          this.repairs.delete(sourceId);
          return;
        }
        const delay = Math.min(REPAIR_MAX_MS, REPAIR_BASE_MS * 2 ** attempt.n++) * (0.5 + Math.random() / 2);
        attempt.timer = setTimeout(() => {
          this.refresh(sourceId).then(
            () => this.repairs.delete(sourceId),
            (err: unknown) => {
              this.opts.onError?.(err, sourceId);
              retry();
            },
          );
        }, delay);
        attempt.timer.unref();
      };
      retry();
    }
  }

  private async announce(sourceId: string, changes: SourceChange[]): Promise<void> {
    const ids = new Set(changes.map((c) => c.conversationNativeId).filter((id): id is string => !!id));
    for (const conversationNativeId of ids) {
      await this.opts.pubsub.publish(`conversation:${sourceId}`, { sourceId, conversationNativeId });
    }
  }

  /** Watches unread totals of sources; starts their pollers. Resolves to an unsubscribe function. */
  async watchUnread(sourceIds: string[], onChange: Listener<SourceUnreadModel>): Promise<() => Promise<void>> {
    await this.ready;
    for (const s of sourceIds) {
      let set = this.unreadListeners.get(s);
      if (!set) {
        set = new Set();
        this.unreadListeners.set(s, set);
      }
      set.add(onChange);
      this.acquirePoller(s);
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      for (const s of sourceIds) {
        this.unreadListeners.get(s)?.delete(onChange);
        this.releasePoller(s);
      }
    };
  }

  /** Watches conversation changes of sources; starts their pollers. */
  async watchConversations(sourceIds: string[], onChange: Listener<ConversationEvent>): Promise<() => Promise<void>> {
    await Promise.all(sourceIds.map((s) => this.conversationTopic(s, onChange)));
    for (const s of sourceIds) this.acquirePoller(s);
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      for (const s of sourceIds) this.releasePoller(s);
      await Promise.all(sourceIds.map((s) => this.leaveConversationTopic(s, onChange)));
    };
  }

  private async conversationTopic(sourceId: string, listener: Listener<ConversationEvent>): Promise<void> {
    let topic = this.conversationTopics.get(sourceId);
    if (!topic) {
      const listeners = new Set<Listener<ConversationEvent>>();
      const subscribed = this.opts.pubsub.subscribe(`conversation:${sourceId}`, (p) => {
        if (!isConversationMessage(p) || p.sourceId !== sourceId) return;
        let loaded: Promise<ConversationModel | null> | null = null;
        const event: ConversationEvent = {
          sourceId,
          conversationNativeId: p.conversationNativeId,
          load: () => (loaded ??= this.loadConversation(sourceId, p.conversationNativeId)),
        };
        for (const l of listeners) l(event);
      });
      topic = { listeners, subscribed };
      this.conversationTopics.set(sourceId, topic);
      subscribed.catch(() => {
        if (this.conversationTopics.get(sourceId) === topic) this.conversationTopics.delete(sourceId);
      });
    }
    topic.listeners.add(listener);
    try {
      await topic.subscribed;
    } catch (e) {
      topic.listeners.delete(listener);
      throw e;
    }
  }

  private async leaveConversationTopic(sourceId: string, listener: Listener<ConversationEvent>): Promise<void> {
    const topic = this.conversationTopics.get(sourceId);
    if (!topic) return;
    topic.listeners.delete(listener);
    if (topic.listeners.size > 0) return;
    this.conversationTopics.delete(sourceId);
    const unsubscribe = await topic.subscribed.catch(() => null);
    await unsubscribe?.();
  }

  /**
   * One read of a changed conversation for every subscriber of this instance: the row and what its fields need
   * (participants, last message and its sender, unread count), so that subscribers' field resolvers find them
   * in the model instead of each asking the source.
   */
  private async loadConversation(sourceId: string, nativeId: string): Promise<ConversationModel | null> {
    const connector = this.connectors.get(sourceId);
    if (!connector) return null;
    const s = this.openSession(connector);
    const hintKey = `${sourceId}\u0000${nativeId}`;
    const hint = this.pollHints.get(hintKey);
    this.pollHints.delete(hintKey);
    let c: ConversationModel | null;
    try {
      c = hint ?? (await s.loadConversation(nativeId));
    } catch (e) {
      if (!(e instanceof GatewayError && (e.code === ErrorCode.NOT_FOUND || e.code === ErrorCode.FORBIDDEN)))
        this.opts.onError?.(e, sourceId);
      return null;
    }
    if (!c) return null;
    const conversation = c;
    // Each piece is optional: when it fails, the field resolver asks again (and reports the error itself).
    const soft = <T>(p: Promise<T>): Promise<T | undefined> => p.catch(() => undefined);
    const [participants, lastMessage, unreadCount] = await Promise.all([
      conversation.participants ? conversation.participants : soft(s.loadParticipants(conversation)),
      conversation.lastMessage !== undefined ? conversation.lastMessage : soft(s.loadLastMessage(conversation)),
      conversation.unreadCount !== undefined
        ? conversation.unreadCount
        : s.loadUnreadCount
          ? soft(s.loadUnreadCount(conversation))
          : null,
    ]);
    let last = lastMessage;
    if (last && !last.sender && last.senderRef) {
      const ref = last.senderRef;
      const sender = (participants ?? []).find((p) => p.nativeId === ref) ?? (await soft(s.loadParticipant(ref)));
      if (sender) last = { ...last, sender };
    }
    return {
      ...conversation,
      participants: participants ?? conversation.participants,
      ...(last !== undefined ? { lastMessage: last } : {}),
      unreadCount: unreadCount === undefined ? conversation.unreadCount : unreadCount,
    };
  }

  /** Sources whose poller runs on this instance (holding the lease or standing by), for metrics and tests. */
  activePollers(): string[] {
    return [...this.pollers.keys()];
  }

  /** Sources this instance is polling now (it holds their lease). */
  pollingSources(): string[] {
    return [...this.pollers.values()].filter((r) => r.held).map((r) => r.sourceId);
  }

  private pollable(c: Connector | undefined): c is Connector {
    if (!c) return false;
    // A WEBHOOK source polls only for what its webhooks never say (Chatwoot: reads, docs/vendors/chatwoot.md).
    return c.capabilities.realtime === 'POLLING' ? !!c.poll || c.capabilities.unreadCounts : !!c.poll;
  }

  private interval(c: Connector): number {
    return Math.max(this.opts.pollIntervalMs(c.id), c.minPollIntervalMs?.() ?? 0);
  }

  private leaseMs(sourceId: string): number {
    return this.opts.leaseMs?.(sourceId) ?? Math.max(3 * this.opts.pollIntervalMs(sourceId), MIN_DEFAULT_LEASE_MS);
  }

  private acquirePoller(sourceId: string) {
    this.watchers.set(sourceId, (this.watchers.get(sourceId) ?? 0) + 1);
    const c = this.connectors.get(sourceId);
    if (this.closed || !this.pollable(c)) return;
    const p = this.pollers.get(sourceId);
    if (p) {
      p.refs++;
      return;
    }
    const run: PollRun = { sourceId, refs: 1, timer: null, tick: null, failures: 0, held: false, stopped: false };
    this.pollers.set(sourceId, run);
    // The first tick at once: it takes the lease (or learns who has it) and sets the poll's baseline.
    this.schedule(run, 0);
  }

  private releasePoller(sourceId: string) {
    const w = (this.watchers.get(sourceId) ?? 1) - 1;
    if (w <= 0) this.watchers.delete(sourceId);
    else this.watchers.set(sourceId, w);
    const p = this.pollers.get(sourceId);
    if (!p) return;
    if (--p.refs <= 0) this.stopPoller(p);
  }

  private stopPoller(run: PollRun) {
    run.stopped = true;
    if (run.timer) clearTimeout(run.timer);
    run.timer = null;
    if (this.pollers.get(run.sourceId) === run) this.pollers.delete(run.sourceId);
    // Hand the lease over at once (after a tick in flight), unless a new run of this source started meanwhile.
    void (run.tick ?? Promise.resolve()).then(async () => {
      if (this.pollers.has(run.sourceId) || this.closed) return;
      await this.coordination.leases
        .release(`poll:${run.sourceId}`)
        .catch((e: unknown) => this.opts.onError?.(e, run.sourceId));
    });
  }

  private schedule(run: PollRun, delayMs: number) {
    if (run.stopped || this.closed) return;
    run.timer = setTimeout(() => {
      run.timer = null;
      run.tick = this.tick(run).finally(() => {
        run.tick = null;
      });
    }, delayMs);
    run.timer.unref();
  }

  private async tick(run: PollRun): Promise<void> {
    const connector = this.connectors.get(run.sourceId);
    if (!this.pollable(connector)) return;
    const interval = this.interval(connector);
    const leaseMs = this.leaseMs(run.sourceId);
    let holding: boolean;
    try {
      holding = await this.coordination.leases.acquire(`poll:${run.sourceId}`, leaseMs);
    } catch (e) {
      // The shared store is unreachable: nobody can be sure to hold the lease, so nobody polls; retry later.
      run.held = false;
      run.failures++;
      this.opts.onError?.(e, run.sourceId);
      this.schedule(run, this.backoff(e, run.failures, interval));
      return;
    }
    if (run.stopped || this.closed) return;
    if (!holding) {
      // Another instance polls; stand by to take over when its lease expires.
      run.held = false;
      this.schedule(run, Math.max(50, Math.min(interval, Math.floor(leaseMs / 4))));
      return;
    }
    const tookOver = !run.held;
    run.held = true;
    try {
      await this.pollOnce(connector, tookOver);
      run.failures = 0;
      this.opts.metrics?.poll?.(run.sourceId, 'ok');
      this.schedule(run, interval);
    } catch (e) {
      run.failures++;
      this.opts.metrics?.poll?.(run.sourceId, 'error');
      this.opts.onError?.(e, run.sourceId);
      this.schedule(run, this.backoff(e, run.failures, interval));
    }
  }

  /** One poll: the connector's changes announced, then the totals re-read when something may have moved. */
  private async pollOnce(connector: Connector, tookOver: boolean): Promise<void> {
    let reread = tookOver || !connector.poll;
    if (connector.poll) {
      const requestId = `live-${connector.id}-${++this.seq}`;
      const m = this.opts.metrics;
      const changes = await connector.poll({
        requestId,
        recordUpstream: m?.upstream && ((call) => m.upstream?.(call, requestId)),
      });
      if (changes.length > 0) reread = true;
      // The models of this poll replace the previous poll's (so hints stay bounded by the source's size).
      for (const key of this.pollHints.keys()) if (key.startsWith(`${connector.id}\u0000`)) this.pollHints.delete(key);
      for (const c of changes) {
        if (c.conversation && c.conversationNativeId)
          this.pollHints.set(`${connector.id}\u0000${c.conversationNativeId}`, c.conversation);
      }
      await this.announce(connector.id, changes);
    }
    if (reread && connector.capabilities.unreadCounts && !this.closed) await this.refresh(connector.id);
  }

  /** The pause before the next attempt after `failures` failed ones. */
  private backoff(error: unknown, failures: number, interval: number): number {
    if (error instanceof GatewayError && error.code === ErrorCode.SOURCE_RATE_LIMITED) {
      const retryAfter = error.extensions.retryAfter;
      if (typeof retryAfter === 'number' && retryAfter > 0) return Math.max(retryAfter * 1000, interval);
    }
    const cap = Math.max(interval, MAX_BACKOFF_MS);
    const exp = Math.min(cap, interval * 2 ** Math.min(failures, 20));
    // "Equal jitter": half fixed, half random, so instances that failed together do not retry together.
    return exp / 2 + Math.random() * (exp / 2);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.repairs.values()) if (r.timer) clearTimeout(r.timer);
    this.repairs.clear();
    const runs = [...this.pollers.values()];
    for (const run of runs) {
      run.stopped = true;
      if (run.timer) clearTimeout(run.timer);
    }
    this.pollers.clear();
    await Promise.allSettled(runs.map((r) => r.tick));
    await Promise.allSettled([...this.inflight.values()].map((i) => i.promise));
    await Promise.allSettled([...this.applyQueues.values()].map((q) => q.queued ?? q.running));
    // Leases released, so another instance takes over polling at once.
    await this.coordination.close().catch(() => undefined);
    const topics = [...this.conversationTopics.values()];
    this.conversationTopics.clear();
    this.unreadListeners.clear();
    const own = await this.ready.catch(() => [] as Array<() => Promise<void>>);
    await Promise.allSettled(
      [...own, ...(await Promise.all(topics.map((t) => t.subscribed.catch(() => null))))].map((u) => u?.()),
    );
  }
}
