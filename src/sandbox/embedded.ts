import type { Config } from '../config/schema';
import { parseConfig } from '../config/load';
import { createHash } from 'node:crypto';
import { startSandbox, type Sandbox, type SandboxOptions } from './index';

/** The demo API key of the embedded default. Printed at start-up; never valid in a real config. */
export const SANDBOX_API_KEY = 'sandbox-key';
/** A second demo key that sees only the first source, for trying tenant isolation. */
export const SANDBOX_LIMITED_KEY = 'sandbox-limited-key';

export interface Embedded {
  sandbox: Sandbox;
  config: Config;
  graphiqlHeaders: Record<string, string>;
}

/**
 * The embedded default: every vendor emulator on loopback plus a config that points the gateway at them,
 * accepting `sandbox-key`. Used by `npm start` without a config, by tests and by the benchmarks.
 */
export async function startEmbedded(
  opts: SandboxOptions & { port?: number; host?: string; redisUrl?: string } = {},
): Promise<Embedded> {
  const sandbox = await startSandbox(opts);
  const hash = (k: string) => createHash('sha256').update(k).digest('hex');
  try {
    const config = parseConfig(
      {
        server: { host: opts.host ?? '127.0.0.1', port: opts.port ?? 4000 },
        ...(opts.redisUrl ? { redis: { url: opts.redisUrl } } : {}),
        sources: sandbox.sourceConfigs,
        apiKeys: [
          { name: 'sandbox', sha256: hash(SANDBOX_API_KEY), sources: ['*'] },
          {
            name: 'sandbox-limited',
            sha256: hash(SANDBOX_LIMITED_KEY),
            sources: [sandbox.sourceConfigs[0]?.id ?? '*'],
          },
        ],
      },
      {},
    );
    return { sandbox, config, graphiqlHeaders: { Authorization: `Bearer ${SANDBOX_API_KEY}` } };
  } catch (e) {
    await sandbox.close();
    throw e;
  }
}
