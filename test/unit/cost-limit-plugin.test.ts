import type { GraphQLRequestContextDidResolveOperation, GraphQLRequestListener } from '@apollo/server';
import { parse } from 'graphql';
import { buildSchema } from '../../src/schema';
import type { GatewayContext } from '../../src/schema/context';
import { createOperationCheck, type OperationCheck } from '../../src/server/operation';
import { COST_MEMO_PER_DOCUMENT, costLimitPlugin } from '../../src/server/plugins/costLimit';
import { resolveLimits } from '../../src/server/limits';

/**
 * The cost limit over HTTP (server/plugins/costLimit.ts): the complexity visitor runs once per document, operation
 * name and variables that passed, and every operation above the limit is still refused, each time.
 */
describe('cost limit plugin', () => {
  const schema = buildSchema();
  const real = createOperationCheck({
    schema,
    limits: { ...resolveLimits({ port: 0, host: '127.0.0.1' } as never), maxCost: 1000 },
    introspection: true,
    safelist: null,
  });
  let costed = 0;
  const operations: OperationCheck = {
    ...real,
    cost: (...args) => {
      costed++;
      return real.cost(...args);
    },
  };
  const plugin = costLimitPlugin(operations);
  const query = `query($n: Int) { conversations(first: $n) { edges { node { id messages(last: 10) { edges { node { id content } } } } } } }`;

  const run = async (document: ReturnType<typeof parse>, variables: Record<string, unknown>) => {
    const listener = (await plugin.requestDidStart!({} as never)) as GraphQLRequestListener<GatewayContext>;
    await listener.didResolveOperation!({
      document,
      operationName: null,
      request: { variables },
    } as unknown as GraphQLRequestContextDidResolveOperation<GatewayContext>);
  };

  it('costs a document once per variables that passed, and refuses every over-cost run', async () => {
    const doc = parse(query);
    costed = 0;
    await run(doc, { n: 2 });
    await run(doc, { n: 2 });
    await run(doc, { n: 2 });
    expect(costed).toBe(1);
    // The same document with variables above the limit: refused each time, costed each time.
    for (let i = 0; i < 3; i++)
      await expect(run(doc, { n: 50 })).rejects.toMatchObject({
        extensions: { code: 'LIMIT_EXCEEDED', limit: 'cost', max: 1000, cost: expect.any(Number) },
      });
    expect(costed).toBe(4);
    // Within the limit again: still remembered.
    await run(doc, { n: 2 });
    expect(costed).toBe(4);
    // Another parse of the same text is another document (Apollo keeps one per text): costed once more.
    await run(parse(query), { n: 2 });
    expect(costed).toBe(5);
  });

  it('remembers a bounded number of variable sets per document', async () => {
    const doc = parse(query);
    costed = 0;
    for (let n = 1; n <= COST_MEMO_PER_DOCUMENT + 1; n++) await run(doc, { n: n % 20 === 0 ? 1 : n % 20, k: n });
    expect(costed).toBe(COST_MEMO_PER_DOCUMENT + 1);
    // The last set did not fit: costed again; the first did: not.
    await run(doc, { n: 1 % 20, k: 1 });
    await run(doc, { n: (COST_MEMO_PER_DOCUMENT + 1) % 20, k: COST_MEMO_PER_DOCUMENT + 1 });
    expect(costed).toBe(COST_MEMO_PER_DOCUMENT + 2);
  });
});
