/**
 * Deployment provenance (spec/v1.9/iicp-deployment-provenance.md): the directory signs
 * a record binding the running service to a public release, served at
 * `GET /.well-known/iicp-deployment.json`.
 *
 *   signature.value = b64url(Ed25519(ASCII("IICP-DEPLOYMENT-RECORD-V1") || 0x00 || JCS(record − signature)))
 */
import { canonicalJsonJcs } from '@iicp/codec';
import type { Ed25519Signer } from './directory-key.ts';
import { ed25519Verify } from './ed25519.ts';
import { concatBytes, fromBase64UrlStrict, toBase64Url, utf8 } from './encoding.ts';
import type { UnixClock } from './signed-token.ts';
import { systemClock } from './signed-token.ts';

export const DEPLOYMENT_RECORD_SIGNING_PREFIX = 'IICP-DEPLOYMENT-RECORD-V1';
export const DEPLOYMENT_RECORD_PURPOSE = 'iicp-deployment-record-v1';
export const DEPLOYMENT_RECORD_SCHEMA = 'iicp.deployment-record.v1';

/** The record of schemas/iicp-deployment-record-v1.json (a closed shape). */
export interface DeploymentRecord {
  readonly schema: 'iicp.deployment-record.v1';
  readonly deployment_kind: 'shared_hosting' | 'container' | 'native' | 'other';
  readonly directory: {
    readonly flavor: 'php' | 'rust' | 'other';
    readonly runtime_version: string;
    readonly release_tag: string;
    readonly source_commit: string;
  };
  readonly artifact: {
    readonly build_digest: string;
    readonly image_digest: string | null;
    readonly sbom_digest: string | null;
  };
  readonly compatibility: {
    readonly openapi_version: string;
    readonly protocol_min: string;
    readonly protocol_max: string;
  };
  /** RFC 3339 UTC date-time. */
  readonly deployed_at: string;
  readonly root_key_id: string;
  readonly signature: {
    readonly algorithm: 'Ed25519';
    readonly purpose: string;
    readonly key_id: string;
    readonly value: string;
  };
}

export type UnsignedDeploymentRecord = Omit<DeploymentRecord, 'signature'>;

/** The bytes that are signed: prefix, one zero byte, the RFC 8785 form of the unsigned record. */
export function deploymentRecordSigningInput(
  record: UnsignedDeploymentRecord | DeploymentRecord,
): Uint8Array {
  const unsigned: Record<string, unknown> = { ...record };
  delete unsigned.signature;
  return concatBytes(
    utf8(DEPLOYMENT_RECORD_SIGNING_PREFIX),
    Uint8Array.of(0),
    utf8(canonicalJsonJcs(unsigned)),
  );
}

/** Sign a record with the directory key named `keyId` (which must be `root_key_id`). */
export function signDeploymentRecord(
  record: UnsignedDeploymentRecord,
  signer: Ed25519Signer,
): DeploymentRecord {
  const value = toBase64Url(signer.sign(deploymentRecordSigningInput(record)));
  return {
    ...record,
    signature: {
      algorithm: 'Ed25519',
      purpose: DEPLOYMENT_RECORD_PURPOSE,
      key_id: record.root_key_id,
      value,
    },
  };
}

export type DeploymentRecordFailure =
  'malformed' | 'wrong_purpose' | 'unknown_key' | 'key_id_mismatch' | 'invalid_signature' | 'stale';

export type DeploymentRecordResult =
  | { readonly ok: true; readonly record: DeploymentRecord }
  | { readonly ok: false; readonly reason: DeploymentRecordFailure };

export interface VerifyDeploymentRecordOptions {
  /**
   * Authenticated directory keys by key id (the DID verification method id, e.g.
   * `did:web:iicp.network#key-1`), current and historical.
   */
  readonly keys: Readonly<Record<string, Uint8Array>>;
  /** Local freshness policy; a record older than this is `stale`. Unset: no limit. */
  readonly maxAgeSeconds?: number;
  readonly clock?: UnixClock;
}

