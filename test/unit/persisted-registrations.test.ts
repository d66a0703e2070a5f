import { RegistrationCounter } from '../../src/server/persisted';

/** Issue 12 item 5: the per-key registration count runs over fixed windows (an injected clock, no waiting). */
describe('RegistrationCounter (in memory)', () => {
  it('allows `max` registrations a key per window, says how long until the next window, and starts again then', async () => {
    let now = 1_000_000 * 60_000 + 15_000; // 15 s into a window of 60 s
    const counter = new RegistrationCounter({ max: 2, windowMs: 60_000 }, () => now);
    expect(await counter.take('a')).toEqual({ ok: true });
    expect(await counter.take('a')).toEqual({ ok: true });
    expect(await counter.take('a')).toEqual({ ok: false, count: 3, retryAfterSeconds: 45 });
    // Another key has its own count.
    expect(await counter.take('b')).toEqual({ ok: true });
    now += 44_500;
    expect(await counter.take('a')).toEqual({ ok: false, count: 4, retryAfterSeconds: 1 });
    now += 500; // the next window
    expect(await counter.take('a')).toEqual({ ok: true });
    expect(await counter.take('a')).toEqual({ ok: true });
    expect((await counter.take('a')).ok).toBe(false);
  });
});
