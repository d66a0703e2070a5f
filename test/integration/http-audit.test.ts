import { serverAudits } from 'graphql-http';
import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * The GraphQL-over-HTTP audit suite (graphql-http's serverAudits): every MUST and every SHOULD must pass.
 * The gateway requires an API key, so the audit's fetch carries one (as every real client does).
 */
let t: TestGateway;
beforeAll(async () => {
  t = await startTestGateway({ kinds: ['PIXIESET'] });
});
afterAll(async () => {
  await t.close();
});

const audits = serverAudits({
  url: () => `${t.url}/graphql`,
  fetchFn: (input: RequestInfo, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${t.apiKey}`);
    return fetch(input, { ...init, headers });
  },
});

describe('GraphQL over HTTP', () => {
  for (const audit of audits) {
    it(audit.name, async () => {
      const result = await audit.fn();
      if (result.status !== 'ok') {
        throw new Error(
          `${result.status}: ${result.reason}\n${JSON.stringify(await result.response.text().catch(() => ''))}`,
        );
      }
    });
  }
});
