import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { ErrorCode, GatewayError } from '../errors';
import type { Logger } from './logger';

/** Codes Apollo and graphql-js produce for bad requests: safe to show as they are. */
const REQUEST_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'INTROSPECTION_DISABLED',
]);

/** graphql-js's "Did you mean …?" hints (fields, arguments, types, enum values), as Apollo's own plugin matches them. */
const SUGGESTION = / ?Did you mean(.+?)\?$/;

/**
 * A message without graphql-js's suggestions: in production a client learns no schema it cannot introspect
 * (issue 12 item 13). Every transport applies it (HTTP here in maskError, graphql-ws in server/ws.ts).
 */
export function withoutSuggestions(message: string): string {
  return message.replace(SUGGESTION, '');
}

/**
 * Every error leaving the gateway has `extensions.code`. GatewayErrors pass as they are (their messages are
 * written for clients and never carry secrets); request errors from Apollo pass; anything else is unexpected:
 * logged, and masked as INTERNAL_SERVER_ERROR ("Internal server error" in production).
 */
export function maskError(
  formatted: GraphQLFormattedError,
  error: unknown,
  opts: { production: boolean; logger: Logger },
): GraphQLFormattedError {
  if (opts.production) formatted = { ...formatted, message: withoutSuggestions(formatted.message) };
  const unwrapped = unwrapResolverError(error);
  // A GatewayError raised by a validation rule or a plugin reaches here wrapped by Apollo (GRAPHQL_VALIDATION_FAILED).
  const original =
    unwrapped instanceof GraphQLError &&
    !(unwrapped instanceof GatewayError) &&
    unwrapped.originalError instanceof GatewayError
      ? unwrapped.originalError
      : unwrapped;
  if (original instanceof GatewayError) {
    const { stacktrace: _s, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions: { ...extensions, code: original.code } };
  }
  // Apollo refuses some malformed requests (an unsupported persisted-query version, a hash that does not match
  // its query) with a 4xx status but no code; they are the client's fault, not unexpected.
  const own = unwrapped instanceof GraphQLError ? unwrapped.extensions : undefined;
  const status = (own?.http as { status?: unknown } | undefined)?.status;
  if (own && own.code === undefined && typeof status === 'number' && status >= 400 && status < 500) {
    return { message: formatted.message, extensions: { code: 'BAD_REQUEST' } };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && REQUEST_CODES.has(code)) {
    const { stacktrace: _s, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  // graphql-js coercion errors of variables and scalars come without a code; they are the client's fault.
  if (!code && !(original instanceof Error && !('locations' in (original as object)))) {
    return { ...formatted, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  opts.logger.error(
    {
      err: original instanceof Error ? { message: original.message, stack: original.stack } : String(original),
      path: formatted.path,
    },
    'unexpected error',
  );
  return {
    message: opts.production ? 'Internal server error' : formatted.message,
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
  };
}
