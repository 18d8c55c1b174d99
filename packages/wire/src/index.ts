// @iicp/wire: the public API, as a curated list of named exports.

export {
  ERROR_TABLE,
  ErrorBodySchema,
  IicpLocalError,
  IicpProtocolError,
  errorInfo,
  isIicpProtocolError,
  isKnownErrorCode,
} from './errors.ts';
export type {
  ErrorBody,
  ErrorCode,
  ErrorCodeInfo,
  ErrorDetails,
  ErrorFamily,
  ErrorSide,
} from './errors.ts';
export { formatFieldPath, parseWire, safeParseWire, validationErrorFromZod } from './validate.ts';
export type { WireParseResult } from './validate.ts';
