import type { Connector, SourceChange } from '../connectors/types';
import type { LiveContext } from './context';
import type { ConversationFeed } from './conversationFeed';
import { eventsOfChange, type ThreadEvent } from './events';
import { delayIn, holdsLease, nextPollerState, type PollerState } from './pollerState';
import { MIN_DEFAULT_LEASE_MS, pollLease } from './protocol';
import type { UnreadTotals } from './unreadTotals';

interface Poller {
  readonly sourceId: string;
  state: PollerState;
  /** Watchers of the source on this instance; the last one leaving stops the poller. */
  refs: number;
  /** Those of them that watch thread events: while there are any, polls may spend reads on events. */
  eventRefs: number;
  timer: NodeJS.Timeout | null;
  tick: Promise<void> | null;
}

export interface PollerOptions {
  /** Configured poll interval per source id. */
  pollIntervalMs: (sourceId: string) => number;
  /** Time to live of a source's poll lease. @default max(3 × the source's poll interval, 5 s) */
  leaseMs?: (sourceId: string) => number;
}

/**
 * The pollers of this instance (docs/live.md "Pollers"): one per pollable source while somebody here watches it,
 * polling only while it holds the source's lease.
 */
export class Pollers {
  private readonly pollers = new Map<string, Poller>();

  constructor(
    private readonly ctx: LiveContext,
    private readonly feed: ConversationFeed,
    private readonly totals: UnreadTotals,
    private readonly opts: PollerOptions,
    /** Publishes thread events once per identity (ThreadEvents.publish, docs/live.md "Thread events"). */
    private readonly publishEvents: (events: ThreadEvent[]) => Promise<void>,
  ) {}

  /** docs/live.md "Pollers": who gets a poller. */
  private pollable(c: Connector | undefined): c is Connector {
    if (!c) return false;
    // A WEBHOOK source polls only for what its webhooks never say (Chatwoot: reads, docs/vendors/chatwoot.md).
    return c.capabilities.realtime === 'POLLING' ? !!c.poll || c.capabilities.unreadCounts : !!c.poll;
  }

  /** Sources with a poller on this instance (holding the lease or standing by). */
  active(): string[] {
    return [...this.pollers.keys()];
  }

  /** Sources this instance is polling now (it holds their lease). */
  holding(): string[] {
    return [...this.pollers.values()].filter((p) => holdsLease(p.state)).map((p) => p.sourceId);
  }

  /**
   * One more watcher of the source (`events`: of its thread events): starts its poller if it is pollable and has
   * none. Returns whether it counted (a release must match only a counted acquire).
   */
  acquire(sourceId: string, events = false): boolean {
    if (this.ctx.closed() || !this.pollable(this.ctx.connectors.get(sourceId))) return false;
    const existing = this.pollers.get(sourceId);
    if (existing) {
      existing.refs++;
      if (events) existing.eventRefs++;
      return true;
    }
    const p: Poller = {
      sourceId,
      state: { phase: 'idle' },
      refs: 1,
      eventRefs: events ? 1 : 0,
      timer: null,
      tick: null,
    };
    this.pollers.set(sourceId, p);
    this.arm(p, 0); // idle: the first tick at once
    return true;
  }

  /** One watcher fewer: the last one stops the poller and hands its lease over. */
  release(sourceId: string, events = false): void {
    const p = this.pollers.get(sourceId);
    if (!p) return;
    if (events && --p.eventRefs <= 0) {
      p.eventRefs = 0;
      // No thread events wanted here any more: after the tick in flight (which may have renewed it), unless one
      // came back meanwhile.
      void (p.tick ?? Promise.resolve()).then(async () => {
        if (p.eventRefs > 0 || this.ctx.closed()) return;
        await this.ctx.coordination.leases
          .release(eventsLease(p.sourceId))
          .catch((e: unknown) => this.ctx.report(e, p.sourceId));
      });
    }
    if (--p.refs <= 0) this.stop(p);
  }

  private stop(p: Poller) {
    p.state = nextPollerState(p.state, { type: 'stop' });
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    if (this.pollers.get(p.sourceId) === p) this.pollers.delete(p.sourceId);
    // Hand the lease over at once (after a tick in flight), unless a new poller of this source started meanwhile.
    void (p.tick ?? Promise.resolve()).then(async () => {
      if (this.pollers.has(p.sourceId) || this.ctx.closed()) return;
      await this.ctx.coordination.leases
        .release(pollLease(p.sourceId))
        .catch((e: unknown) => this.ctx.report(e, p.sourceId));
    });
  }

  private arm(p: Poller, delayMs: number | null) {
    if (delayMs === null || p.state.phase === 'stopped' || this.ctx.closed()) return;
    p.timer = setTimeout(() => {
      p.timer = null;
      p.tick = this.tick(p).finally(() => {
        p.tick = null;
      });
    }, delayMs);
    p.timer.unref();
  }