const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;
const COMMIT = /^[0-9a-f]{40}$/;
const SIG_B64URL = /^[A-Za-z0-9_-]{86}$/;
/** RFC 3339 date-time (JSON Schema `format: date-time`). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/i;

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function onlyKeys(o: Record<string, unknown>, keys: readonly string[]): boolean {
  const have = Object.keys(o);
  return have.length === keys.length && keys.every((k) => Object.hasOwn(o, k));
}

function str(v: unknown, max: number): v is string {
  return typeof v === 'string' && v.length >= 1 && v.length <= max;
}

function nullableDigest(v: unknown): boolean {
  return v === null || (typeof v === 'string' && SHA256_DIGEST.test(v));
}

/**
 * Structural check against schemas/iicp-deployment-record-v1.json, except
 * `signature.purpose`, whose mismatch is reported separately as `wrong_purpose`.
 * Written by hand because the schema is small and closed and this package carries no
 * schema library; @iicp/wire is the place for a zod copy if an app needs one.
 */
function isWellFormed(r: unknown): r is DeploymentRecord {
  if (!isObj(r)) return false;
  const top = [
    'schema',
    'deployment_kind',
    'directory',
    'artifact',
    'compatibility',
    'deployed_at',
    'root_key_id',
    'signature',
  ];
  if (!onlyKeys(r, top)) return false;
  if (r.schema !== DEPLOYMENT_RECORD_SCHEMA) return false;
  if (!['shared_hosting', 'container', 'native', 'other'].includes(r.deployment_kind as string))
    return false;
  const d = r.directory;
  if (!isObj(d) || !onlyKeys(d, ['flavor', 'runtime_version', 'release_tag', 'source_commit']))
    return false;
  if (!['php', 'rust', 'other'].includes(d.flavor as string)) return false;
  if (!str(d.runtime_version, 64) || !str(d.release_tag, 128)) return false;
  if (typeof d.source_commit !== 'string' || !COMMIT.test(d.source_commit)) return false;
  const a = r.artifact;
  if (!isObj(a) || !onlyKeys(a, ['build_digest', 'image_digest', 'sbom_digest'])) return false;
  if (typeof a.build_digest !== 'string' || !SHA256_DIGEST.test(a.build_digest)) return false;
  if (!nullableDigest(a.image_digest) || !nullableDigest(a.sbom_digest)) return false;
  const c = r.compatibility;
  if (!isObj(c) || !onlyKeys(c, ['openapi_version', 'protocol_min', 'protocol_max'])) return false;
  if (!str(c.openapi_version, 64) || !str(c.protocol_min, 64) || !str(c.protocol_max, 64))
    return false;
  if (typeof r.deployed_at !== 'string' || !DATE_TIME.test(r.deployed_at)) return false;
  if (Number.isNaN(Date.parse(r.deployed_at))) return false;
  if (!str(r.root_key_id, 512)) return false;
  const s = r.signature;
  if (!isObj(s) || !onlyKeys(s, ['algorithm', 'purpose', 'key_id', 'value'])) return false;
  if (s.algorithm !== 'Ed25519' || typeof s.purpose !== 'string' || !str(s.key_id, 512))
    return false;
  return typeof s.value === 'string' && SIG_B64URL.test(s.value);
}

/**
 * Verify a deployment record: well-formed, purpose, key known and equal to
 * `root_key_id`, signature, then freshness.
 */
export function verifyDeploymentRecord(
  record: unknown,
  opts: VerifyDeploymentRecordOptions,
): DeploymentRecordResult {
  if (!isWellFormed(record)) return { ok: false, reason: 'malformed' };
  const sig = record.signature;
  if (sig.purpose !== DEPLOYMENT_RECORD_PURPOSE) return { ok: false, reason: 'wrong_purpose' };
  const key = Object.hasOwn(opts.keys, sig.key_id) ? opts.keys[sig.key_id] : undefined;
  if (!key) return { ok: false, reason: 'unknown_key' };
  if (sig.key_id !== record.root_key_id) return { ok: false, reason: 'key_id_mismatch' };
  const value = fromBase64UrlStrict(sig.value, 64);
  if (!value || !ed25519Verify(value, deploymentRecordSigningInput(record), key)) {
    return { ok: false, reason: 'invalid_signature' };
  }
  if (opts.maxAgeSeconds !== undefined) {
    const now = (opts.clock ?? systemClock)();
    const age = now - Date.parse(record.deployed_at) / 1000;
    if (age > opts.maxAgeSeconds) return { ok: false, reason: 'stale' };
  }
  return { ok: true, record };
}
