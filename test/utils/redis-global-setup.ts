/**
 * Jest globalSetup: makes `npm test` self-sufficient on a fresh machine. When a Redis answers at REDIS_URL
 * (default redis://127.0.0.1:6379) the suites use it; otherwise a throwaway `redis-server` starts on a free
 * loopback port (no persistence, a temporary directory) and REDIS_URL is exported to every test worker. Without
 * `redis-server` installed the run fails at once with the command that installs it. The teardown
 * (redis-global-teardown.ts) stops what this started.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const REDIS_INSTALL_COMMAND = 'apt-get install -y redis-server';

/** What the setup started, for the teardown (they run in the same process). */
export interface ThrowawayRedis {
  child: ChildProcess;
  dir: string;
  url: string;
}
const KEY = '__switchboardThrowawayRedis';
type Holder = { [KEY]?: ThrowawayRedis };

/** True when something at `url` answers a Redis PING (`+PONG`, or an error such as NOAUTH: a Redis all the same). */
export function redisAnswers(url: string, timeoutMs = 1000): Promise<boolean> {
  let host = '127.0.0.1';
  let port = 6379;
  try {
    const u = new URL(url);
    host = u.hostname.replace(/^\[|\]$/g, '') || host;
    port = u.port ? Number(u.port) : port;
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let answer = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG') || /^-(NOAUTH|WRONGPASS|ERR)/.test(answer));
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function redisServerInstalled(): boolean {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

/** Starts a throwaway redis-server on a free loopback port and waits until it answers. */
export async function startThrowawayRedis(): Promise<ThrowawayRedis> {
  if (!redisServerInstalled()) {
    throw new Error(
      `No Redis answers at ${process.env.REDIS_URL || DEFAULT_REDIS_URL} and redis-server is not installed. ` +
        `Install it with: ${REDIS_INSTALL_COMMAND}`,
    );
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-test-redis-'));
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { stdio: 'ignore' },
    );
    let exited = false;
    child.on('exit', () => (exited = true));
    const deadline = Date.now() + 10_000;
    while (!exited && Date.now() < deadline) {
      if (await redisAnswers(url, 500)) return { child, dir, url };
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    // The port may have been taken between freePort() and the bind: try another.
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error('redis-server did not start (three attempts on free ports)');
}

export default async function globalSetup(): Promise<void> {
  const url = process.env.REDIS_URL || DEFAULT_REDIS_URL;
  if (await redisAnswers(url)) {
    process.env.REDIS_URL = url;
    return;
  }
  const redis = await startThrowawayRedis();
  (globalThis as Holder)[KEY] = redis;
  // Workers are forked after globalSetup and inherit this environment; in-band runs share it.
  process.env.REDIS_URL = redis.url;
  process.stderr.write(`\ntest setup: no Redis at ${url}; started a throwaway redis-server at ${redis.url}\n`);
}

/** Stops a throwaway Redis and removes its directory. */
export async function stopRedis({ child, dir }: ThrowawayRedis): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Stops the throwaway Redis this run's globalSetup started, if any. */
export async function stopThrowawayRedis(): Promise<void> {
  const holder = globalThis as Holder;
  const redis = holder[KEY];
  if (!redis) return;
  delete holder[KEY];
  await stopRedis(redis);
}
