/**
 * The directory's trust-and-accounting services (issue 6, second half), shared by the
 * REGISTER, HEARTBEAT, telemetry, audit and credits routes and the active prober:
 * credentials issued at registration (C3), operator delegation (iicp-dir.md §3.1),
 * the heartbeat challenge (§3.2, D-055) and outcome-v2 reputation (D-022).
 */
import { createHash, randomBytes } from 'node:crypto';
import { toBase64, verifyChallengeResponse, verifyOperatorDelegation } from '@iicp/crypto';
import type { RegisterRequest } from '@iicp/wire';
import { outcomeDelta } from './reputation.ts';
import type { SecretVault } from './secret-vault.ts';
import type { AccountingStore } from './storage/accounting-store.ts';

/** "a separate 40-byte random token" (iicp-telemetry.md §3). */
export const PROXY_TOKEN_BYTES = 40;
/** node_hmac_key: 32 random bytes as 64 lowercase hex (its UTF-8 text is the HMAC key). */
export const NODE_HMAC_KEY_BYTES = 32;
/** Heartbeat challenge nonce: 16 random bytes as 32 lowercase hex. */
export const CHALLENGE_BYTES = 16;

export interface ProbingOptions {
  /** Default true (only runs where the other upkeep timers run). */
  readonly enabled?: boolean;
  /** Each node is probed about this often (iicp-dir.md §3.9c: 300 s). */
  readonly intervalMs?: number;
  /** Scheduler period; each tick probes its share of the due nodes. */
  readonly tickMs?: number;
  /** Probes in flight at once. */
  readonly concurrency?: number;
  /** Upper bound of probes per tick, whatever the node count. */
  readonly maxPerTick?: number;
  /** Consecutive failures that confirm a dead route (one failure never demotes). */
  readonly demoteAfter?: number;
  /** How soon a failed probe is repeated to confirm or clear it. */
  readonly confirmAfterMs?: number;
}

/** The accounting knobs of `buildApp` (all optional). */
export interface AccountingOptions {
  /** Key material for sealing node_hmac_key at rest (default: the directory signing seed). */
  readonly secretSeal?: Uint8Array;
  /** Telemetry latency EMA α (iicp-telemetry.md §T4.2: 0.1, configurable in [0.05, 0.3]). */
  readonly telemetryAlpha?: number;
  /** Credits awarded per node per hour at most (iicp-cooperative-inference.md §10.6: 1000). */
  readonly creditHourlyCap?: number;
  readonly probing?: ProbingOptions;
}

export interface AccountingSettings {
  readonly telemetryAlpha: number;
  readonly creditHourlyCap: number;
  /** Reporter gates (iicp-semantics.md §11.7, §11.8): age ≥ 3 days, reputation ≥ 0.55. */
  readonly reporterMinAgeMs: number;
  readonly reporterMinReputation: number;
  readonly probing: Required<ProbingOptions>;
}

export function resolveAccountingSettings(o: AccountingOptions = {}): AccountingSettings {
  const alpha = o.telemetryAlpha ?? 0.1;
  if (!(alpha >= 0.05 && alpha <= 0.3))
    throw new RangeError('telemetryAlpha must be in [0.05, 0.3]');
  const p = o.probing ?? {};
  return {
    telemetryAlpha: alpha,
    creditHourlyCap: o.creditHourlyCap ?? 1000,
    reporterMinAgeMs: 3 * 24 * 3600_000,
    reporterMinReputation: 0.55,
    probing: {
      enabled: p.enabled ?? true,
      intervalMs: p.intervalMs ?? 300_000,
      tickMs: p.tickMs ?? 5_000,
      concurrency: p.concurrency ?? 8,
      maxPerTick: p.maxPerTick ?? 200,
      demoteAfter: Math.max(2, p.demoteAfter ?? 3),
      confirmAfterMs: p.confirmAfterMs ?? 30_000,
    },
  };
}

/** What the routes need from the accounting half. */
export interface Accounting {
  readonly store: AccountingStore;
  readonly vault: SecretVault;
  readonly settings: AccountingSettings;
}

/** SHA-256 hex: proxy tokens are 320-bit random values, so no slow hash is needed. */
export function proxyTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export interface IssuedCredentials {
  readonly proxy_token: string;
  readonly node_hmac_key: string;
}

