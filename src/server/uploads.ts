import busboy from 'busboy';
import type { Request, RequestHandler, Response } from 'express';
import type { UploadStaging } from './staging';

const fail = (res: Response, status: number, code: string, message: string) => {
  if (!res.headersSent) res.status(status).json({ error: { code, message } });
};

/**
 * `POST /uploads/<id>`: the upload target createAttachmentUpload hands out for INLINE sources. A
 * multipart/form-data body with the `token` field first and the file as `file`; the token is an HMAC the
 * gateway signed, and the size may not exceed the size declared when the upload was created.
 */
export function uploadRoute(staging: UploadStaging): RequestHandler<{ id: string }> {
  return (req: Request<{ id: string }>, res: Response) => {
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
      const upload = token ? staging.authorize(req.params.id, token) : 'missing token (send the token field before the file)';
      if (typeof upload === 'string') {
        stream.resume();
        done = true;
        fail(res, 403, 'FORBIDDEN', `Upload refused: ${upload}.`);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (d: Buffer) => {
        size += d.length;
        if (size > upload.size) {
          if (!done) fail(res, 413, 'FILE_TOO_LARGE', `The file is larger than the ${upload.size} bytes declared.`);
          done = true;
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
