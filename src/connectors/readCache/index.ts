import type { Connector } from '../types';
import { CachedSession, type SessionTraits } from './session';
import { ReadCacheStore, type ReadCacheMetrics } from './store';

export { ReadCacheStore, SOURCE_GROUP, estimateBytes, type ReadCacheMetrics } from './store';
export { CachedSession } from './session';

/**
 * # The read cache (README "Read cache")
 *
 * A decorator over connectors, applied by the composition root (server/connectors.ts): a cached connector's
 * `openSession` returns a {@link CachedSession} over the vendor's own session, so resolvers, the live engine and
 * every vendor stay as they are. One {@link ReadCacheStore} per gateway instance holds the answers of every
 * cached source.
 *
 * Invalidation comes from outside, through {@link ReadCache.invalidate}: the composition root calls it for every
 * change the live engine hears of on this instance (webhook batches, polls, the gateway's writes) and for every
 * change announced on the pub/sub transport by any instance (so a write through instance A drops B's copy).
 * A cached session's own write drops its conversation here at once and awaits {@link ReadCacheOptions.publish},
 * which tells the other instances, before the mutation answers.
 *
 * This folder knows nothing of the live engine or pub/sub (connectors import neither): the composition root
 * hands in what it needs as functions.
 */

/** How much a source is trusted, decided by the composition root from its config and the live engine. */
export interface ReadCacheSource {
  /** The longest an answer may be served while a trusted change signal covers it: the source's catalog max age. */
  trustedMaxAgeMs: number;
  /** Since when (this process's clock) changes of the source reach this instance, or null now. */
  trustedSince(): number | null;
}

export interface ReadCacheOptions {
  /** Answers of sources without a trusted change signal: at most this old (ms); 0: not cached. */
  ttlMs: number;
  /** Estimated bytes of all cached answers together. */
  maxBytes: number;
  /** @default Date.now */
  now?: () => number;
  metrics?: ReadCacheMetrics;
  /** Tells the other instances that this one wrote (source, conversation or null for all of it). @default nothing */
  publish?: (sourceId: string, conversationNativeId: string | null) => Promise<void>;
  /** A failed {@link publish} (the write stands; other instances learn of it by the vendor's own change signal). */
  onError?: (error: unknown, sourceId: string) => void;
}

export class ReadCache {
  readonly store: ReadCacheStore;
  private publish: ReadCacheOptions['publish'];

  constructor(private readonly opts: ReadCacheOptions) {
    this.store = new ReadCacheStore(opts);
    this.publish = opts.publish;
  }

  /** Sets how writes reach the other instances (the transport is built after the connectors). */
  setPublish(publish: ReadCacheOptions['publish']): void {
    this.publish = publish;
  }

  /** The connector with its reads cached; the same object's other members are the connector's own. */
  wrap(connector: Connector, source: ReadCacheSource): Connector {
    this.store.addSource({ sourceId: connector.id, ...source });
    const open = connector.openSession.bind(connector);
    const ownWrite = (s: string, c: string | null) => this.ownWrite(s, c);
    const traits: SessionTraits = {};
    const openSession: Connector['openSession'] = (scope) =>
      new CachedSession(connector.id, open, scope, this.store, ownWrite, traits);
    // Every other member is the connector's own, called on the connector itself.
    return new Proxy(connector, {
      get(target, property) {
        if (property === 'openSession') return openSession;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /** A change of a source: drops the conversation's answers (or every answer of the source: null). */
  invalidate(sourceId: string, conversationNativeId: string | null): void {
    this.store.invalidate(sourceId, conversationNativeId);
  }

  private async ownWrite(sourceId: string, conversationNativeId: string | null): Promise<void> {
    this.store.invalidate(sourceId, conversationNativeId);
    try {
      await this.publish?.(sourceId, conversationNativeId);
    } catch (e) {
      this.opts.onError?.(e, sourceId);
    }
  }

  size() {
    return this.store.size();
  }

  close(): void {
    this.store.clear();
  }
}
