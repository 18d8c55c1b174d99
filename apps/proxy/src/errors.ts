import { toErrorReply } from '@iicp/http';
import { IicpLocalError, IicpProtocolError } from '@iicp/wire';
import { codeLabel } from './metrics.ts';
import type { FastifyError, FastifyReply, FastifyRequest } from '@iicp/http';

/** The client protocols the proxy speaks; each has its own error shape. */
export type ClientProtocol = 'openai' | 'ollama' | 'anthropic';

/** Header that carries the IICP error code on every error answer, whatever the body shape. */
export const IICP_ERROR_CODE_HEADER = 'x-iicp-error-code';

/** An IICP failure reduced to what every client protocol needs. */
export interface ProxyFailure {
  /** HTTP status sent to the client. */
  readonly status: number;
  /** IICP code (`IICP-E033`, `no_available_node`, `validation_error`, …). */
  readonly code: string;
  readonly message: string;
  /** The failing request field, when validation named one. */
  readonly param: string | null;
  /** True for faults on our side (`internal_error`: logged with the cause). */
  readonly serverFault: boolean;
}

/**
 * Anything thrown while serving a client route → a {@link ProxyFailure}. Errors from
 * @iicp/client keep their IICP code and status; validation failures of the client's own
 * request are 400, which is what OpenAI, Anthropic and Ollama answer for a malformed
 * request (the IICP code stays `validation_error`); a caller abort is 499-free: it only
 * happens when the client went away, so nobody reads the answer. Everything else goes
 * through @iicp/http's mapping, so a 500 never carries a stack or a peer's text.
 */
export function toProxyFailure(err: unknown): ProxyFailure {
  if (err instanceof IicpLocalError && err.code === 'aborted') {
    return failure(
      new IicpProtocolError('service_unavailable', 'the request was cancelled', { status: 503 }),
    );
  }
  const r = toErrorReply(err);
  return failure(r.error);
}

function failure(e: IicpProtocolError): ProxyFailure {
  const status =
    e.code === 'validation_error'
      ? 400
      : Number.isInteger(e.status) && e.status >= 400 && e.status <= 599
        ? e.status
        : 502;
  const field = e.details.field;
  return {
    status,
    code: e.code,
    message: e.message,
    param: typeof field === 'string' ? field : null,
    serverFault: e.code === 'internal_error',
  };
}

/** OpenAI `error.type` by status (as api.openai.com answers). */
function openAiType(f: ProxyFailure): string {
  if (f.status === 400 || f.status === 404 || f.status === 413 || f.status === 415) {
    return f.status === 404 && f.code === 'not_found' ? 'not_found_error' : 'invalid_request_error';
  }
  if (f.status === 401) return 'authentication_error';
  if (f.status === 403) return 'permission_error';
  if (f.status === 429) return 'rate_limit_error';
  if (f.status === 503) return 'service_unavailable';
  if (f.status === 504) return 'timeout';
  return 'server_error';
}

/** Anthropic `error.type` by status (docs.anthropic.com "Errors"). */
function anthropicType(f: ProxyFailure): string {
  switch (f.status) {
    case 400:
    case 415:
      return 'invalid_request_error';
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 413:
      return 'request_too_large';
    case 429:
      return 'rate_limit_error';
    case 503:
    case 529:
      return 'overloaded_error';
    default:
      return 'api_error';
  }
}

/**
 * The error body in the client's own protocol, with the IICP code kept visible:
 * - OpenAI `{error:{message,type,code,param}}` (`code` is the IICP code);
 * - Anthropic `{type:"error",error:{type,message,iicp_code}}`;
 * - Ollama `{error:"<message>",code}` (Ollama clients read the `error` string).
 */
export function errorBody(protocol: ClientProtocol, f: ProxyFailure): Record<string, unknown> {
  switch (protocol) {
    case 'openai':
      return { error: { message: f.message, type: openAiType(f), code: f.code, param: f.param } };
    case 'anthropic':
      return {
        type: 'error',
        error: { type: anthropicType(f), message: f.message, iicp_code: f.code },
      };
    case 'ollama':
      return { error: f.message, code: f.code };
  }
}

/**
 * Error handler for an encapsulated client-protocol context: every failure of its routes
 * (zod validation, undecodable JSON, 413, 415, routing errors, shutdown 503) comes out
 * in that protocol's shape, never the IICP envelope and never a 500 for bad input.
 */
export function protocolErrorHandler(protocol: ClientProtocol) {
  return (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const f = toProxyFailure(err);
    // Only our own faults are logged with their cause; a peer's message (which may echo
    // the prompt) never reaches a log line, only its code.
    if (f.serverFault && !(err instanceof IicpProtocolError)) {
      request.log.error({ err }, 'request failed');
    } else {
      request.log.info({ code: codeLabel(f.code), status: f.status }, 'request rejected');
    }
    reply.removeHeader('content-type');
    reply.removeHeader('content-length');
    reply.serializer(null as never);
    return reply
      .code(f.status)
      .header(IICP_ERROR_CODE_HEADER, f.code)
      .header('content-type', 'application/json; charset=utf-8')
      .send(JSON.stringify(errorBody(protocol, f)));
  };
}
