/** Header handling for forwarded requests and responses (no payload bytes involved). */
import type { IncomingHttpHeaders } from 'node:http';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { HOP_BY_HOP_HEADERS } from './constants.ts';
import type { RelayHeaders } from './wire.ts';

/** Relay-internal headers never forwarded to a worker or a consumer. */
const RELAY_PREFIX = 'x-iicp-relay-';

/**
 * End-to-end request headers as a flat map: hop-by-hop headers (and any the
 * `Connection` header names) dropped, repeated values joined as RFC 9110 §5.3 allows.
 */
export function forwardableRequestHeaders(h: IncomingHttpHeaders): RelayHeaders {
  const named =
    h.connection === undefined
      ? undefined
      : new Set(
          String(h.connection)
            .split(',')
            .map((s) => s.trim().toLowerCase())
            .filter(Boolean),
        );
  const out: RelayHeaders = {};
  for (const [k, v] of Object.entries(h)) {
    if (
      v === undefined ||
      HOP_BY_HOP_HEADERS.has(k) ||
      named?.has(k) === true ||
      k.startsWith(RELAY_PREFIX)
    )
      continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/**
 * Response headers a worker sent, safe to set on the consumer reply: names lowercased,
 * hop-by-hop and invalid names or values dropped (a bad header must not turn into a
 * 500 on the consumer side).
 */
export function forwardableResponseHeaders(h: RelayHeaders | undefined): RelayHeaders {
  const out: RelayHeaders = {};
  if (!h) return out;
  for (const [rawName, value] of Object.entries(h)) {
    const name = rawName.toLowerCase();
    if (HOP_BY_HOP_HEADERS.has(name) || name.startsWith(RELAY_PREFIX)) continue;
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch {
      continue;
    }
    out[name] = value;
  }
  return out;
}
