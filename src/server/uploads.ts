import type { WriteStream } from 'node:fs';
import busboy from 'busboy';
import type { Request, RequestHandler, Response } from 'express';
import { ErrorCode, GatewayError } from '../errors';
import type { StagingLimit, UploadStaging } from './staging';

const fail = (res: Response, status: number, code: string, message: string, extra: Record<string, unknown> = {}) => {
  if (!res.headersSent) res.status(status).json({ error: { code, message, ...extra } });
};

/** Room for the multipart envelope (boundaries, the token field) around the file. */
const MULTIPART_SLACK = 64 * 1024;

/** The multipart field the file must come in. */
const FILE_FIELD = 'file';

/**
 * HTTP status of a staging refusal: the key's own quotas are the client's doing (429, retry once something was
 * sent or expired); the total cap is the gateway's capacity (503, retry later).
 */
const LIMIT_STATUS: Record<StagingLimit, number> = {
  'server.uploads.maxBytesPerKey': 429,
  'server.uploads.maxUploadsPerKey': 429,
  'server.uploads.maxBytesTotal': 503,
};

/** A refusal sent before (or instead of) reading the rest of the body: the connection is closed after it. */
const refuse = (res: Response, status: number, e: GatewayError) => {
  res.set('connection', 'close');
  const retryAfter = e.extensions.retryAfter;
  if (typeof retryAfter === 'number') res.set('retry-after', String(retryAfter));
  const { code: _code, ...extensions } = e.extensions;
  fail(res, status, e.code, e.message, extensions);
};

const statusOf = (e: GatewayError) =>
  e.code === ErrorCode.LIMIT_EXCEEDED
    ? (LIMIT_STATUS[e.extensions.limit as StagingLimit] ?? 429)
    : e.code === ErrorCode.FILE_TOO_LARGE
      ? 413
      : 400;

/** 413 FILE_TOO_LARGE with `maxSize` (the source's limit), like the GraphQL error; the connection is closed. */
const tooLarge = (message: string, upload: { sourceId: string; maxSize: number }) =>
  new GatewayError(ErrorCode.FILE_TOO_LARGE, message, { source: upload.sourceId, maxSize: upload.maxSize });

/**
 * `POST /uploads/<id>`: the upload target createAttachmentUpload hands out for INLINE sources. A
 * multipart/form-data body with the `token` field first and the file as `file`; the token is an HMAC the
 * gateway signed. The file is written to disk as it arrives (server/staging.ts), never held in memory.
 *
 * Refused before the body is read: a Content-Length above the declared size (or the source's limit) with 413
 * FILE_TOO_LARGE; an upload that would take its API key past `server.uploads.maxBytesPerKey` (429) or the gateway
 * past `maxBytesTotal` (503), with LIMIT_EXCEEDED and `retryAfter`. The bytes counted are the declared size, or
 * the Content-Length when smaller; a file that grows past the declared size is cut off (413), and should more
 * bytes arrive than were counted, the reservation grows only within the quotas. Nothing reaches the source before
 * `sendMessage`. A file under another field name than `file` is BAD_USER_INPUT.
 */
export function uploadRoute(staging: UploadStaging): RequestHandler<{ id: string }> {
  return (req: Request<{ id: string }>, res: Response) => {
    const known = staging.get(req.params.id);
    const length = Number(req.get('content-length') ?? NaN);
    const hasLength = Number.isFinite(length) && length >= 0;
    if (known) {
      const limit = Math.min(known.size, known.maxSize);
      const early =
        hasLength && length > limit + MULTIPART_SLACK
          ? tooLarge(
              length > known.maxSize + MULTIPART_SLACK
                ? `The request is ${length} bytes; source "${known.sourceId}" accepts files of at most ${known.maxSize} bytes.`
                : `The request is ${length} bytes, more than the ${known.size} bytes declared in createAttachmentUpload.`,
              known,
            )
          : staging.quotaRefusal(known.keyId, hasLength ? Math.min(length, limit) : limit);
      if (early) {
        refuse(res, statusOf(early), early);
        req.resume();
        return;
      }
    }
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 1, fields: 10, fieldSize: 4096 } });
    } catch {
      fail(res, 400, ErrorCode.BAD_USER_INPUT, 'Expected a multipart/form-data body.');
      return;
    }
    let token: string | null = null;
    let done = false;
    let gotFile = false;
    /** The upload whose file is being written (to release it if the request goes away). */
    let receiving: string | null = null;
    /** Its file, closed before the partial file is removed. */
    let writing: WriteStream | null = null;
    const release = () => {
      writing?.destroy();
      writing = null;
      if (receiving) staging.abort(receiving);
      receiving = null;
    };
    const stop = (e: GatewayError, status = statusOf(e)) => {
      done = true;
      release();
      refuse(res, status, e);
    };
    const storeFailed = () =>
      stop(new GatewayError(ErrorCode.INTERNAL_SERVER_ERROR, 'The gateway could not store the file.'), 500);
    res.on('close', () => {
      release();
    });
    bb.on('field', (name, value) => {
      if (name === 'token') token = value;
    });
    bb.on('file', (name, stream) => {
      gotFile = true;
      if (done) return void stream.resume();
      if (name !== FILE_FIELD) {
        stream.resume();
        return stop(
          new GatewayError(
            ErrorCode.BAD_USER_INPUT,
            `The file must be sent in the multipart field "${FILE_FIELD}", not "${name.slice(0, 60)}".`,
            { field: FILE_FIELD },
          ),
        );
      }
      const upload = token
        ? staging.authorize(req.params.id, token)
        : 'missing token (send the token field before the file)';
      if (typeof upload === 'string') {
        stream.resume();
        done = true;
        fail(res, 403, ErrorCode.FORBIDDEN, `Upload refused: ${upload}.`);
        return;
      }
      const limit = Math.min(upload.size, upload.maxSize);
      let reserved = hasLength ? Math.min(length, limit) : limit;
      const out = staging.begin(upload.id, reserved);
      if (out instanceof GatewayError) {
        stream.resume();
        return stop(out);
      }
      receiving = upload.id;
      writing = out;
      let size = 0;
      out.on('error', () => {
        if (done) return;
        stream.resume();
        storeFailed();
      });
      stream.on('data', (d: Buffer) => {
        if (done) return;
        size += d.length;
        if (size > limit) {
          stream.resume();
          return stop(
            tooLarge(
              size > upload.maxSize
                ? `The file is more than ${upload.maxSize} bytes; source "${upload.sourceId}" accepts at most ${upload.maxSize} bytes.`
                : `The file is larger than the ${upload.size} bytes declared in createAttachmentUpload.`,
              upload,
            ),
          );
        }
        if (size > reserved) {
          const refusal = staging.grow(upload.id, size - reserved);
          if (refusal) {
            stream.resume();
            return stop(refusal);
          }
          reserved = size;
        }
        if (!out.write(d)) {
          stream.pause();
          out.once('drain', () => stream.resume());
        }
      });
      stream.on('end', () => {
        if (done) return;
        out.end(() => {
          if (done) return;
          staging.commit(upload.id, size).then(() => {
            receiving = null;
            done = true;
            if (!res.headersSent) res.status(204).end();
          }, storeFailed);
        });
      });
    });
    bb.on('error', () => {
      release();
      done = true;
      fail(res, 400, ErrorCode.BAD_USER_INPUT, 'Malformed multipart body.');
    });
    bb.on('close', () => {
      if (!gotFile) fail(res, 400, ErrorCode.BAD_USER_INPUT, 'The request has no file part.', { field: FILE_FIELD });
    });
    req.pipe(bb);
  };
}
