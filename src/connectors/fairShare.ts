import type { RequestScope } from './types';

/**
 * The tenant of upstream work that no API key asked for: the live engine's pollers and re-reads, readiness probes,
 * and catalog syncs (shared by every key, so charged to none). It shares a source's budget like one more key.
 */
export const BACKGROUND_TENANT = 'background';

/**
 * Default of a source's `keyReserve`: the fraction of its per-minute budget kept for tenants that have used little
 * of the window. Monica's 60 a minute: the last 15 requests of any minute go only to keys that have sent fewer than
 * 8 in it, so one key (or one key and the poller) can never leave another key nothing.
 */
export const DEFAULT_KEY_RESERVE = 0.25;

/** The tenant an upstream call is charged to: its scope's API key, else the background. */
export function tenantOf(scope: RequestScope): string {
  return scope.tenant ?? BACKGROUND_TENANT;
}

/** `scope` charged to the background tenant (same request id, signal and reporting): for shared work. */
export function backgroundScope(scope: RequestScope): RequestScope {
  return scope.tenant === undefined ? scope : { ...scope, tenant: undefined };
}

export interface FairShareOptions {
  /** Calls in flight at once (the source's `maxConcurrency`). */
  maxConcurrency: number;
  /** At most `limit` admissions in any `windowMs` (the source's `rateLimitPerMinute`); null: no rate cap. */
  rate: { limit: number; windowMs: number } | null;
  /**
   * Fraction (0 to 0.9) of `rate.limit` kept for light tenants: once only this many slots of the window are free, a
   * tenant that has been admitted `lightMax` times or more in the window waits. @default {@link DEFAULT_KEY_RESERVE}
   */
  keyReserve?: number;
  /** Calls that may wait at once; beyond, refused at once. */
  maxQueued: number;
  /** @default Date.now */
  now?: () => number;
}

/** Why a call was not admitted (the HTTP client words the error). */
export type Refusal =
  /** The whole queue is full. */
  | { kind: 'queue'; retryAfterMs: number }
  /** Waited `maxWaitMs` for a concurrency slot. */
  | { kind: 'concurrency'; retryAfterMs: number }
  /** The window's slots are all used, and the next one frees too late. */
  | { kind: 'rate'; retryAfterMs: number }
  /** Slots are free, but only the reserve, and this tenant is not light: `used` of the window are its. */
  | { kind: 'share'; retryAfterMs: number; used: number };

/** Thrown by {@link FairShare.acquire} when a call is not admitted. */
export class AdmissionRefused extends Error {
  constructor(readonly refusal: Refusal) {
    super(`admission refused (${refusal.kind})`);
    this.name = 'AdmissionRefused';
  }
}

interface Waiter {
  tenant: string;
  resolve: (release: () => void) => void;
  reject: (e: unknown) => void;
  /** Clears the waiter's timer and abort listener. */
  done: () => void;
}

/**
 * Admission of one source's upstream calls, fair between tenants (API keys, and {@link BACKGROUND_TENANT}):
 * - **concurrency**: at most `maxConcurrency` calls in flight; waiting calls queue per tenant, and each free slot goes
 *   to the waiting tenant served longest ago (round-robin), so a key with 70 calls queued delays another key's call
 *   by at most one call per waiting tenant, not by its 70;
 * - **rate**: at most `rate.limit` admissions in any `rate.windowMs` (a sliding window, so a vendor's fixed or sliding
 *   window is never exceeded); the last `reserve = floor(limit × keyReserve)` free slots of the window go only to
 *   *light* tenants (fewer than `lightMax = max(1, floor(reserve / 2))` admissions in the window), so a heavy key
 *   cannot take another key's last slots even when that key arrives later;
 * - a call whose wait would exceed its budget is refused at once, with how long until it could go
 *   ({@link Refusal}); a call that waited its whole budget is refused then; an aborted wait gives nothing back
 *   because it took nothing.
 * Per process: each gateway instance admits its own calls (like `rateLimitPerMinute`).
 */
export class FairShare {
  readonly maxConcurrency: number;
  readonly rate: { limit: number; windowMs: number } | null;
  /** Free slots of the window kept for light tenants. */
  readonly reserve: number;
  /** A tenant with fewer admissions than this in the window is light. */
  readonly lightMax: number;
  private readonly maxQueued: number;
  private readonly now: () => number;
  private inFlight = 0;
  private queued = 0;
  /** Waiting calls per tenant. */
  private readonly queues = new Map<string, Waiter[]>();
  /** When each tenant was last admitted (a sequence number): the turn goes to the one served longest ago. */
  private readonly lastServed = new Map<string, number>();
  private served = 0;
  /** Admissions in the window, ascending by time. */
  private readonly sent: Array<{ at: number; tenant: string }> = [];
  private readonly usedBy = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(opts: FairShareOptions) {
    this.maxConcurrency = opts.maxConcurrency;
    this.rate = opts.rate;
    this.maxQueued = opts.maxQueued;
    this.now = opts.now ?? Date.now;
    const share = Math.min(0.9, Math.max(0, opts.keyReserve ?? DEFAULT_KEY_RESERVE));
    this.reserve = this.rate ? Math.floor(this.rate.limit * share) : 0;
    this.lightMax = Math.max(1, Math.floor(this.reserve / 2));
  }

  /** Admissions of `tenant` in the current window. */
  used(tenant: string): number {
    this.prune(this.now());
    return this.usedBy.get(tenant) ?? 0;
  }

