/**
 * Global ids: base64url of `<Type>:<sourceId>:<nativeId>`. Opaque to clients; they route `node(id)` to the
 * right source and carry the native id, including Chatwoot's account (docs/vendors/README.md "IDs").
 */
export type NodeType = 'Conversation' | 'Message' | 'Participant' | 'Attachment' | 'Source';
const TYPES = new Set<NodeType>(['Conversation', 'Message', 'Participant', 'Attachment', 'Source']);

export interface DecodedId {
  type: NodeType;
  sourceId: string;
  nativeId: string;
}

export function toGlobalId(type: NodeType, sourceId: string, nativeId: string): string {
  return Buffer.from(`${type}:${sourceId}:${nativeId}`, 'utf8').toString('base64url');
}

/** Decodes any global id; null when it is not one of ours. */
export function decodeGlobalId(id: string): DecodedId | null {
  if (!/^[A-Za-z0-9_-]{1,512}$/.test(id)) return null;
  const s = Buffer.from(id, 'base64url').toString('utf8');
  const a = s.indexOf(':');
  const b = a < 0 ? -1 : s.indexOf(':', a + 1);
  if (a < 0 || b < 0) return null;
  const type = s.slice(0, a) as NodeType;
  if (!TYPES.has(type)) return null;
  const sourceId = s.slice(a + 1, b);
  const nativeId = s.slice(b + 1);
  if (!sourceId || (!nativeId && type !== 'Source')) return null;
  return { type, sourceId, nativeId };
}
