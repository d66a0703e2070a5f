import type { SourceConfig } from '../config/schema';
import type { SourceKind } from '../connectors/types';
import type { EmulatorHandle, EmulatorStartOptions } from './kit/server';
import { startPixiesetEmulator, PIXIESET_SANDBOX_CREDENTIALS } from './pixieset';
import {
  startChatwootEmulator,
  CHATWOOT_SANDBOX_ACCOUNT_ID,
  CHATWOOT_SANDBOX_INBOX_ID,
  CHATWOOT_SANDBOX_TOKEN,
  CHATWOOT_SANDBOX_WEBHOOK_SECRET,
  CHATWOOT_SANDBOX_WEBHOOK_TOKEN,
} from './chatwoot';
import { startMonicaEmulator, MONICA_SANDBOX_TOKEN } from './monica';
import {
  startProtocolEmulator,
  PROTOCOL_SANDBOX_SELF_CONTACT_ID,
  PROTOCOL_SANDBOX_TOKEN,
  PROTOCOL_SANDBOX_WEBHOOK_SECRET,
} from './protocol';

/**
 * The sandbox: one emulator per vendor, speaking that vendor's real API on loopback. Started by the embedded
 * default (`npm start` with no config) and by tests (port 0). Never imported by production code paths other
 * than the embedded-default entry point.
 */

// Declared beside ServeOptions in kit/server.ts, so that vendor folders need not import this registry.
export type { EmulatorStartOptions };

interface VendorEntry {
  kind: SourceKind;
  /** Source id in the embedded config. */
  id: string;
  name: string;
  /** Fixed loopback port in the embedded default. */
  defaultPort: number;
  start: (opts: EmulatorStartOptions) => Promise<EmulatorHandle>;
  /** The source config that points the gateway at this emulator. */
  sourceConfig: (emulatorUrl: string) => SourceConfig;
}

/** Adding a vendor to the sandbox: one entry here. */
export const VENDORS: VendorEntry[] = [
  {
    kind: 'PIXIESET',
    id: 'pixieset',
    name: 'Pixieset Studio',
    defaultPort: 4101,
    start: startPixiesetEmulator,
    sourceConfig: (url) => ({
      id: 'pixieset',
      kind: 'PIXIESET',
      name: 'Pixieset Studio',
      baseUrl: `${url}/api/v1`,
      credentials: PIXIESET_SANDBOX_CREDENTIALS,
      timeoutMs: 5000,
      pollIntervalMs: 2000,
      retries: 2,
    }),
  },
  {
    kind: 'PROTOCOL',
    id: 'protocol',
    name: 'Protocol Chat',
    defaultPort: 4102,
    start: startProtocolEmulator,
    sourceConfig: (url) => ({
      id: 'protocol',
      kind: 'PROTOCOL',
      name: 'Protocol Chat',
      baseUrl: `${url}/v1`,
      credentials: { token: PROTOCOL_SANDBOX_TOKEN },
      webhookSecret: PROTOCOL_SANDBOX_WEBHOOK_SECRET,
      selfContactId: PROTOCOL_SANDBOX_SELF_CONTACT_ID,
      timeoutMs: 5000,
      pollIntervalMs: 2000,
      retries: 2,
    }),
  },
  {
    kind: 'CHATWOOT',
    id: 'chatwoot',
    name: 'Chatwoot Support',
    defaultPort: 4103,
    start: startChatwootEmulator,
    sourceConfig: (url) => ({
      id: 'chatwoot',
      kind: 'CHATWOOT',
      name: 'Chatwoot Support',
      baseUrl: `${url}`,
      accountId: CHATWOOT_SANDBOX_ACCOUNT_ID,
      credentials: { apiAccessToken: CHATWOOT_SANDBOX_TOKEN },
      webhookToken: CHATWOOT_SANDBOX_WEBHOOK_TOKEN,
      webhookSecret: CHATWOOT_SANDBOX_WEBHOOK_SECRET,
      defaultInboxId: CHATWOOT_SANDBOX_INBOX_ID,
      timeoutMs: 5000,
      pollIntervalMs: 2000,
      // Reads in the emulator's "dashboard" (simulateRead) send no webhook, as in Chatwoot: checked every 2 s here.
      readCheckIntervalMs: 2000,
      retries: 2,
    }),
  },
  {
    kind: 'MONICA',
    id: 'monica',
    name: 'Monica CRM',
    defaultPort: 4104,
    start: startMonicaEmulator,
    sourceConfig: (url) => ({
      id: 'monica',
      kind: 'MONICA',
      name: 'Monica CRM',
      baseUrl: `${url}/api`,
      credentials: { token: MONICA_SANDBOX_TOKEN },
      timeoutMs: 5000,
      pollIntervalMs: 5000,
      retries: 2,
    }),
  },
];

export interface SandboxOptions {
  /** Use each vendor's fixed default port instead of port 0. @default false */
  fixedPorts?: boolean;
  host?: string;
  scale?: number;
  /** Per-kind dataset sizes, overriding `scale` (0 gives an empty source). */
  scales?: Partial<Record<SourceKind, number>>;
  seed?: number;
  /** Only these kinds. @default all */
  kinds?: SourceKind[];
  /** Override every emulator's rate limit (requests a minute), for load and property tests. @default each vendor's */
  rateLimitPerMinute?: number;
}

export interface Sandbox {
  emulators: Map<string, EmulatorHandle>;
  /** Source configs pointing at the running emulators, in VENDORS order. */
  sourceConfigs: SourceConfig[];
  /** Points webhook-sending emulators at the gateway (`<base>/webhooks/<source id>`); set after the gateway listens. */
  setWebhookBase(base: string | null): void;
  close(): Promise<void>;
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  let webhookBase: string | null = null;
  const emulators = new Map<string, EmulatorHandle>();
  const sourceConfigs: SourceConfig[] = [];
  try {
    for (const v of VENDORS) {
      if (opts.kinds && !opts.kinds.includes(v.kind)) continue;
      const probe = v.sourceConfig('http://127.0.0.1');
      const handle = await v.start({
        port: opts.fixedPorts ? v.defaultPort : 0,
        host: opts.host,
        scale: opts.scales?.[v.kind] ?? opts.scale,
        seed: opts.seed,
        rateLimitPerMinute: opts.rateLimitPerMinute,
        webhook: () =>
          webhookBase ? { url: webhookUrlFor(webhookBase, probe), secret: webhookSecretOf(probe) } : null,
      });
      emulators.set(v.id, handle);
      sourceConfigs.push(v.sourceConfig(handle.url));
    }
  } catch (e) {
    await Promise.all([...emulators.values()].map((h) => h.close()));
    throw e;
  }
  return {
    emulators,
    sourceConfigs,
    setWebhookBase: (base) => {
      webhookBase = base;
    },
    close: async () => {
      await Promise.all([...emulators.values()].map((h) => h.close()));
    },
  };
}

function webhookSecretOf(cfg: SourceConfig): string | undefined {
  return cfg.kind === 'PROTOCOL' || cfg.kind === 'CHATWOOT' ? cfg.webhookSecret : undefined;
}

function webhookUrlFor(base: string, cfg: SourceConfig): string {
  const url = `${base.replace(/\/$/, '')}/webhooks/${cfg.id}`;
  return cfg.kind === 'CHATWOOT' && cfg.webhookToken ? `${url}?token=${encodeURIComponent(cfg.webhookToken)}` : url;
}
