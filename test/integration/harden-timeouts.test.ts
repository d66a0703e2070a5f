import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import type { Config } from '../../src/config/schema';
import { startTestGateway, type TestGateway } from '../utils/gateway';
import { waitFor } from '../utils/wait';

/**
 * Issue 12 item 6: a client that sends its request body slowly (or goes idle) cannot hold a connection past
 * the configured timeouts, and a gateway with such connections open still shuts down at once.
 */

const withHttp =
  (http: NonNullable<Config['server']['http']>) =>
  (c: Config): Config => ({ ...c, server: { ...c.server, http } });

/** A raw connection that sends the headers of a POST /graphql announcing `length` bytes, then nothing. */
async function slowBody(t: TestGateway, length = 1000) {
  const { port } = new URL(t.url);
  const socket: Socket = connect(Number(port), '127.0.0.1');
  let received = '';
  socket.on('data', (d) => (received += d.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${t.apiKey}\r\nContent-Length: ${length}\r\n\r\n{"query":"`,
  );
  return { socket, closed, received: () => received };
}

/** Resolves with true when `p` settles within `ms`, false otherwise (a bound far above the expected time). */
const within = (p: Promise<unknown>, ms: number) =>
  new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void p.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });

describe('HTTP request-body and idle timeouts (item 6)', () => {
  it('closes a connection whose body trickles in past requestTimeoutMs, with 408', async () => {
    const t = await startTestGateway({
      kinds: ['PIXIESET'],
      configure: withHttp({ headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 300 }),
    });
    const conns: Array<Awaited<ReturnType<typeof slowBody>>> = [];
    try {
      for (let i = 0; i < 5; i++) conns.push(await slowBody(t));
      // One byte every 100 ms: never idle, never done.
      const drip = setInterval(() => {
        for (const c of conns) if (!c.socket.destroyed) c.socket.write(' ');
      }, 100);
      try {
        // Node's default (300 s) would keep them open far past this bound.
        for (const c of conns) expect(await within(c.closed, 8000)).toBe(true);
      } finally {
        clearInterval(drip);
      }
      for (const c of conns) expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
      // The gateway still serves.
      expect((await t.gql(`{ sources { id } }`)).status).toBe(200);
    } finally {
      for (const c of conns) c.socket.destroy();
      await t.close();
    }
  });

  it('applies the configured timeouts to the server, with defaults below Node’s own', async () => {
    const t = await startTestGateway({ kinds: ['PIXIESET'] });
    const u = await startTestGateway({
      kinds: ['PIXIESET'],
      embedded: t.embedded,
      configure: withHttp({ headersTimeoutMs: 2000, requestTimeoutMs: 4000, keepAliveTimeoutMs: 1500 }),
    });
    try {
      expect(t.gateway.httpServer.headersTimeout).toBe(10_000);
      expect(t.gateway.httpServer.requestTimeout).toBe(60_000);
      expect(t.gateway.httpServer.keepAliveTimeout).toBe(5_000);
      expect(u.gateway.httpServer.headersTimeout).toBe(2000);
      expect(u.gateway.httpServer.requestTimeout).toBe(4000);
      expect(u.gateway.httpServer.keepAliveTimeout).toBe(1500);
    } finally {
      await u.close();
      await t.close();
    }
  });

  it('closes an idle keep-alive connection after keepAliveTimeoutMs', async () => {
    const t = await startTestGateway({
      kinds: ['PIXIESET'],
      configure: withHttp({ keepAliveTimeoutMs: 300 }),
    });
    try {
      const { port } = new URL(t.url);
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => undefined);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      let received = '';
      socket.on('data', (d) => (received += d.toString('latin1')));
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
      // Node's default keep-alive (5 s) would pass this bound; 300 ms is well inside it.
      expect(await within(closed, 3000)).toBe(true);
      expect(received).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      await t.close();
    }
  });

  it('shuts down at once with slow-body connections open (they are closed, in-flight requests finish)', async () => {
    // Default timeouts (60 s): only the shutdown can end these connections in time.
    const t = await startTestGateway({ kinds: ['PIXIESET'] });
    const px = t.embedded.sandbox.emulators.get('pixieset')!;
    const conns: Array<Awaited<ReturnType<typeof slowBody>>> = [];
    try {
      for (let i = 0; i < 10; i++) conns.push(await slowBody(t));
      px.setFaults({ latencyMs: 300 });
      const inflight = t.gql(`{ unreadCount { total } }`);
      await new Promise((r) => setTimeout(r, 50));
      // Apollo's drain would wait 10 s for them (its grace period), then force them shut.
      const closing = t.gateway.close();
      expect(await within(closing, 5000)).toBe(true);
      for (const c of conns) expect(await within(c.closed, 1000)).toBe(true);
      const r = await inflight;
      expect(r.status).toBe(200);
      expect(r.body.data).toEqual({ unreadCount: { total: expect.any(Number) } });
    } finally {
      px.setFaults({});
      for (const c of conns) c.socket.destroy();
      await t.gateway.close();
      await t.embedded.sandbox.close();
    }
  });

  it('npm start with slow-body connections open exits 0 on SIGTERM (it used to force-exit with 1 after 10 s)', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
      cwd: join(__dirname, '..', '..'),
      env: {
        ...process.env,
        NODE_ENV: 'development',
        PORT: '0',
        SANDBOX_PORTS: 'random',
        SANDBOX_DEMO: '',
        SWITCHBOARD_CONFIG: '',
        REDIS_URL: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const conns: Socket[] = [];
    let drip: NodeJS.Timeout | undefined;
    try {
      const url = await waitFor(() => /"graphiql":"(http:\/\/[^"]+)"/.exec(out)?.[1], {
        timeoutMs: 20_000,
        everyMs: 100,
        what: 'the sandbox to print its GraphiQL URL',
      });
      expect(url).toBeDefined();
      const port = Number(new URL(url!).port);
      for (let i = 0; i < 10; i++) {
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        socket.write(
          'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"q',
        );
        conns.push(socket);
      }
      // One byte every 100 ms: never idle, never done.
      drip = setInterval(() => {
        for (const c of conns) if (!c.destroyed) c.write(' ');
      }, 100);
      await new Promise((r) => setTimeout(r, 100));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      clearInterval(drip);
      for (const c of conns) c.destroy();
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
