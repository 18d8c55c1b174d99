/** What the relay's routes share: the hub, metrics and resolved settings. */
import type { DirectoryLink } from './directory-link.ts';
import type { RelayHub } from './hub.ts';
import type { RelayMetrics } from './metrics.ts';

export interface RelaySettings {
  readonly maxRequestBytes: number;
  readonly maxResponseBytes: number;
  readonly taskDeadlineMs: number;
  readonly healthDeadlineMs: number;
  readonly pullMaxWaitMs: number;
  readonly requireTicket: boolean;
}

export interface RelayContext {
  readonly hub: RelayHub;
  readonly metrics: RelayMetrics;
  readonly settings: RelaySettings;
  readonly directory: DirectoryLink | undefined;
  /** The URL nodes and consumers use to reach this relay (`--public-endpoint`). */
  publicEndpoint(): string;
}

declare module 'fastify' {
  interface FastifyInstance {
    relay: RelayContext;
  }
}
