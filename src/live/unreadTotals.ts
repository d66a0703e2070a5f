import type { SourceUnreadModel } from '../connectors/types';
import { ErrorCode, GatewayError } from '../errors';
import type { LiveContext } from './context';
import { isUnreadMessage, unreadTopic, type UnreadMessage } from './protocol';

type Listener = (value: SourceUnreadModel) => void;
/** Told once per failure episode of a source: its totals could not be read (a source failure, with its error). */
export type FailureListener = (sourceId: string, error: GatewayError) => void;

/**
 * docs/live.md "Topics": the other payload of `unread:<source>`, published once per failure episode by the instance
 * whose re-read failed, so subscribers on every instance learn that the source is missing (not "no unread").
 * Instances that do not know it ignore it (it fails `isUnreadMessage`).
 */
export interface UnreadFailureMessage {
  sourceId: string;
  failed: { code: string; message: string; extensions: Record<string, unknown> };
  /** When the read that failed started (epoch ms, on the shared clock). */
  asOf: number;
}

export function isUnreadFailureMessage(p: unknown): p is UnreadFailureMessage {
  const o = p as Partial<UnreadFailureMessage> | null;
  return (
    !!o &&
    typeof o.sourceId === 'string' &&
    typeof o.failed === 'object' &&
    o.failed !== null &&
    typeof o.failed.code === 'string' &&
    typeof o.failed.message === 'string'
  );
}

/** The JSON-safe extensions of an error (the typed entry subscribers get on every instance). */
function plainExtensions(e: GatewayError): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e.extensions)) {
    if (k === 'code') continue;
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) out[k] = v;
  }
  return out;
}

