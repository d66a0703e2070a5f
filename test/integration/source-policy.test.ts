import type { SourceConfig } from '../../src/config/schema';
import { createMemoryCatalogStore } from '../../src/connectors/catalog-stores/memory';
import { createConnector } from '../../src/connectors/registry';
import type { Connector, ConnectorDeps, SourceKind } from '../../src/connectors/types';
import { GatewayError } from '../../src/errors';
import type { EmulatorHandle } from '../../src/sandbox/kit/server';
import { startSandbox, type Sandbox } from '../../src/sandbox';
import { connectorDeps } from '../../src/server/connectors';
import { sleep, waitFor } from '../utils/wait';

/**
 * No hidden channel (issue 11): a source's limits reach its HTTP client through the connector's dependencies
 * (`ConnectorDeps.policy`, built by the composition root's `connectorDeps`), not through a module-level window
 * around the connector factory. Every connector here is built in a later task than the one that prepared its
 * dependencies, long after any start-up, and every read opens a session of its own. Each limit is then checked
 * against the vendor's real emulator by its effect, counted in the emulator's request log; a control shows the
 * same connector built without its deps has none of them.
 */
const KINDS: SourceKind[] = ['PIXIESET', 'PROTOCOL', 'CHATWOOT', 'MONICA'];

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ kinds: KINDS, scale: 1 });
});
afterAll(async () => {
  await sandbox.close();
});

describe.each(KINDS)('%s: per-source limits reach a client built after start-up', (kind) => {
  let source: SourceConfig;
  let emulator: EmulatorHandle;
  let ids: string[];
  const open: Connector[] = [];

  beforeAll(async () => {
    source = sandbox.sourceConfigs.find((s) => s.kind === kind)!;
    emulator = sandbox.emulators.get(source.id)!;
    const plain = createConnector(source);
    ids = (
      await plain.openSession({ requestId: 'ids' }).listConversations({ offset: 0, limit: 3, filter: {} })
    ).items.map((c) => c.nativeId);
    await plain.close?.();
    expect(ids).toHaveLength(3);
  });
  beforeEach(() => {
    emulator.setFaults({});
    emulator.clearRequests();
  });
  afterEach(async () => {
    emulator.setFaults({});
    await Promise.all(open.splice(0).map((c) => c.close?.()));
  });

  /**
   * The connector of `source` with `limits`, given what the composition root gives it (`deps`), built in a later
   * task than the one that asked for it: nothing but its deps can carry the limits there.
   */
  async function later(
    limits: Partial<SourceConfig>,
    deps = (s: SourceConfig): ConnectorDeps => connectorDeps(s, { catalogStore: createMemoryCatalogStore() }),
  ): Promise<Connector> {
    const limited = { ...source, ...limits } as SourceConfig;
    const given = deps(limited);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const c = createConnector(limited, given);
    open.push(c);
    return c;
  }
  /** One read of one conversation, in a session of its own; its error (a GatewayError) or null. */
  async function read(c: Connector, id: string, signal?: AbortSignal): Promise<GatewayError | null> {
    try {
      await c.openSession({ requestId: 'policy', signal }).loadConversation(id);
      return null;
    } catch (e) {
      expect(e).toBeInstanceOf(GatewayError);
      return e as GatewayError;
    }
  }
  const upstream = () => emulator.requests().length;

  it('timeout: a hanging source fails after its timeoutMs with SOURCE_TIMEOUT, after one call', async () => {
    const c = await later({ timeoutMs: 250, retries: 0 });
    emulator.setFaults({ hang: true });
    const e = await read(c, ids[0]!);
    expect(e?.code).toBe('SOURCE_TIMEOUT');
    expect(e?.message).toContain('within 250 ms');
    expect(upstream()).toBe(1);
  });

  it('retries: a failing read is tried 1 + retries times (3 here, the default is 2)', async () => {
    const c = await later({ retries: 3, circuitBreaker: { failures: 50, halfOpenAfterMs: 10_000 } });
    emulator.setFaults({ errorRate: 1 });
    expect((await read(c, ids[0]!))?.code).toBe('SOURCE_UNAVAILABLE');
    expect(upstream()).toBe(4);
  });

  it('circuit breaker: after `failures` failed calls the circuit opens and the next read makes no call', async () => {
    const c = await later({ retries: 0, circuitBreaker: { failures: 2, halfOpenAfterMs: 60_000 } });
    emulator.setFaults({ errorRate: 1 });
    expect((await read(c, ids[0]!))?.code).toBe('SOURCE_UNAVAILABLE');
    expect((await read(c, ids[1]!))?.code).toBe('SOURCE_UNAVAILABLE');
    expect((await read(c, ids[2]!))?.code).toBe('CIRCUIT_OPEN');
    expect(upstream()).toBe(2);
    expect(c.health().circuit).toBe('OPEN');
  });

  it('rate cap: past rateLimitPerMinute a read is refused with SOURCE_RATE_LIMITED without a call', async () => {
    const c = await later({
      rateLimitPerMinute: 2,
      timeoutMs: 300,
      retries: 0,
      circuitBreaker: { failures: 50, halfOpenAfterMs: 10_000 },
    });
    emulator.setFaults({ errorRate: 1 });
    expect((await read(c, ids[0]!))?.code).toBe('SOURCE_UNAVAILABLE');
    expect((await read(c, ids[1]!))?.code).toBe('SOURCE_UNAVAILABLE');
    const refused = await read(c, ids[2]!);
    expect(refused?.code).toBe('SOURCE_RATE_LIMITED');
    expect(refused?.message).toContain('allows 2 requests a minute');
    expect(upstream()).toBe(2);
  });

  /** Three reads at once against a source that never answers; the upstream calls made before they are cancelled. */
  async function concurrentCalls(c: Connector): Promise<number> {
    emulator.setFaults({ hang: true });
    const operation = new AbortController();
    const reads = ids.map((id) => read(c, id, operation.signal));
    // No deadline before but jest's 30 s test timeout: the same bound, now naming what it waited for.
    await waitFor(() => upstream() > 0, { timeoutMs: 30_000, what: 'the first upstream call' });
    // Give any call the cap should hold back the time to arrive.
    await sleep(150);
    const calls = upstream();
    operation.abort();
    for (const e of await Promise.all(reads)) expect(e?.code).toBe('SOURCE_TIMEOUT');
    expect(upstream()).toBe(calls);
    return calls;
  }

  it('concurrency cap: with maxConcurrency 1 only one of three concurrent reads reaches the source', async () => {
    expect(await concurrentCalls(await later({ maxConcurrency: 1, retries: 0 }))).toBe(1);
  });

  it('(control) the same connector built without its deps has none of the caps: all three reach the source', async () => {
    expect(await concurrentCalls(await later({ maxConcurrency: 1, retries: 0 }, () => ({})))).toBe(3);
  });
});
