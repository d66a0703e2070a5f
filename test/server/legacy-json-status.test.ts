import { startTestGateway, type TestGateway } from '../utils/gateway';

/**
 * GraphQL over HTTP's status codes for request errors (plugins/legacyJsonStatus.ts): a parse or validation error
 * is 200 when the client accepts only the legacy `application/json`, and Apollo's 400 when it accepts
 * `application/graphql-response+json` (alone or beside application/json) or sends no Accept. The plugin decides
 * when the request starts.
 */
describe('request error status by Accept', () => {
  let g: TestGateway;
  beforeAll(async () => {
    g = await startTestGateway({ kinds: ['CHATWOOT'], scale: 1 });
  });
  afterAll(async () => {
    await g?.close();
  });

  const post = async (query: string, accept: string | null) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${g.apiKey}` };
    if (accept !== null) headers.accept = accept;
    const r = await fetch(`${g.url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query }) });
    const body = (await r.json()) as { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> };
    return { status: r.status, code: body.errors?.[0]?.extensions?.code, type: r.headers.get('content-type') };
  };

  it.each([
    ['{ conversations(', 'GRAPHQL_PARSE_FAILED'],
    ['{ noSuchField }', 'GRAPHQL_VALIDATION_FAILED'],
  ])('%s: 200 under application/json only, 400 otherwise', async (query, code) => {
    expect(await post(query, 'application/json')).toMatchObject({ status: 200, code });
    expect(await post(query, 'application/json; charset=utf-8')).toMatchObject({ status: 200, code });
    expect(await post(query, 'application/graphql-response+json')).toMatchObject({ status: 400, code });
    expect(await post(query, 'application/graphql-response+json, application/json')).toMatchObject({
      status: 400,
      code,
    });
    expect(await post(query, null)).toMatchObject({ status: 400, code });
  });

  it('a valid query is 200 under every Accept', async () => {
    for (const accept of ['application/json', 'application/graphql-response+json', null])
      expect((await post('{ __typename }', accept)).status).toBe(200);
  });
});
