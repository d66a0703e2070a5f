import type { SourceChange } from '../connectors/types';
import { sleep, type LiveContext } from './context';
import type { ConversationFeed } from './conversationFeed';
import { deliveryKey, EVENT_TTL_MS, eventKey } from './protocol';
import type { UnreadTotals } from './unreadTotals';

/** Delays before retrying a failed `applyChanges` batch (docs/live.md "Failure and repair"). */
const APPLY_RETRY_MS = [250, 1000];

interface ApplyQueue {
  pending: SourceChange[];
  /** The batch waiting for the running one to end; it takes everything pending when it starts. */
  queued: Promise<void> | null;
  running: Promise<void>;
}

/**
 * Webhook ingest (docs/live.md "Webhook ingest"): replayed deliveries and event ids refused across instances,
 * the rest batched per source (one batch runs, the next collects what arrives meanwhile), applied to the
 * connector's state, announced on the conversation feed, and followed by a re-read of the totals.
 */
export class WebhookIngest {
  private readonly queues = new Map<string, ApplyQueue>();

  constructor(
    private readonly ctx: LiveContext,
    private readonly feed: ConversationFeed,
    private readonly totals: UnreadTotals,
  ) {}

  /** See LiveEngine.ingest. */
  async ingest(changes: SourceChange[]): Promise<number> {
    const keyed = changes.filter((c) => c.eventId);
    const firsts = await this.ctx.coordination.firstSeen(
      keyed.map((c) => eventKey(c.sourceId, c.eventId as string)),
      EVENT_TTL_MS,
    );
    const isNew = new Map(keyed.map((c, i) => [c, firsts[i] === true]));
    const fresh = changes.filter((c) => !c.eventId || isNew.get(c));
    const bySource = new Map<string, SourceChange[]>();
    for (const c of fresh) bySource.set(c.sourceId, [...(bySource.get(c.sourceId) ?? []), c]);
    await Promise.all([...bySource].map(([sourceId, list]) => this.enqueue(sourceId, list)));
    return fresh.length;
  }

  /** See LiveEngine.claimDelivery. */
  async claimDelivery(sourceId: string, keys: string[], ttlMs: number): Promise<boolean> {
    const firsts = await this.ctx.coordination.firstSeen(
      keys.map((k) => deliveryKey(sourceId, k)),
      ttlMs,
    );
    return firsts.every((f) => f);
  }

  private enqueue(sourceId: string, changes: SourceChange[]): Promise<void> {
    let q = this.queues.get(sourceId);
    if (!q) {
      q = { pending: [], queued: null, running: Promise.resolve() };
      this.queues.set(sourceId, q);
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
    const connector = this.ctx.connectors.get(sourceId);
    if (!connector) return;
    // One change per conversation; a change without one ("something changed") is kept once.
    const byConversation = new Map<string | null, SourceChange>();
    for (const c of batch) byConversation.set(c.conversationNativeId, c);
    const changes = [...byConversation.values()];
    // Readers of this instance (the read cache) drop what changed before the catalog is brought up to date.
    for (const c of changes) this.feed.changed(sourceId, c.conversationNativeId);
    if (connector.applyChanges) {
      for (let attempt = 0; ; attempt++) {
        try {
          await connector.applyChanges(changes, this.ctx.scope(sourceId));
          break;
        } catch (e) {
          this.ctx.report(e, sourceId);
          const wait = APPLY_RETRY_MS[attempt];
          if (wait === undefined || this.ctx.closed()) {
            // The changes are lost: make the connector re-sync on its next read rather than serve stale rows.
            await connector
              .applyChanges([{ sourceId, conversationNativeId: null }], this.ctx.scope(sourceId))
              .catch(() => undefined);
            break;
          }
          await sleep(wait);
        }
      }
    }
    await this.feed.announce(sourceId, changes);
    if (connector.capabilities.unreadCounts) await this.totals.refreshOrRepair(sourceId);
  }

  /** Resolves once every batch queued or running has ended. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.queued ?? q.running));
  }
}
