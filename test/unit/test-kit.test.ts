import { createConnector } from '../../src/connectors/registry';
import { createPushIterator } from '../../src/live/queue';
import { ErrorCode, GatewayError } from '../../src/errors';
import { VENDORS } from '../../src/sandbox';
import { errorCodes, expectGatewayError, rejection, thrown } from '../utils/errors';
import { deleteKeys, randomPrefix, REDIS_URL, redisClients } from '../utils/redis';
import { vendorConfig, vendorEntry } from '../utils/vendors';
import { collect, deferred, eventually, take, waitFor } from '../utils/wait';

/** The test kit (test/utils) does what the suites rely on, failures included. */

const notFound = () => new GatewayError(ErrorCode.NOT_FOUND, 'gone', { source: 'crm' });

describe('test kit: waits', () => {
  it('waitFor resolves with the first answer other than false, null or undefined, retrying through throws', async () => {
    const answers: unknown[] = [undefined, false, null, 'thrown', 0, 'late'];
    const probe = () => {
      const a = answers.shift();
      if (a === 'thrown') throw new Error('not yet');
      return a as number | null | undefined | false;
    };
    await expect(waitFor(probe, { everyMs: 1 })).resolves.toBe(0);
    expect(answers).toEqual(['late']);
  });

  it('waitFor gives up after timeoutMs, naming what it waited for and the last error', async () => {
    await expect(waitFor(() => false, { timeoutMs: 30, what: 'the sky to fall' })).rejects.toThrow(
      /timed out after 30 ms waiting for the sky to fall$/,
    );
    await expect(
      waitFor(
        () => {
          throw new Error('still down');
        },
        { timeoutMs: 30 },
      ),
    ).rejects.toThrow(/waiting for a condition; last error: still down/);
  });

  it('eventually resolves once an expect-style check passes, and rethrows its last assertion error', async () => {
    let n = 0;
    await expect(eventually(() => expect(++n).toBe(3), { everyMs: 1 })).resolves.toBeUndefined();
    expect(n).toBe(3);
    await expect(eventually(() => expect(1).toBe(2), { timeoutMs: 30 })).rejects.toThrow(/Expected: 2/);
  });

  it('deferred settles when the test says so', async () => {
    const d = deferred<number>();
    expect(d.settled).toBe(false);
    d.resolve(7);
    expect(d.settled).toBe(true);
    await expect(d.promise).resolves.toBe(7);
    const f = deferred();
    f.reject(new Error('no'));
    await expect(f.promise).rejects.toThrow('no');
  });

  it('take reads the next n values of an async iterator and leaves it open', async () => {
    const q = createPushIterator<number>(() => undefined);
    [1, 2, 3].forEach((v) => q.push(v));
    expect(await take(q.iterator, 2)).toEqual([1, 2]);
    setTimeout(() => q.push(4), 5);
    expect(await take(q.iterator, 2)).toEqual([3, 4]);
    await q.iterator.return!();
  });

  it('take fails when the values do not come in time, or the iterator ends first, saying how many came', async () => {
    const q = createPushIterator<number>(() => undefined);
    q.push(1);
    await expect(take(q.iterator, 3, { timeoutMs: 30 })).rejects.toThrow('expected 3 values within 30 ms, got 1');
    await q.iterator.return!();
    await expect(take(q.iterator, 1)).rejects.toThrow('the iterator ended after 0');
  });

  it('collect reads an iterable to its end, and fails when it does not end in time', async () => {
    async function* three() {
      yield* [1, 2, 3];
    }
    expect(await collect(three())).toEqual([1, 2, 3]);
    const q = createPushIterator<number>(() => undefined);
    q.push(1);
    await expect(collect(q.iterator, { timeoutMs: 30 })).rejects.toThrow('(1 values so far)');
    await q.iterator.return!();
  });
});

describe('test kit: errors', () => {
  it('rejection returns the GatewayError, rethrows any other error, and fails when the call succeeds', async () => {
    expect((await rejection(Promise.reject(notFound()))).code).toBe('NOT_FOUND');
    await expect(rejection(Promise.reject(new TypeError('bug')))).rejects.toThrow(TypeError);
    await expect(rejection(Promise.resolve(1))).rejects.toThrow('but the call succeeded');
  });

  it('thrown returns the GatewayError a synchronous call throws, and fails when it returns', () => {
    expect(
      thrown(() => {
        throw notFound();
      }).extensions,
    ).toEqual({ code: 'NOT_FOUND', source: 'crm' });
    expect(() => thrown(() => 1)).toThrow('but the call returned');
  });

  it('expectGatewayError checks the code (one of several) and the extensions', async () => {
    await expectGatewayError(Promise.reject(notFound()), 'NOT_FOUND', { source: 'crm' });
    await expectGatewayError(Promise.reject(notFound()), ['FORBIDDEN', 'NOT_FOUND']);
    await expect(expectGatewayError(Promise.reject(notFound()), 'FORBIDDEN')).rejects.toThrow(
      'expected a GatewayError with code FORBIDDEN, got NOT_FOUND',
    );
    await expect(expectGatewayError(Promise.reject(notFound()), 'NOT_FOUND', { source: 'x' })).rejects.toThrow();
  });

  it('errorCodes lists a GraphQL response’s codes in order', () => {
    expect(errorCodes({})).toEqual([]);
    expect(errorCodes({ errors: [{ extensions: { code: 'A' } }, {}, { extensions: { code: 'B' } }] })).toEqual([
      'A',
      undefined,
      'B',
    ]);
  });
});

describe('test kit: vendor configs', () => {
  it.each(VENDORS.map((v) => v.kind))('%s: the sandbox table’s config, with a test’s changes on top', (kind) => {
    const url = 'http://127.0.0.1:9';
    expect(vendorConfig(kind, url)).toEqual(vendorEntry(kind).sourceConfig(url));
    expect(vendorConfig(kind, url, { retries: 0, timeoutMs: 100 })).toEqual({
      ...vendorEntry(kind).sourceConfig(url),
      retries: 0,
      timeoutMs: 100,
    });
  });

  it.each(VENDORS.map((v) => v.kind))('%s: a connector built from it reads its emulator', async (kind) => {
    const emulator = await vendorEntry(kind).start({ port: 0, scale: 1 });
    try {
      const connector = createConnector(vendorConfig(kind, emulator.url, { retries: 0 }));
      const page = await connector
        .openSession({ requestId: 'kit' })
        .listConversations({ offset: 0, limit: 1, filter: {} });
      expect(page.items).toHaveLength(1);
      expect(page.items[0]!.sourceId).toBe(vendorEntry(kind).id);
      await connector.close?.();
    } finally {
      await emulator.close();
    }
  });
});

describe('test kit: Redis', () => {
  const clients = redisClients();
  afterEach(() => clients.closeAll());

  it('REDIS_URL is the Redis globalSetup exported, and it answers', async () => {
    expect(REDIS_URL).toBe(process.env.REDIS_URL);
    expect(await clients.open().ping()).toBe('PONG');
  });

  it('deleteKeys deletes the keys under its prefix only, and refuses an empty prefix', async () => {
    const redis = clients.open();
    const [mine, theirs] = [randomPrefix('kit'), randomPrefix('kit')];
    await redis.mset(`${mine}a`, 1, `${mine}b:c`, 2, `${theirs}a`, 3);
    expect(await deleteKeys(redis, mine)).toBe(2);
    expect(await redis.exists(`${mine}a`, `${mine}b:c`, `${theirs}a`)).toBe(1);
    await deleteKeys(redis, theirs);
    await expect(deleteKeys(redis, '')).rejects.toThrow('needs a prefix');
  });
});
