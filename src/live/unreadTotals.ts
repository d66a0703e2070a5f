import type { SourceUnreadModel } from '../connectors/types';
import type { LiveContext } from './context';
import { isUnreadMessage, unreadTopic, type UnreadMessage } from './protocol';

type Listener = (value: SourceUnreadModel) => void;

/** Backoff of a webhook source's totals after a failed re-read (docs/live.md "Failure and repair"). */
const REPAIR_BASE_MS = 1000;
const REPAIR_MAX_MS = 30_000;

/**
 * The unread totals of every source on this instance (docs/live.md "Unread totals"): the cached value per
 * source, kept equal to what any instance published on `unread:<source>`; reads that coalesce; publication of
 * real changes only, through the shared compare-and-set; and the repair of a webhook source's totals after a
 * failed re-read.
 */
export class UnreadTotals {
  /** The latest totals per source: from this instance's reads and from every instance's publications. */
  private readonly last = new Map<string, SourceUnreadModel | null>();
  /** `asOf` of the latest totals in {@link last}. */
  private readonly lastAsOf = new Map<string, number>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly inflight = new Map<string, { promise: Promise<void>; again: boolean }>();
  /**
   * Sources whose last read failed (docs/live.md "Failure and repair"): their next value is handed to the
   * listeners even when it equals the recorded one, so a subscriber that was told the source is missing learns
   * it is back.
   */
  private readonly failed = new Set<string>();
  /** Sources whose totals could not be re-read, with their pending retry. */
  private readonly repairs = new Map<string, { n: number; timer: NodeJS.Timeout | null }>();
  /** This instance's own `unread:<source>` subscriptions, one per source with unread counts, for its whole life. */
  readonly ready: Promise<Array<() => Promise<void>>>;

  constructor(private readonly ctx: LiveContext) {
    const sources = [...ctx.connectors.values()].filter((c) => c.capabilities.unreadCounts).map((c) => c.id);
    this.ready = Promise.all(sources.map((s) => ctx.pubsub.subscribe(unreadTopic(s), (p) => this.onMessage(s, p))));
    // Surfaced by the engine's watchUnread; never an unhandled rejection.
    this.ready.catch((e: unknown) => sources.forEach((s) => ctx.report(e, s)));
  }

  /** docs/live.md "Ordering and dedupe": a receiver keeps the newest totals by `asOf`. */
  private onMessage(sourceId: string, payload: unknown) {
    if (!isUnreadMessage(payload) || payload.sourceId !== sourceId) return;
    const asOf = typeof payload.asOf === 'number' ? payload.asOf : 0;
    // Older than what this engine already has: a publication overtaken by a newer one on the way.
    if (asOf < (this.lastAsOf.get(sourceId) ?? 0)) return;
    const value = this.keep(sourceId, payload);
    this.last.set(sourceId, value);
    this.lastAsOf.set(sourceId, asOf);
    this.failed.delete(sourceId);
    this.notify(sourceId, value);
  }

  private notify(sourceId: string, value: SourceUnreadModel) {
    for (const l of this.listeners.get(sourceId) ?? []) l(value);
  }

  /** After a successful read: a source that had failed is back, so its listeners get its value, changed or not. */
  private recovered(sourceId: string) {
    if (!this.failed.delete(sourceId)) return;
    const value = this.last.get(sourceId);
    if (value) this.notify(sourceId, value);
  }

  /**
   * The same totals keep the same object, and every listener gets that one object (the fan-out shares payloads
   * by identity: server/fanout.ts).
   */
  private keep(sourceId: string, next: Pick<SourceUnreadModel, 'total' | 'conversationsWithUnread'>) {
    const prev = this.last.get(sourceId);
    return prev && prev.total === next.total && prev.conversationsWithUnread === next.conversationsWithUnread
      ? prev
      : { sourceId, total: next.total, conversationsWithUnread: next.conversationsWithUnread };
  }

  /** Calls `listener` with each new totals of the sources; returns the function that stops it. */
  listen(sourceIds: string[], listener: Listener): () => void {
    for (const s of sourceIds) {
      let set = this.listeners.get(s);
      if (!set) {
        set = new Set();
        this.listeners.set(s, set);
      }
      set.add(listener);
    }
    return () => {
      for (const s of sourceIds) this.listeners.get(s)?.delete(listener);
    };
  }

