import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeyConfig } from '../config/schema';
import type { Viewer } from '../schema/context';

export type { Viewer };

/**
 * API keys are configured as SHA-256 hashes; a presented key is hashed and compared in constant time.
 * `authorization` is the raw header value (`Bearer <key>`), from HTTP or graphql-ws `connection_init`.
 */
export function createAuthenticator(keys: readonly ApiKeyConfig[], allSourceIds: readonly string[]) {
  const entries = keys.map((k) => ({
    hash: Buffer.from(k.sha256, 'hex'),
    viewer: {
      keyName: k.name,
      keyId: k.sha256,
      sourceIds: new Set(k.sources.includes('*') ? allSourceIds : k.sources),
    } satisfies Viewer,
  }));
  return (authorization: unknown): Viewer | null => {
    if (typeof authorization !== 'string') return null;
    const m = /^Bearer\s+(\S{1,512})\s*$/i.exec(authorization);
    if (!m) return null;
    const presented = createHash('sha256')
      .update(m[1] as string, 'utf8')
      .digest();
    let found: Viewer | null = null;
    for (const e of entries) if (timingSafeEqual(e.hash, presented)) found = e.viewer;
    return found;
  };
}
export type Authenticator = ReturnType<typeof createAuthenticator>;
