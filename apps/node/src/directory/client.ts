import { createHttpClient, type HttpClient } from '@iicp/http';
import {
  DeregisterResponseSchema,
  DirectoryKeyResponseSchema,
  HeartbeatResponseSchema,
  parseWire,
  RegisterAckSchema,
  type DirectoryKeyResponse,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type RegisterAck,
  type RegisterRequest,
} from '@iicp/wire';

/** Clients send it; servers never require it (D-019). */
const VERSION_HEADERS = { 'x-iicp-version': '1.5' };

/**
 * The node's calls to its directory (iicp-dir.md §3.1, §3.2, §3.12; D-010). A non-2xx
 * answer throws the directory's IicpProtocolError (its `status` drives re-registration).
 */
export class DirectoryClient {
  readonly baseUrl: string;
  readonly #http: HttpClient;
  readonly #ownsHttp: boolean;

  constructor(baseUrl: string, opts: { http?: HttpClient; timeoutMs?: number } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#ownsHttp = !opts.http;
    this.#http =
      opts.http ??
      createHttpClient({ timeoutMs: opts.timeoutMs ?? 10_000, headers: VERSION_HEADERS });
  }

  async register(req: RegisterRequest): Promise<RegisterAck> {
    const res = await this.#http.request({
      url: `${this.baseUrl}/api/v1/register`,
      method: 'POST',
      body: req,
    });
    return parseWire(RegisterAckSchema, res.body);
  }

  async heartbeat(req: HeartbeatRequest, nodeToken: string): Promise<HeartbeatResponse> {
    const res = await this.#http.request({
      url: `${this.baseUrl}/api/v1/heartbeat`,
      method: 'POST',
      body: req,
      headers: { authorization: `Bearer ${nodeToken}` },
    });
    return parseWire(HeartbeatResponseSchema, res.body);
  }

  async deregister(nodeId: string, nodeToken: string): Promise<void> {
    const res = await this.#http.request({
      url: `${this.baseUrl}/api/v1/register`,
      method: 'DELETE',
      body: { node_id: nodeId },
      headers: { authorization: `Bearer ${nodeToken}` },
    });
    parseWire(DeregisterResponseSchema, res.body);
  }

  async directoryKey(): Promise<DirectoryKeyResponse> {
    const res = await this.#http.request({ url: `${this.baseUrl}/api/v1/directory-key` });
    return parseWire(DirectoryKeyResponseSchema, res.body);
  }

  async close(): Promise<void> {
    if (this.#ownsHttp) await this.#http.close();
  }
}
