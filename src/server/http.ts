import type { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import type { Request, RequestHandler } from 'express';
import type { GatewayContext, Viewer } from '../schema/context';
import type { ContextFor } from './context';
import type { OperationDeadlines } from './limits';

/**
 * GraphQL over HTTP (POST and GET `/graphql`) through Apollo, after the auth, body and safelist middlewares: a
 * context per request with its deadline, which also aborts when the client goes away before its answer was sent.
 * Requests for an event stream (and graphql-sse's reservations) never get here: server/sse.ts answers them, mounted
 * after the auth and body middlewares and before the safelist (it runs the whole operation check itself).
 */
export function graphqlOverHttp(
  apollo: ApolloServer<GatewayContext>,
  deps: { contextFor: ContextFor; deadlines: OperationDeadlines },
): RequestHandler {
  return expressMiddleware(apollo, {
    context: async ({ req, res }) => {
      // One AbortController per operation (the deadline's); the client going away aborts it too. An answer sent
      // in full ends the operation (nothing of it is awaited any more): the deadline stops and nothing is aborted,
      // so no AbortError is made for it (issue 13 target 4: it was 2 % of a cached page's profile).
      const deadline = deps.deadlines.start();
      res.once('close', () => {
        deadline.stop();
        if (!res.writableFinished) deadline.clientGone();
      });
      return deps.contextFor(res.locals.viewer as Viewer, {
        requestId: res.locals.requestId as string,
        publicBaseUrl: requestBaseUrl(req),
        signal: deadline.signal,
      });
    },
  });
}

/**
 * The base URL a request reached the gateway at (`<protocol>://<host>`): the context's `publicBaseUrl` when
 * `server.publicUrl` is not configured (schema/context.ts), and part of the response cache's key.
 */
export function requestBaseUrl(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? '127.0.0.1'}`;
}
