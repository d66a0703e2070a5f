import { ErrorCode, GatewayError } from '../errors';

/**
 * The lifecycle of one source's poller, as data (docs/live.md "Poller states"): its states, the events a tick
 * produces, every transition in one function, and the delay of each state. Pure: pollers.ts runs it.
 */

/** Longest pause between poll attempts after errors (unless the interval itself is longer). */
const MAX_BACKOFF_MS = 60_000;
/** Shortest pause of a poller standing by. */
const MIN_STANDBY_MS = 50;

/**
 * The state of one source's poller on this instance (docs/live.md "Poller states"). `failures` counts the
 * attempts that failed in a row (a lease round trip or a poll); a poll that works resets it.
 */
export type PollerState =
  /** Just started: the first tick runs at once, takes the lease (or learns who holds it) and sets the baseline. */
  | { phase: 'idle' }
  /** Another instance holds the lease: this one checks every min(interval, lease / 4) to take over. */
  | { phase: 'standby'; failures: number }
  /** This instance holds the lease and polls every interval. */
  | { phase: 'holding'; failures: number }
  /**
   * The last attempt failed: the next one waits an exponential backoff with jitter, or the source's Retry-After.
   * `lease`: `held` when the poll failed while this instance held the lease (it keeps renewing it), `unknown`
   * when the shared store could not be reached (nobody can be sure to hold it, so nobody polls).
   */
  | { phase: 'backoff'; failures: number; lease: 'held' | 'unknown'; retryAfterMs: number | null }
  /** Nobody on this instance watches the source any more, or the engine closed: no more ticks. */
  | { phase: 'stopped' };

/** What happens to a poller (docs/live.md "Poller states", the transition table). */
export type PollerEvent =
  | { type: 'leaseTaken' }
  | { type: 'leaseElsewhere' }
  | { type: 'leaseFailed'; error: unknown }
  | { type: 'polled' }
  | { type: 'pollFailed'; error: unknown }
  | { type: 'stop' };

/** Closes a switch that has handled every case: a new case is a compile error here. */
export class UnreachableCaseError extends Error {
  constructor(value: never) {
    super(`Unreachable case: ${JSON.stringify(value)}`);
  }
}

/** Every transition of a poller, in one place (docs/live.md "Poller states"). */
export function nextPollerState(state: PollerState, event: PollerEvent): PollerState {
  if (state.phase === 'stopped') return state; // a tick in flight ends without effect
  const failures = failuresIn(state);
  switch (event.type) {
    case 'stop':
      return { phase: 'stopped' };
    case 'leaseFailed':
      return { phase: 'backoff', failures: failures + 1, lease: 'unknown', retryAfterMs: retryAfterMs(event.error) };
    case 'leaseElsewhere':
      return { phase: 'standby', failures };
    case 'leaseTaken':
      return { phase: 'holding', failures };
    case 'polled':
      return { phase: 'holding', failures: 0 };
    case 'pollFailed':
      return { phase: 'backoff', failures: failures + 1, lease: 'held', retryAfterMs: retryAfterMs(event.error) };
    default:
      throw new UnreachableCaseError(event);
  }
}

function failuresIn(state: PollerState): number {
  switch (state.phase) {
    case 'idle':
    case 'stopped':
      return 0;
    case 'standby':
    case 'holding':
    case 'backoff':
      return state.failures;
    default:
      throw new UnreachableCaseError(state);
  }
}

/**
 * Whether this instance held the lease at its last tick: a tick that takes the lease from any other state took
 * it over, and re-reads the totals (changes may have happened while nobody here polled).
 */
export function holdsLease(state: PollerState): boolean {
  switch (state.phase) {
    case 'holding':
      return true;
    case 'backoff':
      return state.lease === 'held';
    case 'idle':
    case 'standby':
    case 'stopped':
      return false;
    default:
      throw new UnreachableCaseError(state);
  }
}

/** How long a poller waits in a state before its next tick; null: no more ticks. */
export function delayIn(state: PollerState, timing: { intervalMs: number; leaseMs: number }): number | null {
  switch (state.phase) {
    case 'idle':
      return 0;
    case 'standby':
      return Math.max(MIN_STANDBY_MS, Math.min(timing.intervalMs, Math.floor(timing.leaseMs / 4)));
    case 'holding':
      return timing.intervalMs;
    case 'backoff': {
      if (state.retryAfterMs !== null) return Math.max(state.retryAfterMs, timing.intervalMs);
      const cap = Math.max(timing.intervalMs, MAX_BACKOFF_MS);
      const exp = Math.min(cap, timing.intervalMs * 2 ** Math.min(state.failures, 20));
      // "Equal jitter": half fixed, half random, so instances that failed together do not retry together.
      return exp / 2 + Math.random() * (exp / 2);
    }
    case 'stopped':
      return null;
    default:
      throw new UnreachableCaseError(state);
  }
}

/** SOURCE_RATE_LIMITED with `retryAfter` (seconds): the source said how long to wait. */
function retryAfterMs(error: unknown): number | null {
  if (error instanceof GatewayError && error.code === ErrorCode.SOURCE_RATE_LIMITED) {
    const retryAfter = error.extensions.retryAfter;
    if (typeof retryAfter === 'number' && retryAfter > 0) return retryAfter * 1000;
  }
  return null;
}
