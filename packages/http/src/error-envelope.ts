import {
  IicpProtocolError,
  errorInfo,
  formatFieldPath,
  validationErrorFromZod,
  type ErrorBody,
} from '@iicp/wire';
import { CODEC_ERROR_MAPPING, isCodecError } from '@iicp/codec';
import { z } from 'zod';

/**
 * The reply every failure turns into: the iicp-core.md §7 envelope
 * `{"error":{"code","message",...}}` plus the HTTP status, and whether the fault is
 * ours (5xx, logged with its stack) or the caller's (4xx, logged as a one-liner).
 */
export interface ErrorReply {
  readonly status: number;
  readonly body: ErrorBody;
  readonly error: IicpProtocolError;
  readonly serverFault: boolean;
}

/** The one message a 500 ever carries, whatever was thrown. */
export const INTERNAL_ERROR_MESSAGE = 'internal server error';

/**
 * A body or URL that cannot be decoded at all is 400 `validation_error`; a decoded
 * body that fails its schema is 422. The split follows @iicp/codec's
 * CODEC_ERROR_MAPPING, so JSON, CBOR and framing answer the same way.
 */
const BAD_REQUEST = 400;

/**
 * Fixed messages for HTTP conditions raised by fastify or a plugin. Their own
 * messages are never forwarded: a plugin's message can quote anything.
 */
const FASTIFY_CODE_MAP: Readonly<
  Record<string, { code: string; message: string; status?: number; field?: string }>
> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: 'payload_too_large',
    message: 'request body exceeds the size limit',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'unsupported_media_type',
    message: 'unsupported Content-Type',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'validation_error',
    message: 'request body size did not match Content-Length',
    status: BAD_REQUEST,
    field: '(body)',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: 'validation_error',
    message: 'request body is empty but Content-Type says JSON',
    status: BAD_REQUEST,
    field: '(body)',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    code: 'validation_error',
    message: 'request body is not valid JSON',
    status: BAD_REQUEST,
    field: '(body)',
  },
  FST_ERR_BAD_URL: {
    code: 'validation_error',
    message: 'request URL is malformed',
    status: BAD_REQUEST,
    field: '(url)',
  },
  FST_ERR_MAX_PARAM_LENGTH: {
    code: 'validation_error',
    message: 'a path parameter is too long',
    status: BAD_REQUEST,
    field: '(url)',
  },
  FST_ERR_NOT_FOUND: { code: 'not_found', message: 'no such route' },
};

/** Table code used for a bare 4xx status raised outside our code (rate limiters, plugins). */
const STATUS_CODE_MAP: Readonly<Record<number, string>> = {
  401: 'unauthorized',
  402: 'insufficient_credits',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

function protocolReply(err: IicpProtocolError): ErrorReply {
  const status =
    Number.isInteger(err.status) && err.status >= 400 && err.status <= 599 ? err.status : 500;
  return { status, body: err.toWire(), error: err, serverFault: status >= 500 };
}

function internal(): ErrorReply {
  const err = new IicpProtocolError('internal_error', INTERNAL_ERROR_MESSAGE, { status: 500 });
  return { status: 500, body: err.toWire(), error: err, serverFault: true };
}

interface FastifyLikeError {
  code?: unknown;
  statusCode?: unknown;
  validation?: unknown;
  validationContext?: unknown;
}

/** `/capabilities/0/intent` (ajv, fastify) → `capabilities[0].intent`. */
function fieldFromInstancePath(instancePath: string): string {
  const segs = instancePath
    .split('/')
    .filter((s) => s !== '')
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
  return formatFieldPath(segs);
}

function fromValidationArray(validation: unknown[]): IicpProtocolError {
  const issues = validation.slice(0, 10).map((v) => {
    const o = (v ?? {}) as { instancePath?: unknown; message?: unknown; params?: unknown };
    let field =
      typeof o.instancePath === 'string' ? fieldFromInstancePath(o.instancePath) : '(root)';
    // ajv reports a missing property on its parent; name the property itself.
    const missing = (o.params as { missingProperty?: unknown } | undefined)?.missingProperty;
    if (typeof missing === 'string') field = field === '(root)' ? missing : `${field}.${missing}`;
    return { field, message: typeof o.message === 'string' ? o.message : 'invalid value' };
  });
  const first = issues[0] ?? { field: '(root)', message: 'invalid input' };
  return new IicpProtocolError('validation_error', `${first.field}: ${first.message}`, {
    details: { field: first.field, issues },
  });
}

/**
 * Map anything thrown inside a request to the error reply. Protocol errors keep
 * their code, status and details; zod and schema validation become 422
 * `validation_error` naming the field; known HTTP conditions get a table code and a
 * fixed message; everything else (local errors, TypeErrors, SQL errors, fastify
 * internals) is a 500 `internal_error` with a generic message, so no stack trace,
 * file path or SQL text can reach a client.
 */
export function toErrorReply(thrown: unknown): ErrorReply {
  if (thrown instanceof IicpProtocolError) return protocolReply(thrown);
  if (thrown instanceof z.ZodError) return protocolReply(validationErrorFromZod(thrown));
  if (typeof thrown !== 'object' || thrown === null) return internal();

  const e = thrown as FastifyLikeError;
  if (Array.isArray(e.validation) && e.validation.length > 0) {
    return protocolReply(fromValidationArray(e.validation));
  }
  const fst = typeof e.code === 'string' ? FASTIFY_CODE_MAP[e.code] : undefined;
  if (fst) {
    return protocolReply(
      new IicpProtocolError(fst.code, fst.message, {
        ...(fst.status ? { status: fst.status } : {}),
        ...(fst.field ? { details: { field: fst.field } } : {}),
      }),
    );
  }
  if (isCodecError(thrown)) {
    const m = CODEC_ERROR_MAPPING[thrown.code];
    if (m && m.httpStatus < 500) {
      // The mapping's fixed meaning, not the codec message (which may carry offsets).
      return protocolReply(
        new IicpProtocolError(m.wireCode, m.meaning, {
          status: m.httpStatus,
          ...(m.wireCode === 'validation_error' ? { details: { field: '(body)' } } : {}),
        }),
      );
    }
    return internal();
  }
  // fastify's JSON parser flags JSON.parse failures (and proto poisoning) with 400.
  if (thrown instanceof SyntaxError && e.statusCode === 400) {
    return protocolReply(
      new IicpProtocolError('validation_error', 'request body is not valid JSON', {
        status: BAD_REQUEST,
        details: { field: '(body)' },
      }),
    );
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined && status >= 400 && status <= 499) {
    const code = STATUS_CODE_MAP[status] ?? 'validation_error';
    const meaning = code === 'validation_error' ? 'invalid request' : errorInfo(code)?.meaning;
    return protocolReply(new IicpProtocolError(code, meaning ?? 'request refused'));
  }
  return internal();
}
