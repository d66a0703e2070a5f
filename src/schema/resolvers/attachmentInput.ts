import { badInput } from '../../errors';

/**
 * Checks of createAttachmentUpload's `filename` and `contentType` (issue 12 item 12), before anything is staged
 * or any source is called. Both go to the vendor, which stores them and serves the file back under them.
 */

/** Longest filename, in UTF-8 bytes (what most file systems allow in one name). */
export const MAX_FILENAME_BYTES = 255;

/**
 * Characters no filename may hold: C0 and C1 controls and DEL; path separators; the Unicode bidirectional
 * controls (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), with which `invoice\u202Efdp.exe` shows as
 * `invoiceexe.pdf`; zero-width characters and the byte-order mark (U+200B–U+200D, U+2060, U+FEFF), which hide
 * differences; and the line and paragraph separators (U+2028, U+2029).
 */
const FORBIDDEN_IN_FILENAME =
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  /[\u0000-\u001f\u007f-\u009f/\\\u061c\u200b-\u200f\u2028-\u202e\u2060\u2066-\u2069\ufeff]/;

/** The filename, trimmed; BAD_USER_INPUT (field `input.filename`) when it cannot be one. */
export function checkFilename(raw: string): string {
  const filename = raw.trim();
  const fail = (why: string) => badInput(`"filename" ${why}.`, 'input.filename');
  if (!filename) throw fail('must not be empty');
  if (Buffer.byteLength(filename, 'utf8') > MAX_FILENAME_BYTES)
    throw fail(`must be at most ${MAX_FILENAME_BYTES} bytes in UTF-8`);
  if (FORBIDDEN_IN_FILENAME.test(filename))
    throw fail(
      'must not contain path separators, control characters, bidirectional or invisible formatting characters',
    );
  if (/^\.+$/.test(filename)) throw fail('must not be "." or ".." (or only dots)');
  if (/[\ud800-\udfff]/.test(filename.replace(/[\ud800-\udbff][\udc00-\udfff]/g, '')))
    throw fail('must be valid Unicode (no lone surrogates)');
  return filename;
}

/**
 * The top-level types of RFC 6838 that name one file's content (`multipart`, `message` and `example` do not).
 */
const TOP_LEVEL_TYPES = new Set(['application', 'audio', 'font', 'image', 'model', 'text', 'video']);

/** RFC 6838 §4.2 restricted-name: a letter or digit, then up to 126 of letters, digits and ! # $ & - ^ _ . + */
const RESTRICTED_NAME = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/**
 * Types a browser runs as a document with scripts when the file's URL is opened: refused, not forwarded as
 * "attachment-only", because the gateway never serves the bytes itself (the vendor stores the file and serves it
 * from its own URL, `Attachment.url`, with the content type it was given), so it cannot add a
 * `Content-Disposition: attachment`; the one control it has is not to hand the vendor such a type. Any `+xml`
 * subtype counts (SVG and XHTML are XML, and an XML document may carry XHTML with scripts).
 */
const ACTIVE_TYPES = new Set([
  'text/html',
  'text/xml',
  'application/xml',
  'text/xsl',
  'text/javascript',
  'text/ecmascript',
  'application/javascript',
  'application/ecmascript',
  'application/x-javascript',
  'application/x-shockwave-flash',
]);

/** The content type, lower-cased; BAD_USER_INPUT (field `input.contentType`) unless a plain `type/subtype` of a file. */
export function checkContentType(raw: string): string {
  const shown = JSON.stringify(raw.slice(0, 60));
  const ct = raw.trim().toLowerCase();
  const slash = ct.indexOf('/');
  const type = ct.slice(0, slash);
  const subtype = ct.slice(slash + 1);
  if (slash < 0 || !RESTRICTED_NAME.test(type) || !RESTRICTED_NAME.test(subtype)) {
    throw badInput(
      `"contentType" must be a MIME type "type/subtype" such as image/jpeg, without parameters, but got ${shown}.`,
      'input.contentType',
    );
  }
  if (!TOP_LEVEL_TYPES.has(type)) {
    throw badInput(
      `"contentType" must be of type ${[...TOP_LEVEL_TYPES].join(', ')}, but got ${shown}.`,
      'input.contentType',
    );
  }
  if (ACTIVE_TYPES.has(ct) || subtype.endsWith('+xml')) {
    throw badInput(
      `"contentType" ${shown} is refused: browsers run it as a page with scripts when its URL is opened; send it as application/octet-stream or in an archive.`,
      'input.contentType',
    );
  }
  return ct;
}
