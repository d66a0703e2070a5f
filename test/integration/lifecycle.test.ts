import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createWsClient, subscribe } from '../utils/ws';
import { startTestGateway } from '../utils/gateway';
import { waitFor } from '../utils/wait';

describe('lifecycle', () => {
  it('shuts down gracefully: finishes in-flight requests, closes WebSockets with 1001, then refuses', async () => {
    const t = await startTestGateway({ kinds: ['PIXIESET'] });
    const px = t.embedded.sandbox.emulators.get('pixieset')!;
    let closeCode = 0;
    const client = createWsClient(t.wsUrl, t.apiKey, { onClose: (c) => (closeCode = c) });
    const sub = subscribe(client, `subscription { unreadCountChanged { total } }`);
    await sub.waitFor(1);
    px.setFaults({ latencyMs: 300 });
    const inflight = t.gql(`{ unreadCount { total } }`, undefined, { 'x-request-id': 'lifecycle-inflight' });
    // In flight: it reached the gateway whole and its upstream call is under way (a request still being sent when
    // the gateway closes is cut, by design; a fixed 50 ms wait could land there on a busy machine).
    await waitFor(
      () => (px.requests().some((e) => e.headers['x-request-id']?.startsWith('lifecycle-inflight')) ? true : undefined),
      { timeoutMs: 10_000, everyMs: 5, what: 'the in-flight query to reach the emulator' },
    );
    await t.gateway.close();
    const r = await inflight;
    expect(r.status).toBe(200);
    expect(r.body.data).toEqual({ unreadCount: { total: expect.any(Number) } });
    expect(closeCode).toBe(1001);
    await expect(fetch(`${t.url}/healthz`)).rejects.toThrow();
    await client.dispose();
    await t.embedded.sandbox.close();
  });

  it('answers /healthz and /readyz, and /readyz turns 503 when a source is down', async () => {
    // /readyz answers from recent health, probing at most once per readinessIntervalMs (issue 12 item 3): a
    // source that went down shows within about one interval, so this polls.
    const t = await startTestGateway({
      kinds: ['PIXIESET'],
      configure: (c) => ({ ...c, server: { ...c.server, readinessIntervalMs: 100 } }),
    });
    try {
      expect(await (await fetch(`${t.url}/healthz`)).json()).toEqual({ status: 'ok' });
      const ready = await fetch(`${t.url}/readyz`);
      expect(ready.status).toBe(200);
      t.embedded.sandbox.emulators.get('pixieset')!.setFaults({ errorRate: 1 });
      // 100 checks 50 ms apart did it before: a 10 s deadline is no shorter.
      const down = await waitFor(
        async () => {
          const r = await fetch(`${t.url}/readyz`);
          if (r.status === 503) return r;
          await r.arrayBuffer();
          return undefined;
        },
        { timeoutMs: 10_000, everyMs: 50, what: '/readyz to answer 503' },
      );
      expect(down.status).toBe(503);
      expect(await down.json()).toEqual({
        status: 'degraded',
        sources: [{ source: 'pixieset', ready: false, code: 'SOURCE_UNAVAILABLE' }],
      });
    } finally {
      await t.close();
    }
  });

  it('npm start with no config serves the embedded default, prints GraphiQL and the key, and exits 0 on SIGTERM', async () => {
    const root = join(__dirname, '..', '..');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
      cwd: root,
      // NODE_ENV as a user's shell has it: jest's 'test' would hide Apollo's own signal handling.
      env: {
        ...process.env,
        NODE_ENV: 'development',
        PORT: '0',
        SANDBOX_PORTS: 'random',
        SANDBOX_DEMO: '1',
        SWITCHBOARD_CONFIG: '',
        REDIS_URL: '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const url = await waitFor(() => /"graphiql":"(http:\/\/[^"]+)"/.exec(out)?.[1], {
        timeoutMs: 20_000,
        everyMs: 100,
        what: 'the sandbox to print its GraphiQL URL',
      });
      expect(url).toBeDefined();
      expect(out).toContain('"apiKey":"sandbox-key"');
      const res = await fetch(url!, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sandbox-key' },
        body: JSON.stringify({ query: '{ sources { id } }' }),
      });
      const body = (await res.json()) as { data: { sources: Array<{ id: string }> } };
      expect(body.data.sources.map((s) => s.id)).toContain('pixieset');
      // A subscriber in another process must not hold up shutdown; it gets 1001 (going away).
      let closeCode = 0;
      const client = createWsClient(url!.replace('http', 'ws'), 'sandbox-key', { onClose: (c) => (closeCode = c) });
      const sub = subscribe(client, `subscription { unreadCountChanged { total } }`);
      await sub.waitFor(1, 10_000);
      child.kill('SIGTERM');
      // The entry point force-exits with 1 after 10 s; a clean, prompt shutdown exits 0.
      expect(await exited).toBe(0);
      expect(closeCode).toBe(1001);
      await client.dispose();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