/**
 * After a REGISTER is stored: issue a fresh proxy_token and node_hmac_key (both
 * rotate on every registration, like the node_token), verify the operator delegation
 * (valid → bound; absent or invalid → unbound, never a rejection), schedule the first
 * active probe and run the evaluation grant. Returns the two secrets for the ACK.
 */
export async function issueRegisterCredentials(
  acc: Accounting,
  a: {
    nodeId: string;
    reg: RegisterRequest;
    ip: string | null;
    fresh: boolean;
    now: number;
  },
): Promise<IssuedCredentials> {
  const proxyToken = randomBytes(PROXY_TOKEN_BYTES).toString('hex');
  const hmacKey = randomBytes(NODE_HMAC_KEY_BYTES).toString('hex');
  let operator: { pubkey: string; fingerprint: string; notAfter: number } | null = null;
  if (a.reg.operator_delegation !== undefined) {
    const v = verifyOperatorDelegation(a.reg.operator_delegation, {
      nodeId: a.nodeId,
      clock: () => Math.floor(a.now / 1000),
    });
    if (v.ok) {
      operator = {
        pubkey: toBase64(v.operatorPublicKey),
        fingerprint: v.operatorFingerprint,
        notAfter: v.notAfter,
      };
    }
  }
  const spread = Math.floor(Math.random() * acc.settings.probing.intervalMs);
  await acc.store.writeCredentials({
    nodeId: a.nodeId,
    proxyTokenHash: proxyTokenHash(proxyToken),
    sealedHmacKey: acc.vault.seal(hmacKey),
    operator,
    fresh: a.fresh,
    // The registration itself was a probe; the next one comes within one interval.
    firstProbeAt: a.now + Math.max(spread, acc.settings.probing.confirmAfterMs),
    now: a.now,
  });
  await acc.store.maybeFreeGrant(a.nodeId, a.ip, a.now);
  return { proxy_token: proxyToken, node_hmac_key: hmacKey };
}

/** The node's HMAC key in the clear, or undefined when not provisioned (or unreadable). */
export async function nodeHmacKey(acc: Accounting, nodeId: string): Promise<string | undefined> {
  const c = await acc.store.credentials(nodeId);
  return c ? acc.vault.open(c.hmac_key) : undefined;
}

/**
 * HEARTBEAT side of the challenge (iicp-dir.md §3.2, D-055): whether
 * `challenge_response` is HMAC-SHA256(node_hmac_key, challenge), compared in constant
 * time. The group commit (heartbeat-writer.ts) reads the outstanding challenges, checks
 * them here and records verified liveness where the proved challenge is still current.
 */
export function challengeProved(
  acc: Accounting,
  sealedHmacKey: string,
  challenge: string,
  response: string,
): boolean {
  const key = acc.vault.open(sealedHmacKey);
  return key !== undefined && verifyChallengeResponse(key, challenge, response);
}

/** A fresh heartbeat challenge nonce for a PONG: 16 random bytes as lowercase hex. */
export function newHeartbeatChallenge(): string {
  return randomBytes(CHALLENGE_BYTES).toString('hex');
}

/**
 * Outcome-v2 from a newly applied heartbeat metrics batch (iicp-semantics.md §11.2):
 * success +0.01, failure −0.05, timeout −0.10 (`tasks_timeout` when a node reports it),
 * the positive part capped at +0.10 per heartbeat and +0.20 per hour.
 */
export async function applyHeartbeatOutcomes(
  acc: Accounting,
  nodeId: string,
  metrics: { tasks_success: number; tasks_failed: number; [k: string]: unknown },
  now: number,
): Promise<number | undefined> {
  const timeouts = typeof metrics['tasks_timeout'] === 'number' ? metrics['tasks_timeout'] : 0;
  const delta = outcomeDelta({
    success: metrics.tasks_success,
    failed: metrics.tasks_failed,
    timedOut: Number.isFinite(timeouts) && timeouts > 0 ? Math.floor(timeouts) : 0,
  });
  if (delta.positive === 0 && delta.negative === 0) return undefined;
  return acc.store.applyReputation(nodeId, delta, now);
}

/** Whether a reporter passes the age and reputation gate (iicp-semantics.md §11.7/§11.8). */
export function reporterEligible(
  acc: Accounting,
  reporter: { registeredAt: number; reputation: number },
  now: number,
): boolean {
  return (
    now - reporter.registeredAt >= acc.settings.reporterMinAgeMs &&
    reporter.reputation >= acc.settings.reporterMinReputation
  );
}
