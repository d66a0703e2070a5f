import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import pino from 'pino';
import { parseConfig } from '../src/config/load';
import { createGateway, type Gateway } from '../src/server/createGateway';
import { createLogger } from '../src/server/logger';
import { baselineOptions } from './baseline';
import { serveRpc } from './ipc';
import { sleep } from './lib';

/**
 * One gateway (or the naive baseline) in a process of its own, driven by the bench over IPC: `start` with a
 * config, then `cpu` (process.cpuUsage) and `memory` (after full GCs; the bench starts this process with
 * --expose-gc) around each workload. Logs go to /dev/null at the configured level, so their formatting cost is
 * measured without the bench having to read them.
 */
let gateway: Gateway | null = null;

const gc = (globalThis as { gc?: () => void }).gc;

/** V8's sampling profiler over one measured phase (the bench's --profile), written as a .cpuprofile file. */
let inspector: Session | null = null;
const post = (method: string, params?: object) =>
  new Promise<unknown>((resolve, reject) =>
    inspector?.post(method, params, (err, res) => (err ? reject(err) : resolve(res))),
  );

serveRpc(
  {
    start: async ({ config, baseline, logLevel }: { config: unknown; baseline: boolean; logLevel: string }) => {
      const options = {
        config: parseConfig(config, {}),
        production: true,
        logger: createLogger({ level: logLevel, destination: pino.destination({ dest: '/dev/null', sync: false }) }),
      };
      gateway = await createGateway(baseline ? baselineOptions(options) : options);
      return { url: gateway.url, wsUrl: gateway.wsUrl, pid: process.pid };
    },
    cpu: () => process.cpuUsage(),
    memory: async ({ collect }: { collect: boolean }) => {
      if (collect) {
        if (!gc) throw new Error('run with --expose-gc');
        // A few rounds, letting finalizers and socket teardown run in between.
        for (let i = 0; i < 4; i++) {
          gc();
          await sleep(50);
        }
      }
      return process.memoryUsage();
    },
    profileStart: async () => {
      inspector ??= new Session();
      inspector.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 200 });
      await post('Profiler.start');
    },
    profileStop: async ({ file }: { file: string }) => {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      inspector?.disconnect();
      writeFileSync(file, JSON.stringify(profile));
    },
    webSockets: () =>
      gateway?.metrics.render().then((m) => /^switchboard_websocket_connections (\d+)/m.exec(m.body)?.[1] ?? null),
  },
  async () => {
    await gateway?.close();
  },
);
