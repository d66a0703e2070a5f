import type { Connector, SourceModel } from '../../connectors/types';
import { ErrorCode, GatewayError, unsupported } from '../../errors';
import type { GatewayContext } from '../context';
import { decodeGlobalId, type DecodedId, type NodeType } from '../ids';
import { badInput } from '../../errors';

export const sourceModel = (c: Connector): SourceModel => ({
  id: c.id,
  kind: c.kind,
  name: c.name,
  capabilities: c.capabilities,
});

/**
 * Decodes an id argument of the given type whose source this viewer may see. A malformed id or one of the
 * wrong type is BAD_USER_INPUT; an id of a hidden source is NOT_FOUND, exactly like an id that does not exist.
 */
export function resolveId(
  ctx: GatewayContext,
  id: string,
  type: NodeType,
  field: string,
): DecodedId & { connector: Connector } {
  const d = decodeGlobalId(id);
  if (!d) throw badInput(`"${field}" is not a valid Switchboard id.`, field);
  if (d.type !== type)
    throw badInput(`"${field}" must be the id of a ${type}, but it is the id of a ${d.type}.`, field);
  if (!ctx.viewer.sourceIds.has(d.sourceId)) throw notFoundOf(type);
  return { ...d, connector: ctx.connector(d.sourceId) };
}

/** NOT_FOUND; `source` only when the viewer may see that source (a hidden source is never named). */
export const notFoundOf = (type: NodeType, source?: string) =>
  new GatewayError(ErrorCode.NOT_FOUND, `${type} not found.`, { source });

/** Throws UNSUPPORTED_OPERATION unless the source declares the capability. */
export function requireCapability(c: Connector, ok: boolean, operation: string) {
  if (!ok) throw unsupported(c.id, operation);
}

/** Runs a per-source read; a source failure becomes an error entry and the fallback, not a failed query. */
export async function partial<T>(ctx: GatewayContext, fallback: T, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof GatewayError && e.sourceId && e.isSourceFailure) {
      ctx.sourceErrors.push(e);
      return fallback;
    }
    throw e;
  }
}
