import { Writable } from 'node:stream';
import pino from 'pino';
import { createLogger, loggerOptions } from '../../src/server/logger';

/**
 * createLogger hands scalars straight to JSON.stringify instead of pino's redactor of the `*.` paths (issue 13
 * target 3): every line must stay byte for byte what pino itself writes with the same options, and credentials
 * stay redacted wherever they were.
 */
const sink = () => {
  const out: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString('utf8').replace(/"time":\d+,/, ''));
      cb();
    },
  });
  return { out, destination };
};

const SECRET = 's3cr3t-value';
const samples: Array<[Record<string, unknown>, string]> = [
  [{ requestId: 'r-1', method: 'POST', route: '/graphql', status: 200, ms: 1.3, keyName: 'bench' }, 'request'],
  [{ requestId: 'r-2', method: 'GET', route: '/x', status: 401, ms: 0, aborted: true, no: false }, 'request'],
  [
    {
      s: 'quote " backslash \\ newline \n U+2028 \u2028 astral 😀 \u0001',
      n: -0,
      big: 1e300,
      nan: NaN,
      inf: -Infinity,
    },
    'odd',
  ],
  [{ token: SECRET, password: SECRET, big: BigInt(12) as unknown }, 'top-level names are no redacted path'],
  [{ source: { token: SECRET, id: 'a' }, vendor: { password: SECRET, webhookSecret: SECRET } }, 'nested'],
  [{ cfg: { apiAccessToken: SECRET, sessionCookie: SECRET, csrfToken: SECRET, webhookToken: SECRET } }, 'nested'],
  [{ cfg: { api_access_token: SECRET }, nul: null, undef: undefined }, 'nested'],
  [{ req: { headers: { authorization: `Bearer ${SECRET}`, cookie: SECRET, api_access_token: SECRET } } }, 'req'],
  [{ headers: { authorization: SECRET, cookie: SECRET, 'x-other': 'kept' } }, 'headers'],
  [{ connectionParams: { authorization: SECRET, token: SECRET } }, 'ws'],
  [{ err: Object.assign(new Error('boom'), { token: SECRET }) }, 'error'],
];
// Compared too, though pino redacts nothing here (`*.token` is one level down, and an array's keys are indexes).
const unredacted: Record<string, unknown> = { list: [{ token: 'in an array' }], n: 3, deep: { a: { token: 'deep' } } };

describe('createLogger', () => {
  it('writes the bytes pino writes with the same options, and redacts every credential path', () => {
    const ours = sink();
    const theirs = sink();
    const logger = createLogger({ level: 'debug', destination: ours.destination });
    const plain = pino(loggerOptions('debug'), theirs.destination);
    for (const [obj, msg] of samples) {
      logger.info(obj, msg);
      plain.info(obj, msg);
    }
    logger.warn('a message alone');
    plain.warn('a message alone');
    logger.debug(unredacted, 'unredacted');
    plain.debug(unredacted, 'unredacted');
    expect(ours.out).toHaveLength(samples.length + 2);
    expect(ours.out).toEqual(theirs.out);
    // The nested credentials (and the headers') are redacted; the top-level `token` is no configured path.
    const nested = ours.out.slice(4, samples.length).join('');
    expect(nested).not.toContain(SECRET);
    expect(nested.match(/\[redacted\]/g)?.length).toBe(16);
    expect(ours.out[0]).toBe(
      `{"level":30,"service":"switchboard","requestId":"r-1","method":"POST","route":"/graphql","status":200,"ms":1.3,"keyName":"bench","msg":"request"}\n`,
    );
  });
});