  /** Calls in flight and waiting (for tests and metrics). */
  get state(): { inFlight: number; queued: number; sentInWindow: number } {
    this.prune(this.now());
    return { inFlight: this.inFlight, queued: this.queued, sentInWindow: this.sent.length };
  }

  /**
   * Waits for a concurrency slot and a rate slot, up to `maxWaitMs` and until `signal` aborts (rejecting with the
   * signal's reason). Resolves with `release`, to call once the call has ended; rejects with
   * {@link AdmissionRefused}.
   */
  acquire(tenant: string, maxWaitMs: number, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.queued >= this.maxQueued) {
      return Promise.reject(new AdmissionRefused({ kind: 'queue', retryAfterMs: 1000 }));
    }
    const now = this.now();
    const rateWait = this.rateWait(tenant, now);
    if (rateWait > maxWaitMs) return Promise.reject(new AdmissionRefused(this.rateRefusal(tenant, now, rateWait)));
    return new Promise<() => void>((resolve, reject) => {
      const onAbort = () => {
        if (this.remove(waiter)) reject(signal?.reason);
      };
      const timeout = setTimeout(() => {
        if (!this.remove(waiter)) return;
        const t = this.now();
        const wait = this.rateWait(tenant, t);
        reject(
          new AdmissionRefused(
            wait > 0 ? this.rateRefusal(tenant, t, wait) : { kind: 'concurrency', retryAfterMs: maxWaitMs },
          ),
        );
      }, maxWaitMs);
      const waiter: Waiter = {
        tenant,
        resolve,
        reject,
        done: () => {
          clearTimeout(timeout);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      let q = this.queues.get(tenant);
      if (!q) this.queues.set(tenant, (q = []));
      q.push(waiter);
      this.queued++;
      this.pump();
    });
  }

  /** Admits waiting calls while slots are free, one tenant at a time in turn. */
  private pump() {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.inFlight < this.maxConcurrency && this.queued > 0) {
      const now = this.now();
      this.prune(now);
      let picked: string | null = null;
      let pickedAt = Infinity;
      for (const tenant of this.queues.keys()) {
        const at = this.lastServed.get(tenant) ?? -1;
        if (at < pickedAt && this.rateAllows(tenant)) {
          picked = tenant;
          pickedAt = at;
        }
      }
      if (picked === null) {
        // Every waiting tenant waits for the window: look again when its oldest admission leaves it.
        const oldest = this.sent[0];
        const wait = oldest && this.rate ? Math.max(1, oldest.at + this.rate.windowMs - now) : 1;
        this.timer = setTimeout(() => this.pump(), wait);
        return;
      }
      const q = this.queues.get(picked) as Waiter[];
      const waiter = q.shift() as Waiter;
      if (q.length === 0) this.queues.delete(picked);
      this.lastServed.set(picked, ++this.served);
      this.queued--;
      waiter.done();
      if (this.rate) {
        this.sent.push({ at: now, tenant: picked });
        this.usedBy.set(picked, (this.usedBy.get(picked) ?? 0) + 1);
      }
      this.inFlight++;
      let released = false;
      waiter.resolve(() => {
        if (released) return;
        released = true;
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** Takes a waiter out of its queue; false when it was no longer waiting. */
  private remove(waiter: Waiter): boolean {
    const q = this.queues.get(waiter.tenant);
    const i = q ? q.indexOf(waiter) : -1;
    if (!q || i < 0) return false;
    q.splice(i, 1);
    if (q.length === 0) this.queues.delete(waiter.tenant);
    this.queued--;
    waiter.done();
    if (this.queued === 0 && this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    return true;
  }

  /** Whether the window lets `tenant` have a slot now (the window pruned). */
  private rateAllows(tenant: string): boolean {
    if (!this.rate) return true;
    const free = this.rate.limit - this.sent.length;
    if (free <= 0) return false;
    return free > this.reserve || (this.usedBy.get(tenant) ?? 0) < this.lightMax;
  }

  /** Milliseconds until the window would let `tenant` have a slot, ignoring calls queued before it (0 = now). */
  private rateWait(tenant: string, now: number): number {
    if (!this.rate) return 0;
    this.prune(now);
    if (this.rateAllows(tenant)) return 0;
    // Admissions leave the window oldest first: find the first one whose leaving lets the tenant in.
    let free = this.rate.limit - this.sent.length;
    let mine = this.usedBy.get(tenant) ?? 0;
    for (const s of this.sent) {
      free++;
      if (s.tenant === tenant) mine--;
      if (free > this.reserve || (free > 0 && mine < this.lightMax)) return s.at + this.rate.windowMs - now;
    }
    return this.rate.windowMs;
  }

  private rateRefusal(tenant: string, now: number, wait: number): Refusal {
    this.prune(now);
    const free = this.rate ? this.rate.limit - this.sent.length : 0;
    return free > 0
      ? { kind: 'share', retryAfterMs: wait, used: this.usedBy.get(tenant) ?? 0 }
      : { kind: 'rate', retryAfterMs: wait };
  }

  private prune(now: number) {
    if (!this.rate) return;
    let n = 0;
    while (n < this.sent.length && (this.sent[n] as { at: number }).at <= now - this.rate.windowMs) {
      const { tenant } = this.sent[n] as { tenant: string };
      const left = (this.usedBy.get(tenant) ?? 1) - 1;
      if (left > 0) this.usedBy.set(tenant, left);
      else this.usedBy.delete(tenant);
      n++;
    }
    if (n > 0) this.sent.splice(0, n);
  }
}
