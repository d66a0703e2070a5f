import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/**
 * A tiny request/response protocol over Node's IPC channel between the bench (parent) and its child processes
 * (sandbox, gateway, baseline). Children exit as soon as the channel closes, so a bench that dies (even by
 * SIGKILL) leaves nothing running.
 */
interface RpcRequest {
  rpc: number;
  type: string;
  args: unknown;
}
interface RpcReply {
  rpc: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

type Handler = (args: never) => unknown;

/** Child side: answers the parent's calls; exits when the parent goes away. */
export function serveRpc(handlers: Record<string, Handler>, onExit: () => Promise<void>): void {
  if (!process.send) return; // run by hand: no channel, the process just serves until SIGINT/SIGTERM
  process.on('message', (raw) => {
    const m = raw as RpcRequest;
    if (typeof m?.rpc !== 'number') return;
    const h = handlers[m.type];
    Promise.resolve()
      .then(() => {
        if (!h) throw new Error(`unknown call ${m.type}`);
        return h(m.args as never);
      })
      .then(
        (result) => process.send?.({ rpc: m.rpc, ok: true, result } satisfies RpcReply),
        (e: unknown) =>
          process.send?.({
            rpc: m.rpc,
            ok: false,
            error: e instanceof Error ? (e.stack ?? e.message) : String(e),
          } satisfies RpcReply),
      );
  });
  process.on('disconnect', () => {
    void onExit().finally(() => process.exit(0));
  });
}

/** Parent side: one forked child and its calls. */
export class Child {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;

  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    proc.on('message', (raw) => {
      const m = raw as RpcReply;
      const p = this.pending.get(m.rpc);
      if (!p) return;
      this.pending.delete(m.rpc);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${name}: ${m.error}`));
    });
    proc.on('exit', (code, signal) => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`${name} exited (${signal ?? code})`));
      this.pending.clear();
    });
  }

  /** Forks a TypeScript entry point through tsx; `stdoutPipe` keeps the child's stdout for the caller. */
  static start(
    name: string,
    script: string,
    args: string[],
    opts: { execArgv?: string[]; stdoutPipe?: boolean; env?: Record<string, string> } = {},
  ): Child {
    const proc = fork(script, args, {
      execArgv: [...(opts.execArgv ?? []), '--import', 'tsx'],
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', opts.stdoutPipe ? 'pipe' : 'inherit', 'inherit', 'ipc'],
    });
    const child = new Child(name, proc);
    live.add(child);
    proc.on('exit', () => live.delete(child));
    return child;
  }

  /** The first stdout line, parsed as JSON (the sandbox prints its source configs this way). */
  firstLine<T>(timeoutMs: number): Promise<T> {
    const out = this.proc.stdout;
    if (!out) return Promise.reject(new Error(`${this.name} has no piped stdout`));
    return new Promise<T>((resolve, reject) => {
      const rl = createInterface({ input: out });
      const t = setTimeout(() => reject(new Error(`${this.name} printed nothing within ${timeoutMs} ms`)), timeoutMs);
      this.proc.once('exit', (code) => reject(new Error(`${this.name} exited (${code}) before it was ready`)));
      rl.once('line', (line) => {
        clearTimeout(t);
        try {
          resolve(JSON.parse(line) as T);
        } catch (e) {
          reject(e as Error);
        }
      });
    });
  }

  call<T = unknown>(type: string, args: unknown = {}, timeoutMs = 120_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} is not running`));
    const rpc = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(rpc);
        reject(new Error(`${this.name}: ${type} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(rpc, {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.proc.send({ rpc, type, args } satisfies RpcRequest);
    });
  }

  /** Asks the child to stop (closing the channel makes it clean up and exit); kills it after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    if (this.proc.connected) this.proc.disconnect();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(t);
  }
}

/** Every child still running, for the exit handlers. */
const live = new Set<Child>();

/** Kills every child this process started (by pid, each one). Synchronous: safe in 'exit' handlers. */
export function killChildren(): void {
  for (const c of live) {
    try {
      c.proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * A bench file run alone (`tsx bench/<name>.ts`): its text on stdout and exit code 0, or the error on stderr,
 * every child killed, and exit code 1.
 */
export function runAlone(run: Promise<{ text: string }>, label = ''): void {
  run.then(
    (r) => {
      process.stdout.write(`${r.text}\n`);
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`${label}${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      killChildren();
      process.exit(1);
    },
  );
}