  /**
   * The current totals of a source; null when it has no read state. Served from the cache while somebody else
   * on this instance already watches the source (pollers, webhooks and other instances' publications keep it
   * fresh), read from the source otherwise.
   */
  async current(sourceId: string): Promise<SourceUnreadModel | null> {
    // The caller itself is one watcher; another one means updates have been flowing.
    const fresh = this.ctx.watchers.count(sourceId) > 1 && !this.failed.has(sourceId);
    if (!this.last.has(sourceId) || !fresh) {
      try {
        await this.refresh(sourceId);
      } catch (e) {
        // The caller reports the source as missing; the repair re-reads it until it answers, and the listeners
        // then get its value (docs/live.md "Failure and repair").
        this.repair(sourceId);
        throw e;
      }
    }
    return this.last.get(sourceId) ?? null;
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
        } while (entry.again && !this.ctx.closed());
      } finally {
        this.inflight.delete(sourceId);
      }
    })();
    this.inflight.set(sourceId, entry);
    return entry.promise;
  }

  /** docs/live.md "Unread totals": one read, recorded through the shared compare-and-set, published if changed. */
  private async readOnce(sourceId: string): Promise<void> {
    const connector = this.ctx.connectors.get(sourceId);
    if (!connector || !connector.capabilities.unreadCounts) {
      this.last.set(sourceId, null);
      return;
    }
    // When the read starts, on the clock every instance shares (Redis TIME with Redis).
    const asOf = await this.ctx.coordination.now();
    let next: SourceUnreadModel | null;
    try {
      next = await connector.openSession(this.ctx.scope(sourceId)).unreadCount();
    } catch (e) {
      this.failed.add(sourceId);
      throw e;
    }
    if (!next) {
      this.last.set(sourceId, null);
      this.failed.delete(sourceId);
      return;
    }
    const value = this.keep(sourceId, next);
    const record = await this.ctx.coordination.recordUnread(
      sourceId,
      JSON.stringify([value.total, value.conversationsWithUnread]),
      asOf,
    );
    // A read that started before one already recorded (here or on another instance) tells nothing new, unless
    // this engine has nothing at all yet (a first subscriber's current value).
    if (record === 'stale') {
      if (!this.last.get(sourceId)) this.last.set(sourceId, value);
      this.recovered(sourceId);
      return;
    }
    if (asOf >= (this.lastAsOf.get(sourceId) ?? 0)) {
      this.last.set(sourceId, value);
      this.lastAsOf.set(sourceId, asOf);
    }
    if (record === 'changed') {
      const message: UnreadMessage = { ...value, asOf };
      await this.ctx.pubsub.publish(unreadTopic(sourceId), message);
      this.ctx.metrics?.unreadChanged?.(sourceId);
    }
    // A change reaches the listeners through the publication; an unchanged value only when the source was back.
    this.recovered(sourceId);
  }

  /**
   * docs/live.md "Failure and repair": re-reads a webhook source's totals; when that fails (the source is down
   * or rate-limiting), tries again with backoff while anybody still watches the source, so that pushed totals
   * converge once the source recovers. POLLING sources need none of this: their poller retries anyway.
   */
  async refreshOrRepair(sourceId: string): Promise<void> {
    try {
      await this.refresh(sourceId);
      this.repairs.delete(sourceId);
    } catch (e) {
      this.ctx.report(e, sourceId);
      this.repair(sourceId);
    }
  }

  /** Retries a failed read with backoff while the source is watched here; one repair per source at a time. */
  private repair(sourceId: string): void {
    if (this.ctx.closed() || this.repairs.has(sourceId)) return;
    const attempt = { n: 0, timer: null as NodeJS.Timeout | null };
    this.repairs.set(sourceId, attempt);
    const retry = () => {
      if (this.ctx.closed() || this.ctx.watchers.count(sourceId) === 0) {
        this.repairs.delete(sourceId);
        return;
      }
      const delay = Math.min(REPAIR_MAX_MS, REPAIR_BASE_MS * 2 ** attempt.n++) * (0.5 + Math.random() / 2);
      attempt.timer = setTimeout(() => {
        this.refresh(sourceId).then(
          () => this.repairs.delete(sourceId),
          (err: unknown) => {
            this.ctx.report(err, sourceId);
            retry();
          },
        );
      }, delay);
      attempt.timer.unref();
    };
    retry();
  }

  /** Cancels pending repairs (the engine is closing). */
  stopRepairs(): void {
    for (const r of this.repairs.values()) if (r.timer) clearTimeout(r.timer);
    this.repairs.clear();
  }

  /** Resolves once no read is in flight. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inflight.values()].map((i) => i.promise));
  }

  /** Forgets listeners; returns this instance's own subscriptions, for the engine to end. */
  async close(): Promise<Array<() => Promise<void>>> {
    this.listeners.clear();
    return this.ready.catch(() => [] as Array<() => Promise<void>>);
  }
}
