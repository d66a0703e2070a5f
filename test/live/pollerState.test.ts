import { ErrorCode, GatewayError } from '../../src/errors';
import { delayIn, holdsLease, nextPollerState, type PollerEvent, type PollerState } from '../../src/live/pollerState';

/** docs/live.md "Poller states": the transition table, the lease each state holds, and each state's delay. */
describe('poller states', () => {
  const boom = new Error('boom');
  const idle: PollerState = { phase: 'idle' };
  const standby = (failures: number): PollerState => ({ phase: 'standby', failures });
  const holding = (failures: number): PollerState => ({ phase: 'holding', failures });
  const backoff = (failures: number, lease: 'held' | 'unknown', retryAfterMs: number | null = null): PollerState => ({
    phase: 'backoff',
    failures,
    lease,
    retryAfterMs,
  });
  const stopped: PollerState = { phase: 'stopped' };

  const leaseTaken: PollerEvent = { type: 'leaseTaken' };
  const leaseElsewhere: PollerEvent = { type: 'leaseElsewhere' };
  const leaseFailed: PollerEvent = { type: 'leaseFailed', error: boom };
  const polled: PollerEvent = { type: 'polled' };
  const pollFailed: PollerEvent = { type: 'pollFailed', error: boom };
  const stop: PollerEvent = { type: 'stop' };

  it.each<[string, PollerState, PollerEvent, PollerState]>([
    ['idle takes the lease', idle, leaseTaken, holding(0)],
    ['idle finds it elsewhere', idle, leaseElsewhere, standby(0)],
    ['idle cannot reach the store', idle, leaseFailed, backoff(1, 'unknown')],
    ['standby takes over', standby(2), leaseTaken, holding(2)],
    ['standby stays', standby(2), leaseElsewhere, standby(2)],
    ['standby cannot reach the store', standby(2), leaseFailed, backoff(3, 'unknown')],
    ['holding confirms its lease', holding(1), leaseTaken, holding(1)],
    ['holding lost its lease', holding(0), leaseElsewhere, standby(0)],
    ['holding cannot reach the store', holding(0), leaseFailed, backoff(1, 'unknown')],
    ['a poll that works resets failures', holding(3), polled, holding(0)],
    ['a poll that fails keeps the lease', holding(0), pollFailed, backoff(1, 'held')],
    ['backoff takes the lease', backoff(2, 'held'), leaseTaken, holding(2)],
    ['backoff finds it elsewhere', backoff(2, 'unknown'), leaseElsewhere, standby(2)],
    ['backoff fails again', backoff(2, 'held'), leaseFailed, backoff(3, 'unknown')],
    ['idle stops', idle, stop, stopped],
    ['standby stops', standby(1), stop, stopped],
    ['holding stops', holding(0), stop, stopped],
    ['backoff stops', backoff(1, 'held'), stop, stopped],
    ['a tick in flight ends without effect once stopped', stopped, leaseTaken, stopped],
    ['a poll in flight ends without effect once stopped', stopped, polled, stopped],
  ])('%s', (_name, from, event, to) => {
    expect(nextPollerState(from, event)).toEqual(to);
  });

  it('keeps the Retry-After a rate-limited source asked for', () => {
    const limited = new GatewayError(ErrorCode.SOURCE_RATE_LIMITED, 'slow down', { retryAfter: 7 });
    expect(nextPollerState(holding(0), { type: 'pollFailed', error: limited })).toEqual(backoff(1, 'held', 7000));
  });

  it('takes over (re-reads the totals) from every state that did not hold the lease', () => {
    expect([idle, standby(0), holding(0), backoff(1, 'held'), backoff(1, 'unknown'), stopped].map(holdsLease)).toEqual([
      false,
      false,
      true,
      true,
      false,
      false,
    ]);
  });

  it('waits per state: at once, standby checks, the interval, backoff, never', () => {
    const timing = { intervalMs: 1000, leaseMs: 2000 };
    expect(delayIn(idle, timing)).toBe(0);
    expect(delayIn(standby(0), timing)).toBe(500);
    expect(delayIn(standby(0), { intervalMs: 10, leaseMs: 20 })).toBe(50);
    expect(delayIn(holding(0), timing)).toBe(1000);
    expect(delayIn(backoff(1, 'held', 7000), timing)).toBe(7000);
    expect(delayIn(backoff(1, 'held', 10), timing)).toBe(1000);
    for (const failures of [1, 2, 3, 10]) {
      const d = delayIn(backoff(failures, 'unknown'), timing) as number;
      const e = Math.min(60_000, 1000 * 2 ** failures);
      expect(d).toBeGreaterThanOrEqual(e / 2);
      expect(d).toBeLessThanOrEqual(e);
    }
    expect(delayIn(stopped, timing)).toBeNull();
  });
});
