import { codecForMediaType, selectResponseCodec, type Codec } from '@iicp/codec';

/**
 * The reply codec for a request: the Accept header, then the request's own body type
 * (iicp-cbor-wire.md §2.3). May throw on headers the negotiation refuses.
 */
export function negotiateResponseCodec(
  contentType: string | undefined,
  accept: string | undefined,
  cbor: boolean,
): Codec {
  const requestCodec = contentType ? codecForMediaType(contentType) : undefined;
  return selectResponseCodec(accept, {
    cbor,
    ...(requestCodec ? { requestMediaType: requestCodec.mediaType } : {}),
  }).codec;
}

/** Distinct (Content-Type, Accept) pairs remembered before the memo starts afresh. */
const MEMO_LIMIT = 256;

/**
 * {@link negotiateResponseCodec} with a bounded memo: the choice depends on the two
 * header strings only, and a client sends the same pair on every request, so each
 * request after the first costs two `Map` lookups instead of parsing both headers.
 * Failures are not remembered (they throw again from the general path).
 */
export function createResponseCodecMemo(
  cbor: boolean,
): (contentType: string | undefined, accept: string | undefined) => Codec {
  let byType = new Map<string, Map<string, Codec>>();
  let size = 0;
  return (contentType, accept) => {
    // '' and a missing header negotiate alike, so both take the '' key.
    const ct = contentType ?? '';
    const ac = accept ?? '';
    let byAccept = byType.get(ct);
    const hit = byAccept?.get(ac);
    if (hit !== undefined) return hit;
    const codec = negotiateResponseCodec(contentType, accept, cbor);
    if (size >= MEMO_LIMIT) {
      byType = new Map();
      byAccept = undefined;
      size = 0;
    }
    if (!byAccept) {
      byAccept = new Map();
      byType.set(ct, byAccept);
    }
    byAccept.set(ac, codec);
    size++;
    return codec;
  };
}
