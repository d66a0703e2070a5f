/**
 * Error assertions. The gateway's errors are GatewayError with a code (src/errors): these helpers fail a test
 * when a call succeeds, or fails with anything but a GatewayError, and hand the error back for its details.
 */
import { GatewayError } from '../../src/errors';

/** Awaits a promise that must reject with a GatewayError, and returns that error for assertions. */
export async function rejection(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof GatewayError) return e;
    throw e;
  }
  throw new Error('expected a rejection with a GatewayError, but the call succeeded');
}

/** Calls `fn`, which must throw a GatewayError synchronously (a webhook verifier, a parser), and returns it. */
export function thrown(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (e) {
    if (e instanceof GatewayError) return e;
    throw e;
  }
  throw new Error('expected a GatewayError to be thrown, but the call returned');
}

/**
 * Awaits a promise that must reject with a GatewayError whose code is `code` (or one of `code`) and whose
 * extensions contain `extensions`; returns the error.
 */
export async function expectGatewayError(
  p: Promise<unknown>,
  code: string | readonly string[],
  extensions: Record<string, unknown> = {},
): Promise<GatewayError> {
  const e = await rejection(p);
  const codes = typeof code === 'string' ? [code] : code;
  if (!codes.includes(e.code)) {
    throw new Error(`expected a GatewayError with code ${codes.join(' or ')}, got ${e.code}: ${e.message}`);
  }
  expect(e.extensions).toMatchObject(extensions);
  return e;
}

/** A GraphQL response's error codes, in order (`[]` without errors). */
export function errorCodes(body: { errors?: ReadonlyArray<{ extensions?: Record<string, unknown> }> }): unknown[] {
  return (body.errors ?? []).map((e) => e.extensions?.code);
}