/** Keeps the greatest number per key. */
function raise(map: Map<string, number>, key: string, value: number): void {
  if (value > (map.get(key) ?? -Infinity)) map.set(key, value);
}

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
  /**
   * docs/live.md "Failure and repair": values and failure notices travel separately (this instance's own come back
   * through `unread:<source>` too, after its later reads), so each is weighed by when its read started (`asOf`):
   * per source, the start of the newest read known to have answered (here, or on the instance that published its
   * value; changed or not) and of the newest failure the listeners were told of. A failure no newer than an answer
   * is not told, a value older than the failure told does not end its episode; equal times favour the value.
   */
  private readonly answeredAsOf = new Map<string, number>();
  private readonly failedAsOf = new Map<string, number>();
  /**
   * The newest `asOf` among the values received through `unread:<source>`: a read of this instance that fails is
   * not told when a value read no earlier arrived while it ran (its own earlier reads ended before it started).
   */
  private readonly receivedAsOf = new Map<string, number>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly failureListeners = new Map<string, Set<FailureListener>>();
  /**
   * Sources whose current failure episode the listeners were told of (a failure event per episode, not per
   * failed read); a source leaves when a value of it is handed to the listeners again.
   */
  private readonly announced = new Set<string>();
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
    if (isUnreadFailureMessage(payload) && payload.sourceId === sourceId) {
      // A failure of a read that started no later than one that answered says nothing about the source now (this
      // instance's own failure comes back here too, possibly after a later read of it worked).
      const asOf = typeof payload.asOf === 'number' ? payload.asOf : 0;
      if (asOf <= (this.answeredAsOf.get(sourceId) ?? -Infinity)) return;
      const { code, message, extensions } = payload.failed;
      this.announceFailure(
        sourceId,
        new GatewayError(code as ErrorCode, message, { ...extensions, source: sourceId }),
        false,
        asOf,
      );
      return;
    }
    if (!isUnreadMessage(payload) || payload.sourceId !== sourceId) return;
    const asOf = typeof payload.asOf === 'number' ? payload.asOf : 0;
    raise(this.answeredAsOf, sourceId, asOf);
    raise(this.receivedAsOf, sourceId, asOf);
    // Older than what this engine already has: a publication overtaken by a newer one on the way.
    if (asOf < (this.lastAsOf.get(sourceId) ?? 0)) return;
    const value = this.keep(sourceId, payload);
    this.last.set(sourceId, value);
    this.lastAsOf.set(sourceId, asOf);
    // Read before the failure the listeners were told of: kept, but the episode goes on until a newer value.
    if (asOf < (this.failedAsOf.get(sourceId) ?? -Infinity)) return;
    this.failed.delete(sourceId);
    this.notify(sourceId, value);
  }

  private notify(sourceId: string, value: SourceUnreadModel) {
    this.announced.delete(sourceId);
    for (const l of this.listeners.get(sourceId) ?? []) l(value);
  }

  /**
   * A read of the source's totals failed with a source failure (the read of totals, or a poll of the source): the
   * listeners are told once per failure episode (until a value of the source reaches them again), and the other
   * instances through `unread:<source>` when `publish` (they then tell theirs).
   */
  private announceFailure(sourceId: string, error: GatewayError, publish: boolean, asOf: number) {
    this.failed.add(sourceId);
    raise(this.failedAsOf, sourceId, asOf);
    if (this.announced.has(sourceId)) return;
    this.announced.add(sourceId);
    for (const l of this.failureListeners.get(sourceId) ?? []) l(sourceId, error);
    if (!publish || this.ctx.closed()) return;
    const message: UnreadFailureMessage = {
      sourceId,
      failed: { code: error.code, message: error.message, extensions: plainExtensions(error) },
      asOf,
    };
    this.ctx.pubsub.publish(unreadTopic(sourceId), message).catch((e: unknown) => this.ctx.report(e, sourceId));
  }

  /**
   * A poll of the source failed (live/pollers.ts) with a source failure: its totals are read at once, once per
   * failure episode, so that a failing read tells the subscribers the source is missing (a poll can fail on a page
   * while the totals still answer: then nothing is announced). While the episode lasts, polls read nothing more
   * here; the next poll that works re-reads the totals ({@link isFailing}).
   */
  async pollFailed(sourceId: string, error: unknown): Promise<void> {
    if (!(error instanceof GatewayError && error.isSourceFailure)) return;
    const connector = this.ctx.connectors.get(sourceId);
    if (!connector?.capabilities.unreadCounts || this.failed.has(sourceId) || this.ctx.closed()) return;
    // A failure is announced by the read itself (readOnce) and reported by the poller already.
    await this.refresh(sourceId).catch(() => undefined);
  }

  /** True while the source's last read (or poll) failed: its totals are to be read again when it answers. */
  isFailing(sourceId: string): boolean {
    return this.failed.has(sourceId);
  }

  /**
   * After a successful read that started at `asOf`: a source that had failed is back, so its listeners get its
   * value, changed or not (unless the failure they were told of is newer: another instance's read that started later).
   */
  private recovered(sourceId: string, asOf: number) {
    if (asOf < (this.failedAsOf.get(sourceId) ?? -Infinity) || !this.failed.delete(sourceId)) return;
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

  /**
   * Calls `listener` with each new totals of the sources, and `onFailure` once per failure episode of one of them
   * (its re-read failed: docs/live.md "Failure and repair"); returns the function that stops both.
   */
  listen(sourceIds: string[], listener: Listener, onFailure?: FailureListener): () => void {
    const add = <T>(map: Map<string, Set<T>>, s: string, l: T) => {
      let set = map.get(s);
      if (!set) map.set(s, (set = new Set()));
      set.add(l);
    };
    for (const s of sourceIds) {
      add(this.listeners, s, listener);
      if (onFailure) add(this.failureListeners, s, onFailure);
    }
    return () => {
      for (const s of sourceIds) {
        this.listeners.get(s)?.delete(listener);
        if (onFailure) this.failureListeners.get(s)?.delete(onFailure);
      }
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
    const receivedBefore = this.receivedAsOf.get(sourceId);
    let next: SourceUnreadModel | null;
    try {
      next = await connector.openSession(this.ctx.scope(sourceId)).unreadCount();
    } catch (e) {
      this.failed.add(sourceId);
      // Not told when a value read no earlier (by another instance) arrived while this read ran.
      const received = this.receivedAsOf.get(sourceId);
      const overtaken = received !== undefined && received !== receivedBefore && received >= asOf;
      if (e instanceof GatewayError && e.isSourceFailure && !overtaken) this.announceFailure(sourceId, e, true, asOf);
      throw e;
    }
    raise(this.answeredAsOf, sourceId, asOf);
    // A read worked: a repair pending for the source has nothing left to do.
    this.endRepair(sourceId);
    // The source was failing (here, or on the instance that told us): its value goes out even when unchanged.
    const wasFailing = this.failed.has(sourceId);
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
      this.recovered(sourceId, asOf);
      if (wasFailing) await this.publishRecovered(sourceId, asOf);
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
    this.recovered(sourceId, asOf);
    if (wasFailing && record !== 'changed') await this.publishRecovered(sourceId, asOf);
  }

  /**
   * The source answers again with the totals recorded before it failed: no change to publish, but the other
   * instances were told it fails (through `unread:<source>`), so they get its value too, to correct theirs.
   */
  private async publishRecovered(sourceId: string, readAsOf: number): Promise<void> {
    const value = this.last.get(sourceId);
    if (!value) return;
    // Stamped with the start of the read that answered, not the time of the totals recorded before the failure
    // (a 'stale' read does not move lastAsOf): a receiver that heard the failure, told later than those totals,
    // would otherwise take this as older than the failure and keep telling its subscribers the source is missing.
    const message: UnreadMessage = { ...value, asOf: Math.max(this.lastAsOf.get(sourceId) ?? 0, readAsOf) };
    await this.ctx.pubsub.publish(unreadTopic(sourceId), message);
  }

  /**
   * docs/live.md "Failure and repair": re-reads a webhook source's totals; when that fails (the source is down
   * or rate-limiting), tries again with backoff while anybody still watches the source, so that pushed totals
   * converge once the source recovers. POLLING sources need none of this: their poller retries anyway.
   */
  async refreshOrRepair(sourceId: string): Promise<void> {
    try {
      await this.refresh(sourceId);
    } catch (e) {
      this.ctx.report(e, sourceId);
      this.repair(sourceId);
    }
  }

  /**
   * Retries a failed read with backoff while the source is watched here; one repair per source at a time, ended by
   * the first read of the source that works (the repair's own or any other: {@link readOnce}).
   */
  private repair(sourceId: string): void {
    if (this.ctx.closed() || this.repairs.has(sourceId)) return;
    const attempt = { n: 0, timer: null as NodeJS.Timeout | null };
    this.repairs.set(sourceId, attempt);
    const retry = () => {
      if (this.ctx.closed() || this.ctx.watchers.count(sourceId) === 0) {
        this.repairs.delete(sourceId);
        return;
      }
      const delay = Math.min(REPAIR_MAX_MS, REPAIR_BASE_MS * 2 ** attempt.n) * (0.5 + Math.random() / 2);
      attempt.timer = setTimeout(() => {
        attempt.timer = null;
        this.refresh(sourceId).then(
          () => this.endRepair(sourceId, attempt),
          (err: unknown) => {
            this.ctx.report(err, sourceId);
            // A read worked meanwhile (ending this repair), then a later one failed: a repair of its own for that.
            if (this.repairs.get(sourceId) !== attempt) return this.repair(sourceId);
            // docs/live.md "Failure and repair": a refusal that made no call (the source's circuit breaker is open)
            // cost the source nothing, so it does not lengthen the wait: the breaker spares the source meanwhile,
            // and the attempt after its half-open moment comes within the current delay, not one grown past it.
            if (!(err instanceof GatewayError && err.code === ErrorCode.CIRCUIT_OPEN)) attempt.n++;
            retry();
          },
        );
      }, delay);
      attempt.timer.unref();
    };
    retry();
  }

  /** Ends the source's repair (`only`: if it is still that one), cancelling its pending retry. */
  private endRepair(sourceId: string, only?: { timer: NodeJS.Timeout | null }): void {
    const r = this.repairs.get(sourceId);
    if (!r || (only && r !== only)) return;
    if (r.timer) clearTimeout(r.timer);
    this.repairs.delete(sourceId);
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
    this.failureListeners.clear();
    return this.ready.catch(() => [] as Array<() => Promise<void>>);
  }
}
