import { KEY_LIMIT_DEFAULTS, type Config } from '../config/schema';
import { ErrorCode, GatewayError } from '../errors';
import type { Viewer } from '../schema/context';

/** One key's limits after defaults: a count, or null for none. */
export interface ResolvedKeyLimits {
  operationsPerMinute: number | null;
  concurrentOperations: number | null;
  subscriptionsPerSocket: number | null;
  subscriptionsPerKey: number | null;
}

export type KeyLimitName = keyof ResolvedKeyLimits;

/** What an operation is, for its limits: queries and mutations run once, a subscription stays open. */
export type OperationKind = 'query' | 'mutation' | 'subscription';

/** An admitted operation's hold on its key's counts: `release()` once it has ended (twice is harmless). */
export interface KeyLease {
  release(): void;
}

/**
 * A subscription's refusal can only clear when the client ends one of its own: it is told to wait this long (and to
 * complete a subscription) rather than retry at once.
 */
const SUBSCRIPTION_RETRY_AFTER_S = 30;
/** A refused concurrent operation may retry as soon as one of the key's operations ends: about a second. */
const CONCURRENCY_RETRY_AFTER_S = 1;

/** Operations started in the last 60 s, in one-second buckets (constant memory whatever the limit). */
class MinuteCounter {
  private readonly counts = new Uint32Array(60);
  private readonly seconds = new Float64Array(60).fill(-Infinity);

  count(now: number): number {
    const s = Math.floor(now / 1000);
    let n = 0;
    for (let i = 0; i < 60; i++) if ((this.seconds[i] as number) > s - 60) n += this.counts[i] as number;
    return n;
  }

  add(now: number) {
    const s = Math.floor(now / 1000);
    const i = s % 60;
    if (this.seconds[i] !== s) {
      this.seconds[i] = s;
      this.counts[i] = 0;
    }
    this.counts[i] = (this.counts[i] as number) + 1;
  }

  /** Seconds until the oldest counted operation leaves the window (at least 1). */
  retryAfter(now: number): number {
    const s = Math.floor(now / 1000);
    let oldest = s;
    for (let i = 0; i < 60; i++) {
      const at = this.seconds[i] as number;
      if (at > s - 60 && (this.counts[i] as number) > 0 && at < oldest) oldest = at;
    }
    return Math.max(1, oldest + 60 - s);
  }
}

interface KeyState {
  minute: MinuteCounter;
  running: number;
  subscriptions: number;
}

/**
 * The per-API-key limits (issue 12 item 4), one instance per gateway, shared by every transport (HTTP through
 * plugins/keyLimits.ts, graphql-ws through ws.ts): operations per minute (sliding, in one-second steps), queries and
 * mutations at once, subscriptions per socket and per key. {@link KeyLimits.admit} checks them all before it
 * counts anything, so a refused operation costs nothing; the first one that does not hold is the refusal, a
 * LIMIT_EXCEEDED GatewayError naming it (`limit`, `max`) with `retryAfter` in seconds.
 *
 * Counted in this process only: what they protect (this instance's memory, sockets and CPU) is per instance, a
 * count in Redis would add a round trip to every operation and make a Redis outage refuse operations, and a key's
 * subscriptions die with the instance that holds them. Behind a load balancer a key gets the limits once per
 * instance. State is per configured key (bounded by the config) and per socket (a WeakMap).
 */
export class KeyLimits {
  private readonly perKey = new Map<string, ResolvedKeyLimits>();
  private readonly defaults: ResolvedKeyLimits;
  private readonly state = new Map<string, KeyState>();
  private readonly socketSubscriptions = new WeakMap<object, number>();

  constructor(
    config: Pick<Config, 'server' | 'apiKeys'>,
    private readonly clock: () => number = Date.now,
    /** Told of each refusal: the key's name and the limit (metrics). */
    private readonly onRefused?: (keyName: string, limit: KeyLimitName) => void,
  ) {
    const server = config.server.keyLimits ?? {};
    const pick = <K extends KeyLimitName>(k: K, ...layers: Array<Partial<ResolvedKeyLimits> | undefined>) => {
      for (const l of layers) if (l && l[k] !== undefined) return l[k] as number | null;
      return KEY_LIMIT_DEFAULTS[k];
    };
    const resolve = (own?: Partial<ResolvedKeyLimits>): ResolvedKeyLimits => ({
      operationsPerMinute: pick('operationsPerMinute', own, server),
      concurrentOperations: pick('concurrentOperations', own, server),
      subscriptionsPerSocket: pick('subscriptionsPerSocket', own, server),
      subscriptionsPerKey: pick('subscriptionsPerKey', own, server),
    });
    this.defaults = resolve();
    for (const k of config.apiKeys) this.perKey.set(k.sha256, resolve(k.limits));
  }

