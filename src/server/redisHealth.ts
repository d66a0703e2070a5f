import type { Redis } from 'ioredis';
import type { Logger } from './logger';

/**
 * # Redis health (issue 12 item 2: a Redis outage costs nothing but Redis)
 *
 * Redis is a shared helper of the gateway, never a source of truth: catalogs, live coordination, pub/sub and
 * persisted queries each keep working on a local fallback while it is down. This object is the one place that
 * knows whether Redis is reachable, built once per gateway by server/services.ts over the gateway's ioredis
 * clients (`watch`), and handed to every store that uses Redis.
 *
 * - {@link RedisHealth.state}: `connecting` until every watched client is ready the first time, `up` while all
 *   are, `down` from the moment one of them loses its connection (or fails to open it) until all are ready again.
 *   ioredis keeps reconnecting on its own; nothing else probes. A connection that stays open while Redis does not
 *   answer (a partition, a frozen process) is caught by the clients' `commandTimeout` (`redis.commandTimeoutMs`):
 *   two guarded calls timed out in a row are an outage, and every client is made to reconnect.
 * - {@link RedisHealth.guard}: runs a Redis call, or its local fallback when Redis is known down, when the call
 *   fails, or when Redis goes down while the call waits (a command in flight when the connection drops would
 *   otherwise wait for ioredis's reconnect attempts).
 * - Logs ONE warn line per outage (`redis unavailable`, with the client and the error) and one info line when it
 *   ends (`redis available again`, with `downMs`); the clients' own `error` events (one per reconnect attempt)
 *   are absorbed here, so no ioredis client ever emits an unhandled `error` event.
 * - `/readyz` (server/middleware/readiness.ts) and `switchboard_redis_up` (server/metrics.ts) read it.
 *
 * For other stores (idempotency, server/idempotency.ts): read {@link RedisHealth.isDown} (fall back or refuse
 * at once, without a round trip), subscribe to {@link RedisHealth.onChange}, or wrap calls in
 * {@link RedisHealth.guard}. Without Redis configured, services.ts builds none (`null`).
 */
export type RedisState = 'connecting' | 'up' | 'down';

export interface RedisHealth {
  state(): RedisState;
  /** Every watched client is connected and ready. */
  isUp(): boolean;
  /** Redis is known to be unreachable: fall back (or refuse) without trying it. */
  isDown(): boolean;
  /** When the current outage began (epoch ms), null while not down. */
  downSince(): number | null;
  /** The last connection error of the current or last outage (`ECONNREFUSED`, a message), for logs and /readyz. */
  lastError(): string | null;
  /** Outages begun since start (each one logged once). */
  outages(): number;
  /** Calls that fell back to a local store (known down, failed, or cut by the outage) since start. */
  fallbacks(): number;
  /** Called with `true` when Redis comes back, `false` when it goes down. Returns the unsubscribe function. */
  onChange(listener: (up: boolean) => void): () => void;
  /**
   * `run` against Redis, or `fallback` when Redis is down, `run` fails, or Redis goes down while it waits. `run`'s
   * own late settling is ignored after a fallback.
   */
  guard<T>(run: () => Promise<T>, fallback: () => T | Promise<T>): Promise<T>;
  /** A point in time, for {@link degradedSince}: the state and counters now. */
  mark(): RedisHealthMark;
  /** Whether Redis was down, went down, or a call fell back, between `mark` and now (an operation's warning). */
  degradedSince(mark: RedisHealthMark): boolean;
  /** Watches an ioredis client (adds the error listener every client needs). `role` names it in logs. */
  watch(client: Redis, role: string): void;
  /** Stops counting the watched clients' closing as an outage (call before quitting them). */
  close(): void;
}

export interface RedisHealthMark {
  down: boolean;
  outages: number;
  fallbacks: number;
}

type ClientState = 'connecting' | 'ready' | 'lost';

/** ioredis's error when a command outlives `commandTimeout` (its Command.setTimeout). */
const COMMAND_TIMED_OUT = 'Command timed out';
/** Guarded calls timed out in a row that make an outage (one slow command alone does not). */
export const TIMEOUTS_FOR_OUTAGE = 2;

