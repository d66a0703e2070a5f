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
