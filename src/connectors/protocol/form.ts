/**
 * Protocol request bodies, form-encoded as the vendor's documents show them (docs/vendors/protocol.md "Request
 * bodies"): every write example is `curl -d key=value` (application/x-www-form-urlencoded), arrays and objects
 * use brackets (`-d reactions[red_angry_face][]=KateMcCallister` on the messages page), and files go as multipart
 * (`curl -F file=...`, attachments page). JSON bodies are not documented, so the connector never sends one.
 */

/** A value a Protocol body can carry. */
export type FormValue = string | number | boolean | null | undefined | FormValue[] | { [key: string]: FormValue };

/**
 * How a null (clearing a field, e.g. un-archiving with `archived_at`) is written, which no document shows
 * (docs/vendors/protocol.md "Assumptions"): `empty` sends `archived_at=` (the convention of the Stripe-style APIs the
 * template imitates), `literal` sends `archived_at=null`.
 */
export type NullEncoding = 'empty' | 'literal';

/** The order the connector tries null encodings in until the vendor accepts one (see ProtocolClient). */
export const NULL_ENCODINGS: readonly NullEncoding[] = ['empty', 'literal'];

/**
 * `{conversation_id: "a", attachments: ["x","y"], reactions: {smile: ["kate"]}}` →
 * `conversation_id=a&attachments[]=x&attachments[]=y&reactions[smile][]=kate`. Scalars in arrays take `[]`, objects
 * take `[key]`, objects inside arrays take their index (`[0][key]`); booleans are `true`/`false`; undefined is left
 * out; null follows `nulls`.
 */
export function toForm(body: Record<string, FormValue>, nulls: NullEncoding = 'empty'): URLSearchParams {
  const out = new URLSearchParams();
  const put = (key: string, v: FormValue) => {
    if (v === undefined) return;
    if (v === null) {
      out.append(key, nulls === 'empty' ? '' : 'null');
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => {
        const nested = typeof item === 'object' && item !== null;
        put(nested ? `${key}[${i}]` : `${key}[]`, item);
      });
    } else if (typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) put(`${key}[${k}]`, item);
    } else {
      out.append(key, String(v));
    }
  };
  for (const [k, v] of Object.entries(body)) put(k, v);
  return out;
}

/** Whether a body clears some field (holds a null somewhere), so that its null encoding matters. */
export function hasNull(body: Record<string, FormValue>): boolean {
  const walk = (v: FormValue): boolean =>
    v === null ||
    (Array.isArray(v) ? v.some(walk) : typeof v === 'object' && v !== undefined && Object.values(v).some(walk));
  return Object.values(body).some(walk);
}
