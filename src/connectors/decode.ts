import type { z } from 'zod';
import { ErrorCode, GatewayError } from '../errors';

/**
 * Checks a vendor body against its wire schema (the vendor's `types.ts`). A body that does not match
 * (wrong types, missing fields) becomes SOURCE_BAD_RESPONSE naming the source and the first bad path,
 * never a crash deeper in a mapper.
 */
export function decode<S extends z.ZodType>(schema: S, body: unknown, sourceId: string, what: string): z.output<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
  throw new GatewayError(
    ErrorCode.SOURCE_BAD_RESPONSE,
    `Source "${sourceId}" sent a malformed ${what}: at ${path}, ${issue?.message ?? 'unexpected shape'}.`,
    { source: sourceId },
  );
}