export function createRedisHealth(opts: { logger: Logger; now?: () => number }): RedisHealth {
  const { logger } = opts;
  const now = opts.now ?? Date.now;
  const clients = new Map<string, ClientState>();
  const watched = new Map<string, Redis>();
  /** Guarded calls that timed out in a row (ioredis `commandTimeout`), reset by any answer. */
  let timeouts = 0;
  const listeners = new Set<(up: boolean) => void>();
  let state: RedisState = 'connecting';
  let since: number | null = null;
  let lastError: string | null = null;
  let outages = 0;
  let fallbacks = 0;
  let closed = false;
  /** Settles when the current up (or connecting) period ends: guard() races its call against it. */
  let wentDown = newSignal();

  function newSignal() {
    let fire!: () => void;
    const promise = new Promise<'down'>((resolve) => (fire = () => resolve('down')));
    return { promise, fire };
  }

  const emit = (up: boolean) => {
    for (const l of [...listeners]) {
      try {
        l(up);
      } catch (e) {
        logger.warn({ err: String(e) }, 'redis health listener failed');
      }
    }
  };

  const update = (role: string) => {
    if (closed) return;
    const states = [...clients.values()];
    const next: RedisState = states.some((s) => s === 'lost')
      ? 'down'
      : states.every((s) => s === 'ready')
        ? 'up'
        : state === 'down'
          ? 'down'
          : 'connecting';
    if (next === state) return;
    const prev = state;
    state = next;
    if (next === 'down') {
      since = now();
      outages++;
      wentDown.fire();
      logger.warn({ client: role, err: lastError }, 'redis unavailable');
      emit(false);
    } else if (next === 'up') {
      if (prev === 'down') {
        const downMs = since === null ? 0 : now() - since;
        since = null;
        wentDown = newSignal();
        logger.info({ downMs, lastError }, 'redis available again');
        emit(true);
      }
    }
  };

  /**
   * Commands that time out while the connections look open (a network partition, a frozen Redis: no `close` ever
   * comes): {@link TIMEOUTS_FOR_OUTAGE} in a row are an outage. Every client is dropped and reconnects, so that
   * ioredis's own events (a failed connect or ready check, then `ready`) end the outage.
   */
  const timedOut = () => {
    timeouts++;
    if (timeouts < TIMEOUTS_FOR_OUTAGE || state === 'down' || closed) return;
    timeouts = 0;
    lastError = COMMAND_TIMED_OUT;
    for (const role of watched.keys()) clients.set(role, 'lost');
    update([...watched.keys()][0] ?? 'commands');
    for (const client of watched.values()) client.disconnect(true);
  };

  const health: RedisHealth = {
    state: () => state,
    isUp: () => state === 'up',
    isDown: () => state === 'down',
    downSince: () => since,
    lastError: () => lastError,
    outages: () => outages,
    fallbacks: () => fallbacks,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async guard(run, fallback) {
      if (state === 'down') {
        fallbacks++;
        return fallback();
      }
      try {
        const call = run();
        call.catch(() => undefined); // settles late after a fallback: nobody awaits it then
        const r = await Promise.race([call.then((value) => ({ value })), wentDown.promise]);
        if (r !== 'down') {
          timeouts = 0;
          return r.value;
        }
      } catch (e) {
        // A failed call falls back like an outage (one log line per outage, not per call).
        if ((e as Error)?.message === COMMAND_TIMED_OUT) timedOut();
      }
      fallbacks++;
      return fallback();
    },
    mark: () => ({ down: state === 'down', outages, fallbacks }),
    degradedSince: (m) => m.down || state === 'down' || outages !== m.outages || fallbacks !== m.fallbacks,
    watch(client, role) {
      watched.set(role, client);
      clients.set(role, client.status === 'ready' ? 'ready' : 'connecting');
      client.on('error', (e: Error & { code?: string }) => {
        // One per reconnect attempt while Redis is down: remembered for the outage's log line, never logged here.
        lastError = e.code ?? e.message;
      });
      client.on('ready', () => {
        clients.set(role, 'ready');
        update(role);
      });
      client.on('close', () => {
        if (closed) return;
        clients.set(role, 'lost');
        update(role);
      });
      update(role);
    },
    close() {
      closed = true;
      wentDown.fire();
      listeners.clear();
    },
  };
  return health;
}
