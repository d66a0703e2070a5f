import DataLoader from 'dataloader';
import { nullIfNotFound, perKey, settleEach } from '../../../src/connectors/batch';
import { ErrorCode, GatewayError } from '../../../src/errors';

/**
 * The shared per-key batch adapter (src/connectors/batch.ts) every connector's DataLoaders use: each key settles
 * on its own, a vendor NOT_FOUND is null, and every other failure stays its key's own error. The contract suite
 * checks the same over real HTTP for every connector (test/contract/connectorContract.ts).
 */
const notFound = () => new GatewayError(ErrorCode.NOT_FOUND, 'no such object', { source: 's' });
const forbidden = () => new GatewayError(ErrorCode.FORBIDDEN, 'denied', { source: 's' });
const unavailable = () => new GatewayError(ErrorCode.SOURCE_UNAVAILABLE, 'down', { source: 's' });

/** A fake vendor read: `missing` is NOT_FOUND, `forbidden` FORBIDDEN, `down` SOURCE_UNAVAILABLE, `weird` throws a string. */
async function read(id: string): Promise<{ id: string }> {
  await new Promise((r) => setImmediate(r));
  if (id === 'missing') throw notFound();
  if (id === 'forbidden') throw forbidden();
  if (id === 'down') throw unavailable();
  if (id === 'weird') throw 'not an Error';
  return { id };
}

describe('settleEach', () => {
  it('gives each key its own outcome, in key order: value, null for NOT_FOUND, or its own error', async () => {
    const out = await settleEach(['a', 'missing', 'forbidden', 'b', 'down'], read);
    expect(out).toHaveLength(5);
    expect(out[0]).toEqual({ id: 'a' });
    expect(out[1]).toBeNull();
    expect(out[2]).toBeInstanceOf(GatewayError);
    expect((out[2] as GatewayError).code).toBe(ErrorCode.FORBIDDEN);
    expect(out[3]).toEqual({ id: 'b' });
    expect((out[4] as GatewayError).code).toBe(ErrorCode.SOURCE_UNAVAILABLE);
  });

  it('wraps a thrown non-Error in an Error, and a synchronous throw too', async () => {
    const [weird] = await settleEach(['weird'], read);
    expect(weird).toBeInstanceOf(Error);
    expect((weird as Error).message).toBe('not an Error');
    const [sync] = await settleEach(['x'], (): Promise<number> => {
      throw forbidden();
    });
    expect((sync as GatewayError).code).toBe(ErrorCode.FORBIDDEN);
  });

  it("keeps NOT_FOUND as the key's error with notFound: 'error'", async () => {
    const out = await settleEach(['missing', 'a'], read, { notFound: 'error' });
    expect((out[0] as GatewayError).code).toBe(ErrorCode.NOT_FOUND);
    expect(out[1]).toEqual({ id: 'a' });
  });

  it('keeps at most `concurrency` loads in flight, and calls each key exactly once', async () => {
    let inFlight = 0;
    let most = 0;
    const calls: number[] = [];
    const keys = Array.from({ length: 20 }, (_, i) => i);
    const out = await settleEach(
      keys,
      async (k) => {
        calls.push(k);
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 1));
        inFlight--;
        if (k % 5 === 0) throw unavailable();
        return k * 2;
      },
      { concurrency: 3 },
    );
    expect(most).toBe(3);
    expect([...calls].sort((a, b) => a - b)).toEqual(keys);
    expect(out.map((v) => (v instanceof Error ? 'error' : v))).toEqual(
      keys.map((k) => (k % 5 === 0 ? 'error' : k * 2)),
    );
  });

  it('answers an empty batch with an empty list', async () => {
    expect(await settleEach([], read)).toEqual([]);
  });
});

describe('perKey as a DataLoader batch function', () => {
  it('one batch: the failing key rejects alone, the missing key is null, the others resolve', async () => {
    const batches: string[][] = [];
    const batch = perKey(read);
    const loader = new DataLoader<string, { id: string } | null>((ids) => {
      batches.push([...ids]);
      return batch(ids);
    });
    const [a, missing, denied, b] = await Promise.allSettled([
      loader.load('a'),
      loader.load('missing'),
      loader.load('forbidden'),
      loader.load('b'),
    ]);
    expect(batches).toEqual([['a', 'missing', 'forbidden', 'b']]);
    expect(a).toEqual({ status: 'fulfilled', value: { id: 'a' } });
    expect(missing).toEqual({ status: 'fulfilled', value: null });
    expect(denied.status).toBe('rejected');
    expect(((denied as PromiseRejectedResult).reason as GatewayError).code).toBe(ErrorCode.FORBIDDEN);
    expect(b).toEqual({ status: 'fulfilled', value: { id: 'b' } });
  });
});

describe('nullIfNotFound', () => {
  it('is null for NOT_FOUND and rethrows anything else', async () => {
    expect(await nullIfNotFound(read('missing'))).toBeNull();
    expect(await nullIfNotFound(read('a'))).toEqual({ id: 'a' });
    await expect(nullIfNotFound(read('forbidden'))).rejects.toMatchObject({ code: ErrorCode.FORBIDDEN });
  });
});
