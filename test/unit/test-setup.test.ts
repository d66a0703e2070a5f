/**
 * `npm test` sets up its own Redis (test/utils/redis-global-setup.ts, jest's globalSetup): these check the
 * pieces it relies on, against a real redis-server.
 */
import net from 'node:net';
import { existsSync } from 'node:fs';
import { redisAnswers, startThrowawayRedis, stopRedis } from '../utils/redis-global-setup';

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

describe("the test setup's own Redis", () => {
  it('sees that nothing answers on a closed port', async () => {
    expect(await redisAnswers(`redis://127.0.0.1:${await closedPort()}`)).toBe(false);
  });

  it('sees that a plain TCP server which is not Redis does not answer PING', async () => {
    const sockets = new Set<net.Socket>();
    const srv = net.createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const { port } = srv.address() as net.AddressInfo;
    try {
      expect(await redisAnswers(`redis://127.0.0.1:${port}`)).toBe(false);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('starts a throwaway redis-server that answers, and stops it with its directory', async () => {
    const redis = await startThrowawayRedis();
    try {
      expect(redis.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
      expect(await redisAnswers(redis.url)).toBe(true);
      expect(existsSync(redis.dir)).toBe(true);
    } finally {
      await stopRedis(redis);
    }
    expect(await redisAnswers(redis.url)).toBe(false);
    expect(existsSync(redis.dir)).toBe(false);
  });

  it('exports the Redis it uses as REDIS_URL for every suite', async () => {
    expect(process.env.REDIS_URL).toBeTruthy();
    expect(await redisAnswers(process.env.REDIS_URL!)).toBe(true);
  });
});
