import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVER_LIMIT_DEFAULTS } from '../../src/config/schema';
import { buildSchema } from '../../src/schema';
import * as limitsModule from '../../src/server/limits';
import { createOperationCheck, type OperationCheck } from '../../src/server/operation';
import { Safelist, sha256Hex } from '../../src/server/persisted';

/**
 * server/operation.ts: the one check both transports run. graphql-ws calls check(); Apollo's HTTP pipeline runs
 * the same steps through resolve(), parseOptions, validationRules and cost() (the integration suites prove
 * both transports answer alike: limits.test.ts, persisted.test.ts).
 */
const schema = buildSchema();
const limits = { ...SERVER_LIMIT_DEFAULTS, maxDepth: 4, maxAliases: 2, maxCost: 50, maxTokens: 200 };
const codes = (r: ReturnType<OperationCheck['check']>) =>
  'errors' in r ? r.errors.map((e) => e.extensions.code) : 'ok';

describe('the operation check', () => {
  const open = createOperationCheck({ schema, limits, introspection: true, safelist: null });

  it('passes an operation within every limit', () => {
    expect(codes(open.check({ query: '{ conversations(first: 2) { edges { cursor } } }' }))).toBe('ok');
  });

  it('refuses a syntax error and a document above maxTokens while parsing', () => {
    expect(codes(open.check({ query: '{ conversations(' }))).toEqual(['GRAPHQL_PARSE_FAILED']);
    const long = `{ ${Array.from({ length: 120 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const r = open.check({ query: long });
    expect(codes(r)).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect('errors' in r && r.errors[0]?.message).toMatch(/200 tokens/);
  });

  it('validates with graphql-js rules and the depth and alias limits', () => {
    expect(codes(open.check({ query: '{ nope }' }))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    const aliases =
      '{ a: conversations(first: 1) { edges { cursor } } b: conversations(first: 1) { edges { cursor } } c: conversations(first: 1) { edges { cursor } } }';
    expect(codes(open.check({ query: aliases }))).toEqual(['LIMIT_EXCEEDED']);
    expect(
      codes(
        open.check({
          query: '{ conversations { edges { node { messages { edges { node { id } } } } } } }',
        }),
      ),
    ).toEqual(['LIMIT_EXCEEDED']);
  });

  it('refuses introspection when it is off', () => {
    const closed = createOperationCheck({ schema, limits, introspection: false, safelist: null });
    const r = codes(closed.check({ query: '{ __schema { queryType { name } } }' }));
    expect(r).not.toBe('ok');
    expect(new Set(r)).toEqual(new Set(['GRAPHQL_VALIDATION_FAILED']));
    expect(codes(open.check({ query: '{ __schema { queryType { name } } }' }))).toBe('ok');
  });

  it('costs an operation with its variables', () => {
    const query = 'query Q($n: Int) { conversations(first: $n) { edges { cursor } } }';
    expect(codes(open.check({ query, variables: { n: 5 } }))).toBe('ok');
    expect(codes(open.check({ query, variables: { n: 40 } }))).toEqual(['LIMIT_EXCEEDED']);
    // HTTP's step carries the status Apollo answers with; graphql-ws's has none.
    const checked = open.check({ query, variables: { n: 5 } });
    if (!('document' in checked)) throw new Error('expected a document');
    expect(open.cost(checked.document, null, { n: 40 }, { http: true })?.extensions.http).toEqual({ status: 400 });
    expect(open.cost(checked.document, null, { n: 40 }, { http: false })?.extensions.http).toBeUndefined();
  });

  it('parses and validates a query text once: later checks share its document, still costed with their variables', () => {
    let size = () => -1;
    const check = createOperationCheck({
      schema,
      limits,
      introspection: true,
      safelist: null,
      maxDocuments: 2,
      trackSize: (store, s) => {
        expect(store).toBe('operation_documents');
        size = s;
      },
    });
    const query = 'query Q($n: Int) { conversations(first: $n) { edges { cursor } } }';
    const a = check.check({ query, variables: { n: 1 } });
    const b = check.check({ query, variables: { n: 2 } });
    if (!('document' in a) || !('document' in b)) throw new Error('expected documents');
    expect(b.document).toBe(a.document);
    expect(codes(check.check({ query, variables: { n: 40 } }))).toEqual(['LIMIT_EXCEEDED']);
    // Refused documents are not kept: refused again, each time.
    expect(codes(check.check({ query: '{ nope }' }))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(codes(check.check({ query: '{ nope }' }))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(size()).toBe(1);
    // Bounded: the least recently used goes first.
    check.check({ query: '{ __typename }' });
    check.check({ query: '{ conversations(first: 1) { totalCount } }' });
    expect(size()).toBe(2);
    const again = check.check({ query, variables: { n: 1 } });
    if (!('document' in again)) throw new Error('expected a document');
    expect(again.document).not.toBe(a.document);
  });

  it('costs an operation once per document, operation and variables; a refusal is costed again each time', () => {
    const costed = jest.spyOn(limitsModule, 'checkCost');
    try {
      const check = createOperationCheck({ schema, limits, introspection: true, safelist: null });
      const query = 'query Q($n: Int) { conversations(first: $n) { edges { cursor } } }';
      // 10,000 subscribers of one screen: one costing.
      for (let i = 0; i < 5; i++) expect(codes(check.check({ query, variables: { n: 5 } }))).toBe('ok');
      expect(costed).toHaveBeenCalledTimes(1);
      expect(codes(check.check({ query, variables: { n: 6 } }))).toBe('ok');
      expect(codes(check.check({ query, operationName: 'Q', variables: { n: 5 } }))).toBe('ok');
      expect(costed).toHaveBeenCalledTimes(3);
      // Above the limit: refused every time, each refusal costed.
      expect(codes(check.check({ query, variables: { n: 40 } }))).toEqual(['LIMIT_EXCEEDED']);
      expect(codes(check.check({ query, variables: { n: 40 } }))).toEqual(['LIMIT_EXCEEDED']);
      expect(costed).toHaveBeenCalledTimes(5);
      // Within the limit before does not let more through: other variables are other operations.
      expect(codes(check.check({ query, variables: { n: 5 } }))).toBe('ok');
      expect(costed).toHaveBeenCalledTimes(5);
    } finally {
      costed.mockRestore();
    }
  });

  describe('in safelist mode', () => {
    const registered = '{ conversations(first: 1) { edges { cursor } } }';
    let dir: string;
    let check: OperationCheck;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'safelist-'));
      const file = join(dir, 'manifest.json');
      writeFileSync(file, JSON.stringify({ [sha256Hex(registered)]: registered }));
      check = createOperationCheck({ schema, limits, introspection: true, safelist: Safelist.load(file) });
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('runs a registered operation sent in full or by its hash', () => {
      expect(codes(check.check({ query: registered }))).toBe('ok');
      const byHash = { query: '', extensions: { persistedQuery: { version: 1, sha256Hash: sha256Hex(registered) } } };
      expect(codes(check.check(byHash))).toBe('ok');
      expect(check.resolve(undefined, sha256Hex(registered))).toEqual({ query: registered });
    });

    it('refuses anything else before parsing it, even text that would not parse', () => {
      expect(codes(check.check({ query: '{ __typename }' }))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      expect(codes(check.check({ query: '{ not graphql' }))).toEqual(['PERSISTED_QUERY_NOT_FOUND']);
      expect(codes(check.check({ query: '', extensions: { persistedQuery: { sha256Hash: 'f'.repeat(64) } } }))).toEqual(
        ['PERSISTED_QUERY_NOT_FOUND'],
      );
    });
  });
});
