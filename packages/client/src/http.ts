import { IicpProtocolError } from '@iicp/wire';
import { abortedError, peerError } from './errors.ts';

/** `X-IICP-Version` our clients send; servers never require it (spec/decisions.md D-019). */
export const IICP_VERSION_HEADER_VALUE = '1.5';

export interface JsonResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
}

/** Largest control-plane body the client reads (discover lists, tokens, tickets). */
const MAX_CONTROL_BODY_BYTES = 4 * 1024 * 1024;

/** Reads a body as JSON; a body that is not JSON becomes `undefined`. */
export async function readJson(res: Response, max = MAX_CONTROL_BODY_BYTES): Promise<unknown> {
  return parseJsonText(await res.text(), max);
}

/** A body's text as JSON; too long, empty or not JSON becomes `undefined`. */
export function parseJsonText(text: string, max: number): unknown {
  if (text.length > max) return undefined;
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * One control-plane request to the directory. Every failure is an IicpProtocolError
 * (SDK-ERR-01): an unreachable directory is `service_unavailable` (503), a non-2xx
 * answer is the directory's own error envelope.
 */
export async function directoryRequest(
  fetchFn: typeof fetch,
  url: string,
  init: RequestInit & { readonly signal: AbortSignal; readonly callerSignal?: AbortSignal },
  secrets: readonly string[],
): Promise<JsonResponse> {
  let res: Response;
  try {
    res = await fetchFn(url, init);
  } catch (err) {
    if (init.callerSignal?.aborted) throw abortedError(init.callerSignal.reason);
    throw new IicpProtocolError(
      'service_unavailable',
      init.signal.aborted ? 'the directory did not answer in time' : 'the directory is unreachable',
      { details: { cause: err instanceof Error ? err.name : 'error' } },
    );
  }
  let body: unknown;
  try {
    body = await readJson(res);
  } catch {
    if (init.callerSignal?.aborted) throw abortedError(init.callerSignal.reason);
    throw new IicpProtocolError('service_unavailable', 'the directory closed the connection');
  }
  if (res.status < 200 || res.status > 299) throw peerError(body, res.status, secrets);
  return { status: res.status, headers: res.headers, body };
}

/**
 * `AbortSignal.any` of the caller's signal and a timeout. A class rather than closures:
 * every CALL makes one, and its methods are shared.
 */
class Deadline {
  private readonly ctl = new AbortController();
  readonly signal: AbortSignal = this.ctl.signal;
  private readonly timer: ReturnType<typeof setTimeout>;

  constructor(
    private readonly caller: AbortSignal | undefined,
    ms: number,
  ) {
    this.timer = setTimeout(this.onTimeout, ms, this.ctl);
    if (caller?.aborted) this.ctl.abort(caller.reason);
    else caller?.addEventListener('abort', this, { once: true });
  }

  private onTimeout(this: void, ctl: AbortController): void {
    ctl.abort(new DOMException('timed out', 'TimeoutError'));
  }

  /** The caller's signal fired (EventListener object: no bound function per deadline). */
  handleEvent(): void {
    this.ctl.abort(this.caller?.reason);
  }

  cancel(): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener('abort', this);
  }
}

/** `AbortSignal.any` of the caller's signal and a timeout. */
export function withTimeout(
  signal: AbortSignal | undefined,
  ms: number,
): { readonly signal: AbortSignal; cancel(): void } {
  return new Deadline(signal, ms);
}
