import type { Config, SourceConfig } from '../../src/config/schema';
import type { Connector, SourceKind } from '../../src/connectors/types';
import type { PubSubTransport } from '../../src/live/pubsub';
import { createGateway, type Gateway } from '../../src/server/createGateway';
import { createLogger } from '../../src/server/logger';
import { startEmbedded, SANDBOX_API_KEY, SANDBOX_LIMITED_KEY, type Embedded } from '../../src/sandbox/embedded';
import { Writable } from 'node:stream';

export interface TestGateway {
  /** http://127.0.0.1:<port> */
  url: string;
  /** ws://127.0.0.1:<port>/graphql */
  wsUrl: string;
  apiKey: string;
  limitedKey: string;
  gateway: Gateway;
  embedded: Embedded;
  /** Every log line the gateway wrote (JSON strings), for tests that search logs. */
  logs: string[];
  /** POST /graphql with the sandbox key; returns status, headers and parsed body. */
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<{
    status: number;
    headers: Headers;
    body: {
      data?: T;
      errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
      extensions?: Record<string, unknown>;
    };
  }>;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  kinds?: SourceKind[];
  scale?: number;
  scales?: Partial<Record<SourceKind, number>>;
  rateLimitPerMinute?: number;
  seed?: number;
  pubsub?: PubSubTransport;
  redisUrl?: string;
  production?: boolean;
  /** Adjusts the embedded config before the gateway starts (limits, per-source settings, Redis prefix). */
  configure?: (config: Config) => Config;
  /** Builds the connectors instead of the gateway (to wrap them in a test). */
  connectors?: (config: Config) => Connector[];
  /** Run in front of an already running sandbox (a second instance); close() leaves it running. */
  embedded?: Embedded;
  /** @default info */
  logLevel?: string;
}

/** The whole gateway in-process on port 0, in front of the sandbox emulators (also port 0). */
export async function startTestGateway(opts: TestGatewayOptions = {}): Promise<TestGateway> {
  const owned = !opts.embedded;
  const embedded =
    opts.embedded ??
    (await startEmbedded({
      kinds: opts.kinds,
      scale: opts.scale,
      scales: opts.scales,
      seed: opts.seed,
      rateLimitPerMinute: opts.rateLimitPerMinute,
      port: 0,
      redisUrl: opts.redisUrl,
    }));
  const configured = opts.configure ? opts.configure(embedded.config) : embedded.config;
  // In-process tests share two cores with another jest worker, emulators and, in a fresh clone, cold TypeScript
  // transforms: the event loop can stall past the production 2 s command timeout, which would count as a Redis
  // outage (server/redisHealth.ts) and degrade answers. Tests of that timeout set their own.
  const config =
    configured.redis && configured.redis.commandTimeoutMs === undefined
      ? { ...configured, redis: { ...configured.redis, commandTimeoutMs: 10_000 } }
      : configured;
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  let gateway: Gateway;
  try {
    gateway = await createGateway({
      config,
      connectors: opts.connectors?.(config),
      logger: createLogger({ level: opts.logLevel ?? 'info', destination }),
      graphiqlHeaders: embedded.graphiqlHeaders,
      pubsub: opts.pubsub,
      production: opts.production ?? false,
    });
  } catch (e) {
    if (owned) await embedded.sandbox.close();
    throw e;
  }
  if (owned) embedded.sandbox.setWebhookBase(gateway.url);
  return {
    url: gateway.url,
    wsUrl: gateway.wsUrl,
    apiKey: SANDBOX_API_KEY,
    limitedKey: SANDBOX_LIMITED_KEY,
    gateway,
    embedded,
    logs,
    async gql(query, variables, headers) {
      const res = await fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          authorization: `Bearer ${SANDBOX_API_KEY}`,
          ...headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : {} };
    },
    async close() {
      await gateway.close();
      if (owned) await embedded.sandbox.close();
    },
  };
}

/** Applies per-source overrides to a config (config objects are frozen: this copies). */
export function tuneSources(config: Config, over: (s: SourceConfig) => Partial<SourceConfig>): Config {
  return { ...config, sources: config.sources.map((s) => ({ ...s, ...over(s) }) as SourceConfig) };
}