  /** The limits of the key with this {@link Viewer.keyId}. */
  limitsOf(keyId: string): ResolvedKeyLimits {
    return this.perKey.get(keyId) ?? this.defaults;
  }

  /** What the key holds now (for tests and metrics). */
  usage(keyId: string): { operationsInMinute: number; running: number; subscriptions: number } {
    const s = this.state.get(keyId);
    return {
      operationsInMinute: s ? s.minute.count(this.clock()) : 0,
      running: s?.running ?? 0,
      subscriptions: s?.subscriptions ?? 0,
    };
  }

  /** Subscriptions open on this socket (or stream). */
  socketUsage(socket: object): number {
    return this.socketSubscriptions.get(socket) ?? 0;
  }

  /**
   * Admits one operation of `viewer`'s key, or throws the LIMIT_EXCEEDED GatewayError of the first limit it would
   * break (nothing counted then). A subscription counts against the subscriptions of `socket` (its graphql-ws socket,
   * or whatever object carries it) and of the key until released; a query or mutation against the key's concurrent
   * operations. Every admitted operation counts once in the key's operations per minute. `http` adds HTTP 429 and a
   * Retry-After header to the error (Apollo applies `extensions.http` and strips it from the answer).
   */
  admit(viewer: Viewer, kind: OperationKind, opts: { socket?: object; http?: boolean } = {}): KeyLease {
    const limits = this.limitsOf(viewer.keyId);
    let state = this.state.get(viewer.keyId);
    if (!state) this.state.set(viewer.keyId, (state = { minute: new MinuteCounter(), running: 0, subscriptions: 0 }));
    const s = state;
    const now = this.clock();
    const refuse = (limit: KeyLimitName, max: number, retryAfter: number, message: string) => {
      this.onRefused?.(viewer.keyName, limit);
      return new GatewayError(ErrorCode.LIMIT_EXCEEDED, message, {
        limit,
        max,
        retryAfter,
        ...(opts.http ? { http: { status: 429, headers: new Map([['retry-after', String(retryAfter)]]) } } : {}),
      });
    };

    const subscription = kind === 'subscription';
    const { socket } = opts;
    if (subscription) {
      const perSocket = limits.subscriptionsPerSocket;
      if (socket && perSocket !== null && this.socketUsage(socket) >= perSocket) {
        throw refuse(
          'subscriptionsPerSocket',
          perSocket,
          SUBSCRIPTION_RETRY_AFTER_S,
          `This connection has ${perSocket} subscriptions open, the most allowed per connection; complete one first.`,
        );
      }
      const perKey = limits.subscriptionsPerKey;
      if (perKey !== null && s.subscriptions >= perKey) {
        throw refuse(
          'subscriptionsPerKey',
          perKey,
          SUBSCRIPTION_RETRY_AFTER_S,
          `This API key has ${perKey} subscriptions open, the most allowed per key; complete one first.`,
        );
      }
    } else {
      const max = limits.concurrentOperations;
      if (max !== null && s.running >= max) {
        throw refuse(
          'concurrentOperations',
          max,
          CONCURRENCY_RETRY_AFTER_S,
          `This API key has ${max} operations running, the most allowed at once; retry when one has finished.`,
        );
      }
    }
    const perMinute = limits.operationsPerMinute;
    if (perMinute !== null && s.minute.count(now) >= perMinute) {
      const retryAfter = s.minute.retryAfter(now);
      throw refuse(
        'operationsPerMinute',
        perMinute,
        retryAfter,
        `This API key started ${perMinute} operations within a minute, the most allowed; retry in ${retryAfter} s.`,
      );
    }

    s.minute.add(now);
    if (subscription) {
      s.subscriptions++;
      if (socket) this.socketSubscriptions.set(socket, this.socketUsage(socket) + 1);
    } else {
      s.running++;
    }
    let released = false;
    const perSocketCount = this.socketSubscriptions;
    return {
      // A method, not a named arrow: a lease is held per subscription, and tsx (esbuild's keepNames) gives a named
      // arrow a 256-byte property dictionary (issue 14, memory per subscriber).
      release() {
        if (released) return;
        released = true;
        if (subscription) {
          s.subscriptions--;
          if (socket) perSocketCount.set(socket, Math.max(0, (perSocketCount.get(socket) ?? 0) - 1));
        } else {
          s.running--;
        }
      },
    };
  }
}
