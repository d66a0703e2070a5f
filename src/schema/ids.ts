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

/**
 * Person ids (src/people/): base64url of `Person:<sourceId>:<nativeId>` of the person's smallest member as the viewer
 * sees it (source id, then native id). Not a {@link NodeType}: a person is no object of one source, and
 * `decodeGlobalId` answers null for it, so code that routes ids to sources never mistakes one for a participant.
 */
export function toPersonId(sourceId: string, nativeId: string): string {
  return Buffer.from(`Person:${sourceId}:${nativeId}`, 'utf8').toString('base64url');
}

/** The anchor participant of a person id; null when `id` is not one. */
export function decodePersonId(id: string): { sourceId: string; nativeId: string } | null {
  if (!/^[A-Za-z0-9_-]{1,512}$/.test(id)) return null;
  const s = Buffer.from(id, 'base64url').toString('utf8');
  if (!s.startsWith('Person:')) return null;
  const rest = s.slice('Person:'.length);
  const a = rest.indexOf(':');
  if (a <= 0 || a === rest.length - 1) return null;
  return { sourceId: rest.slice(0, a), nativeId: rest.slice(a + 1) };
}
