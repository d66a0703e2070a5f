/**
 * `npm run sandbox` (src/sandbox/main.ts): the emulators alone in a process of their own, each URL and credential
 * printed, and a clean exit on SIGINT and SIGTERM.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from '../utils/wait';

interface Running {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  exited: Promise<number | null>;
}

function startSandboxProcess(): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/sandbox/main.ts'], {
    cwd: join(__dirname, '..', '..'),
    env: { ...process.env, SANDBOX_PORTS: 'random', SANDBOX_WEBHOOK_BASE: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Until the sandbox printed `text`; if it exited instead, the timeout carries its exit code and output. */
async function waitForOutput(r: Running, text: string): Promise<void> {
  await waitFor(
    () => {
      if (r.output().includes(text)) return true;
      if (r.child.exitCode !== null) throw new Error(`sandbox exited (${r.child.exitCode}):\n${r.output()}`);
      return false;
    },
    { timeoutMs: 20_000, everyMs: 100, what: `the sandbox to print "${text}"` },
  );
}

/** Each printed block: `emulator <id> <url>`, then `  base URL  <url>` and `  credentials  <json>`. */
function parseEmulators(out: string) {
  const found = new Map<string, { url: string; baseUrl: string; credentials: Record<string, string> }>();
  const re = /^emulator (\w+) (http:\/\/\S+)\n(?: {2}.*\n)*? {2}base URL +(\S+)\n {2}credentials +(\{.*\})$/gm;
  for (const m of out.matchAll(re)) found.set(m[1]!, { url: m[2]!, baseUrl: m[3]!, credentials: JSON.parse(m[4]!) });
  return found;
}

describe('npm run sandbox', () => {
  it('starts the four emulators alone, prints their URLs and credentials, which work, and exits 0 on SIGINT', async () => {
    const r = startSandboxProcess();
    try {
      await waitForOutput(r, 'sandbox ready');
      const emulators = parseEmulators(r.output());
      expect([...emulators.keys()].sort()).toEqual(['chatwoot', 'monica', 'pixieset', 'protocol']);
      for (const e of emulators.values()) expect(e.baseUrl.startsWith(e.url)).toBe(true);
      expect(r.output()).toContain('sources:\n  - id: pixieset');

      // One authenticated read at Monica with the printed token; without it the emulator refuses.
      const monica = emulators.get('monica')!;
      const ok = await fetch(`${monica.baseUrl}/conversations?limit=1`, {
        headers: { authorization: `Bearer ${monica.credentials.token}`, accept: 'application/json' },
      });
      expect(ok.status).toBe(200);
      const body = (await ok.json()) as { data: unknown[]; meta: { total: number } };
      expect(body.data).toHaveLength(1);
      expect(body.meta.total).toBeGreaterThan(1);
      const refused = await fetch(`${monica.baseUrl}/conversations?limit=1`, {
        headers: { accept: 'application/json' },
      });
      expect(refused.status).toBe(401);
      await refused.text();

      r.child.kill('SIGINT');
      expect(await r.exited).toBe(0);
      await expect(fetch(`${monica.url}/api/conversations`)).rejects.toThrow();
    } finally {
      if (r.child.exitCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    }
  });

  it('exits 0 on SIGTERM too', async () => {
    const r = startSandboxProcess();
    try {
      await waitForOutput(r, 'sandbox ready');
      r.child.kill('SIGTERM');
      expect(await r.exited).toBe(0);
      expect(r.output()).toContain('SIGTERM: stopping the emulators');
    } finally {
      if (r.child.exitCode === null) {
        r.child.kill('SIGKILL');
        await r.exited;
      }
    }
  });
});
