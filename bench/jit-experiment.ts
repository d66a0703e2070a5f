import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { execute, parse, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { startEmbedded } from '../src/sandbox/embedded';
import { createContext } from '../src/server/context';
import { createGateway } from '../src/server/createGateway';
import { createLogger } from '../src/server/logger';
import { buildSchema } from '../src/schema';
import { INBOX } from './queries';

/**
 * Issue 13 target 4, lever (a): graphql-jit against graphql-js on the 50-row inbox page, in one process, with the
 * real schema, resolvers and connectors (the sandbox in process, so the Pixieset list and its emulator are in both
 * figures). Not wired into the gateway (README "Benchmarks": why), and graphql-jit is not a dependency: install it
 * anywhere and point at it, sharing this project's graphql module:
 *
 *   GRAPHQL_JIT=/path/to/node_modules/graphql-jit NODE_ENV=production npx tsx bench/jit-experiment.ts
 *
 * Prints whether both answers are equal and the CPU per execution (process.cpuUsage), alternating rounds.
 */
interface Jit {
  compileQuery(schema: GraphQLSchema, document: DocumentNode, operationName?: string): unknown;
  isCompiledQuery(q: unknown): q is { query(root: unknown, context: unknown, variables: unknown): unknown };
}

async function main() {
  const spec = process.env.GRAPHQL_JIT ?? 'graphql-jit';
  const jit = createRequire(`${process.cwd()}/`)(spec) as Jit;
  const embedded = await startEmbedded({ port: 0, scale: 5, rateLimitPerMinute: 1_000_000 });
  const config = {
    ...embedded.config,
    sources: embedded.config.sources.map((s) => ({ ...s, rateLimitPerMinute: null, maxConcurrency: 256 })),
  };
  const logger = createLogger({ level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  const gw = await createGateway({ config, logger, production: true });
  try {
    const schema = buildSchema();
    const document = parse(INBOX);
    const compiled = jit.compileQuery(schema, document, 'Inbox');
    if (!jit.isCompiledQuery(compiled)) throw new Error(`graphql-jit did not compile: ${JSON.stringify(compiled)}`);
    const viewer = { keyName: 'jit', keyId: 'jit', sourceIds: new Set(config.sources.map((s) => s.id)) };
    const ctx = () => createContext(gw.services, viewer, { publicBaseUrl: 'http://127.0.0.1' });
    const runs = {
      'graphql-js': async () => (await execute({ schema, document, contextValue: ctx() })) as ExecutionResult,
      'graphql-jit': async () => (await compiled.query(undefined, ctx(), {})) as ExecutionResult,
    };
    const a = JSON.stringify(await runs['graphql-js']());
    const b = JSON.stringify(await runs['graphql-jit']());
    process.stdout.write(`same answer: ${a === b} (${a.length} bytes)\n`);
    for (let i = 0; i < 300; i++) for (const run of Object.values(runs)) await run();
    const n = 300;
    const ms: Record<string, number[]> = { 'graphql-js': [], 'graphql-jit': [] };
    for (let round = 0; round < 6; round++)
      for (const [name, run] of Object.entries(runs)) {
        const c0 = process.cpuUsage();
        for (let i = 0; i < n; i++) await run();
        const c = process.cpuUsage(c0);
        ms[name]!.push((c.user + c.system) / 1000 / n);
      }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    for (const [name, xs] of Object.entries(ms))
      process.stdout.write(
        `${name.padEnd(12)} ${median(xs).toFixed(3)} ms CPU per page (median of 6 alternating rounds of ${n}) [${xs.map((x) => x.toFixed(2)).join(' ')}]\n`,
      );
  } finally {
    await gw.close();
    await embedded.sandbox.close();
  }
}

void main();