  /** docs/live.md "Poller states": one tick, driving the poller through its transitions. */
  private async tick(p: Poller): Promise<void> {
    const connector = this.ctx.connectors.get(p.sourceId);
    if (!this.pollable(connector)) return;
    const timing = {
      intervalMs: Math.max(this.opts.pollIntervalMs(connector.id), connector.minPollIntervalMs?.() ?? 0),
      leaseMs:
        this.opts.leaseMs?.(p.sourceId) ?? Math.max(3 * this.opts.pollIntervalMs(p.sourceId), MIN_DEFAULT_LEASE_MS),
    };
    // docs/live.md "Pollers": while somebody here watches thread events, this instance says so to the one polling.
    if (p.eventRefs > 0)
      await this.ctx.coordination.leases
        .acquire(eventsLease(p.sourceId), timing.leaseMs)
        .catch((e: unknown) => this.ctx.report(e, p.sourceId));
    let held: boolean;
    try {
      held = await this.ctx.coordination.leases.acquire(pollLease(p.sourceId), timing.leaseMs);
    } catch (error) {
      p.state = nextPollerState(p.state, { type: 'leaseFailed', error });
      this.ctx.report(error, p.sourceId);
      this.arm(p, delayIn(p.state, timing));
      return;
    }
    if (p.state.phase === 'stopped' || this.ctx.closed()) return;
    const tookOver = !holdsLease(p.state);
    p.state = nextPollerState(p.state, { type: held ? 'leaseTaken' : 'leaseElsewhere' });
    if (held) {
      try {
        const events = p.eventRefs > 0 || (await this.eventsWantedElsewhere(p.sourceId, timing.leaseMs));
        await this.pollOnce(connector, tookOver, events);
        p.state = nextPollerState(p.state, { type: 'polled' });
        this.ctx.metrics?.poll?.(p.sourceId, 'ok');
      } catch (error) {
        p.state = nextPollerState(p.state, { type: 'pollFailed', error });
        this.ctx.metrics?.poll?.(p.sourceId, 'error');
        this.ctx.report(error, p.sourceId);
        // The source may be failing: its totals are read once per failure episode, so that its unread subscribers
        // are told when it is (not left with totals that silently went stale: docs/live.md "Failure and repair").
        await this.totals.pollFailed(p.sourceId, error);
      }
    }
    this.arm(p, delayIn(p.state, timing));
  }

  /**
   * docs/live.md "Pollers": whether another instance watches the source's thread events, that is holds its events
   * lease. Probed by taking it: taken, nobody else holds it, and it is given back at once.
   */
  private async eventsWantedElsewhere(sourceId: string, leaseMs: number): Promise<boolean> {
    const leases = this.ctx.coordination.leases;
    try {
      if (!(await leases.acquire(eventsLease(sourceId), leaseMs))) return true;
      await leases.release(eventsLease(sourceId));
    } catch (e) {
      this.ctx.report(e, sourceId);
    }
    return false;
  }

  /**
   * docs/live.md "Pollers": the connector's changes announced (their thread events published first), then the
   * totals re-read when something may have moved.
   */
  private async pollOnce(connector: Connector, tookOver: boolean, events: boolean): Promise<void> {
    // After a failure, the totals are read again even when the poll saw no change: subscribers were told the
    // source is missing and wait for its value.
    let reread = tookOver || !connector.poll || this.totals.isFailing(connector.id);
    if (connector.poll) {
      const changes = await connector.poll(this.ctx.scope(connector.id), { events });
      if (changes.length > 0) reread = true;
      const threadEvents = threadEventsOf(connector.id, changes);
      // A failed publication loses these events (reported), not the poll: its changes are still announced.
      if (threadEvents.length > 0 && !this.ctx.closed())
        await this.publishEvents(threadEvents).catch((e: unknown) => this.ctx.report(e, connector.id));
      this.feed.remember(connector.id, changes);
      await this.feed.announce(connector.id, changes);
    }
    if (reread && connector.capabilities.unreadCounts && !this.ctx.closed()) await this.totals.refresh(connector.id);
  }

  /** Stops every poller and waits for ticks in flight; leases are left to the coordination's close. */
  async close(): Promise<void> {
    const all = [...this.pollers.values()];
    for (const p of all) {
      p.state = nextPollerState(p.state, { type: 'stop' });
      if (p.timer) clearTimeout(p.timer);
    }
    this.pollers.clear();
    await Promise.allSettled(all.map((p) => p.tick));
  }
}

/**
 * docs/live.md "Pollers", "What Redis holds": the lease an instance holds while somebody there watches a source's
 * thread events, so that the instance polling it (which may have no such watcher) spends the reads they need.
 */
export const eventsLease = (sourceId: string) => `events:${sourceId}`;

/**
 * The thread events a poll's changes carry (docs/live.md "Thread events"), in the order they happened within each
 * conversation: by `at` (a message's sentAt), the connector's order among equal times.
 */
export function threadEventsOf(sourceId: string, changes: SourceChange[]): ThreadEvent[] {
  const events = changes.flatMap((c) => (c.events ?? []).map((e) => eventsOfChange(sourceId, e)));
  const first = new Map<string, number>();
  events.forEach((e, i) => {
    if (!first.has(e.conversationNativeId)) first.set(e.conversationNativeId, i);
  });
  return events
    .map((e, i) => ({ e, i }))
    .sort(
      (a, b) =>
        first.get(a.e.conversationNativeId)! - first.get(b.e.conversationNativeId)! || a.e.at - b.e.at || a.i - b.i,
    )
    .map(({ e }) => e);
}
