import { loadConfigFile, ConfigError } from './config/load';
import { createGateway, type Gateway } from './server/createGateway';
import { createLogger } from './server/logger';

/**
 * Entry point. With `--config <file>` or SWITCHBOARD_CONFIG, runs the configured gateway. With neither,
 * runs the embedded default: the sandbox emulators and a gateway on 127.0.0.1:$PORT (4000) accepting
 * `sandbox-key`, with demo traffic (simulated clients writing and reading, sandbox/demo.ts) unless
 * SANDBOX_DEMO=0. The sandbox is loaded only in that case (a dynamic import), so a configured gateway never
 * loads emulator code.
 */
async function main() {
  const logger = createLogger();
  const argv = process.argv.slice(2);
  const flag = argv.indexOf('--config');
  const file = flag >= 0 ? argv[flag + 1] : process.env.SWITCHBOARD_CONFIG;
  if (flag >= 0 && !file) throw new ConfigError('--config needs a file path.');

  let gateway: Gateway;
  /** Before the gateway closes (the demo traffic stops writing first). */
  let beforeClose: () => Promise<void> = async () => {};
  let onClose: () => Promise<void> = async () => {};
  if (file) {
    const config = loadConfigFile(file);
    gateway = await createGateway({ config, logger });
    logger.info({ url: `${gateway.url}/graphql`, sources: config.sources.map((s) => s.id) }, 'Switchboard listening');
  } else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports, @typescript-eslint/consistent-type-imports -- loaded only for the embedded default
    const { startEmbedded, SANDBOX_API_KEY } = require('./sandbox/embedded') as typeof import('./sandbox/embedded');
    const port = process.env.PORT ? Number(process.env.PORT) : 4000;
    // SANDBOX_PORTS=random puts the emulators on free ports (tests run this entry point beside other runs).
    const fixedPorts = process.env.SANDBOX_PORTS !== 'random';
    const embedded = await startEmbedded({ fixedPorts, port, redisUrl: process.env.REDIS_URL });
    gateway = await createGateway({ config: embedded.config, logger, graphiqlHeaders: embedded.graphiqlHeaders });
    embedded.sandbox.setWebhookBase(gateway.url);
    onClose = () => embedded.sandbox.close();
    // Demo mode: simulated clients keep the sandbox alive, so a subscription in GraphiQL visibly ticks.
    if (process.env.SANDBOX_DEMO !== '0') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports, @typescript-eslint/consistent-type-imports -- loaded only for the embedded default
      const { startDemoTraffic } = require('./sandbox/demo') as typeof import('./sandbox/demo');
      beforeClose = startDemoTraffic(embedded.sandbox, {
        intervalMs: 3000,
        onError: (e: unknown) => logger.debug({ err: String(e) }, 'demo traffic call failed'),
      });
      logger.info('demo traffic on: simulated clients write every few seconds (SANDBOX_DEMO=0 turns it off)');
    }
    logger.info(
      {
        graphiql: `${gateway.url}/graphql`,
        apiKey: SANDBOX_API_KEY,
        emulators: Object.fromEntries([...embedded.sandbox.emulators].map(([id, h]) => [id, h.url])),
      },
      `Switchboard sandbox: open ${gateway.url}/graphql in a browser (API key "${SANDBOX_API_KEY}")`,
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    await beforeClose();
    await gateway.close();
    await onClose();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e: unknown) => {
  // Config errors name the field; print them plainly.
  process.stderr.write(
    `${e instanceof ConfigError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
  );
  process.exit(1);
});
