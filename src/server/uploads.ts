import busboy from 'busboy';
import type { Request, RequestHandler, Response } from 'express';
import { ErrorCode, GatewayError } from '../errors';
import type { UploadStaging } from './staging';

const fail = (res: Response, status: number, code: string, message: string, extra: Record<string, unknown> = {}) => {
  if (!res.headersSent) res.status(status).json({ error: { code, message, ...extra } });
};

/** Room for the multipart envelope (boundaries, the token field) around the file. */
const MULTIPART_SLACK = 64 * 1024;

/** 413 FILE_TOO_LARGE with `maxSize` (the source's limit), like the GraphQL error; the connection is closed. */
const tooLarge = (res: Response, e: GatewayError) => {
  res.set('connection', 'close');
  fail(res, 413, e.code, e.message, { source: e.sourceId, maxSize: e.extensions.maxSize });
};

/**
 * `POST /uploads/<id>`: the upload target createAttachmentUpload hands out for INLINE sources. A
 * multipart/form-data body with the `token` field first and the file as `file`; the token is an HMAC the
 * gateway signed. The file may exceed neither the size declared when the upload was created nor the source's
 * limit (FILE_TOO_LARGE with `maxSize`): a body whose Content-Length is already too large is refused unread,
 * and a file that grows past the limit is cut off. Nothing reaches the source before `sendMessage`.
 */
export function uploadRoute(staging: UploadStaging): RequestHandler<{ id: string }> {
  return (req: Request<{ id: string }>, res: Response) => {
    const known = staging.get(req.params.id);
    const length = Number(req.get('content-length'));
    if (known && Number.isFinite(length) && length > known.maxSize + MULTIPART_SLACK) {
      tooLarge(
        res,
        new GatewayError(
          ErrorCode.FILE_TOO_LARGE,
          `The request is ${length} bytes; source "${known.sourceId}" accepts files of at most ${known.maxSize} bytes.`,
          { source: known.sourceId, maxSize: known.maxSize },
        ),
      );
      req.resume();
      return;
    }
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { files: 1, fields: 10 } });
    } catch {
      fail(res, 400, 'BAD_REQUEST', 'Expected a multipart/form-data body.');
      return;
    }
    let token: string | null = null;
    let done = false;
    let gotFile = false;
    bb.on('field', (name, value) => {
      if (name === 'token') token = value;
    });
    bb.on('file', (_name, stream) => {
      gotFile = true;
      const upload = token
        ? staging.authorize(req.params.id, token)
        : 'missing token (send the token field before the file)';
      if (typeof upload === 'string') {
        stream.resume();
        done = true;
        fail(res, 403, 'FORBIDDEN', `Upload refused: ${upload}.`);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      const limit = Math.min(upload.size, upload.maxSize);
      stream.on('data', (d: Buffer) => {
        if (done) return;
        size += d.length;
        if (size > limit) {
          done = true;
          chunks.length = 0;
          const message =
            size > upload.maxSize
              ? `The file is more than ${upload.maxSize} bytes; source "${upload.sourceId}" accepts at most ${upload.maxSize} bytes.`
              : `The file is larger than the ${upload.size} bytes declared in createAttachmentUpload.`;
          tooLarge(
            res,
            new GatewayError(ErrorCode.FILE_TOO_LARGE, message, { source: upload.sourceId, maxSize: upload.maxSize }),
          );
          stream.resume();
          return;
        }
        chunks.push(d);
      });
      stream.on('end', () => {
        if (done) return;
        done = true;
        staging.store(upload.id, Buffer.concat(chunks));
        res.status(204).end();
      });
    });
    bb.on('error', () => fail(res, 400, 'BAD_REQUEST', 'Malformed multipart body.'));
    bb.on('close', () => {
      if (!gotFile) fail(res, 400, 'BAD_REQUEST', 'The request has no file part.');
    });
    req.pipe(bb);
  };
}
