/**
 * IICP-CX Tier 1 for every runtime (browsers, Deno, Node ≥ 20): the same envelopes as
 * `./cx.ts`, byte for byte, without importing `node:crypto` or using `Buffer`. On Node
 * (`process.getBuiltinModule`, Node ≥ 20.16: synchronous, no thread-pool hop) AES-256-GCM
 * and HKDF-SHA256 run in one native call each through `@iicp/cx-native`
 * (`./cx-native.ts`) and X25519 in libsodium (`./sodium-x25519.ts`); where an addon does
 * not load, AES-GCM and X25519 fall back to Node's own crypto and HKDF to plain JS
 * (`./hkdf-sha256.ts`). Elsewhere AES-GCM and X25519 run in WebCrypto
 * (`globalThis.crypto.subtle`), X25519 in noble (pure JS) where WebCrypto lacks it, and
 * HKDF in plain JS. Seal and open are async on every runtime; the `*Sync` variants
 * answer without a promise where the Node path serves them.
 * Published as the subpath `@iicp/crypto/cx`; the package root stays Node-only.
 *
 *   request  (iicp-confidentiality.md §5):
 *     shared = X25519(ephemeral_priv, node_pub)
 *     key    = HKDF-SHA256(shared, salt = nonce, info = "IICP-CX-v1" || task_id || intent)
 *     body   = AES-256-GCM(key, nonce, payload_json, aad = task_id "|" intent) || tag
 *   response (§5a.3, feature `response_encryption_v1`; spec/decisions.md D-070):
 *     key    = HKDF-SHA256(shared, salt = resp_nonce, info = "IICP-CX-RESP-v1" || task_id)
 *     body   = AES-256-GCM(key, resp_nonce, result_json, aad = task_id "|resp") || tag
 *
 * A failed open throws the `IicpProtocolError` a node answers with: `IICP-E050`, status
 * 422, the shipped Tier-1 model (spec/decisions.md D-032).
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, randomBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { IicpProtocolError } from '@iicp/wire';
import { loadCxNative, type CxNative } from './cx-native.ts';
import { hkdfSha256To32 } from './hkdf-sha256.ts';
import { loadSodiumX25519, type SodiumX25519 } from './sodium-x25519.ts';

/** HKDF info prefix of the request key (§5 step 4). */
export const CX_REQUEST_INFO_PREFIX = 'IICP-CX-v1';
/** HKDF info prefix of the response key (§5a.3). */
export const CX_RESPONSE_INFO_PREFIX = 'IICP-CX-RESP-v1';
/** `cx_public_key.features` entry that negotiates response encryption (§5a.3). */
export const CX_RESPONSE_ENCRYPTION_FEATURE = 'response_encryption_v1';
/** `iicp_conf.version` / `iicp_conf_resp.version` of Tier 1 (§4.1). */
export const CX_WEB_ENVELOPE_VERSION = 1;
const NONCE_BYTES = 12;
const KEY_BYTES = 32;
const TAG_BYTES = 16;

/** The request envelope that replaces `payload` (§4.1). */
export interface CxRequestEnvelope {
  readonly version: number;
  readonly recipient_key_id: string;
  readonly kem_ciphertext: string;
  readonly encrypted_body: string;
  readonly nonce: string;
  readonly aad: string;
  readonly plaintext_size: number;
}

/** The response envelope that replaces `result` (§5a.3 "mirrors iicp_conf"). */
export interface CxResponseEnvelope {
  readonly version: number;
  readonly nonce: string;
  readonly encrypted_body: string;
}

// --- encodings (no Buffer: btoa/atob exist in browsers and Node ≥ 16) ------------------

/** The part of Node's `Buffer` used here (typed locally: this module needs no Node types). */
interface BufferLike {
  from(
    data: ArrayBufferLike,
    byteOffset: number,
    length: number,
  ): { toString(enc: string): string };
  from(text: string, enc: string): Uint8Array;
}

/** Node's global `Buffer` when there is one (never in browsers): native base64url. */
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

/** One UTF-8 encoder for the whole module (Node: no copy needed, see {@link utf8}). */
const UTF8_ENCODER = new TextEncoder();

/**
 * UTF-8 bytes of a string. In Node, straight from one shared `TextEncoder` (the bytes
 * noble's `utf8ToBytes` gives, without a new encoder and a copy per call); elsewhere
 * noble's, which copies the result into the current realm (Firefox extension contexts).
 */
const utf8: (text: string) => Uint8Array = NodeBuffer
  ? (text) => UTF8_ENCODER.encode(text)
  : utf8ToBytes;

/** base64url without padding. */
export function bytesToBase64Url(bytes: Uint8Array): string {
  if (NodeBuffer) {
    return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
  }
  return portableBase64Url(bytes);
}

/** {@link bytesToBase64Url} without `Buffer` (browsers); the reference the tests pin it to. */
export function portableBase64Url(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The 6-bit value of each base64url character by char code (the regex admits no others). */
const B64URL_VALUE = (() => {
  const t = new Uint8Array(128);
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < abc.length; i++) t[abc.charCodeAt(i)] = i;
  return t;
})();

/** Canonical unpadded base64url only (one spelling per byte string), else `undefined`. */
export function base64UrlToBytes(text: string, byteLength?: number): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  let out: Uint8Array;
  if (NodeBuffer) {
    // A copy, never a view of Buffer's shared pool (callers wipe and hand these on).
    out = new Uint8Array(NodeBuffer.from(text, 'base64url'));
  } else {
    let bin: string;
    try {
      bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    } catch {
      return undefined;
    }
    out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  }
  // One spelling per byte string: the unused low bits of the last character must be 0
  // (4 of them after 2 characters of a group, 2 after 3), checked on the character
  // itself rather than by encoding the bytes again.
  const rest = text.length % 4;
  if (rest !== 0 && B64URL_VALUE[text.charCodeAt(text.length - 1)]! & (rest === 2 ? 15 : 3)) {
    return undefined;
  }
  if (byteLength !== undefined && out.length !== byteLength) return undefined;
  return out;
}

// --- keys ------------------------------------------------------------------------------

/** `cx-` + first 16 hex of SHA-256 over the 32 raw key bytes (spec/decisions.md D-054). */
export function cxKeyIdOf(publicKey: Uint8Array): string {
  if (publicKey.length !== KEY_BYTES) throw new RangeError('an X25519 public key is 32 bytes');
  return `cx-${bytesToHex(sha256(publicKey)).slice(0, 16)}`;
}

/** A peer's usable CX key, read from its `cx_public_key` advertisement. */
export interface CxRecipient {
  readonly publicKey: Uint8Array;
  readonly keyId: string;
  /** The node advertised `response_encryption_v1`. */
  readonly responseEncryption: boolean;
}

/**
 * Read a `cx_public_key` advertisement (§3.1–§3.2). `undefined` means "no usable key"
 * (absent, malformed, not X25519, expired): the caller fails closed, never falls back.
 * Unknown `features` entries are ignored (§5a.4).
 */
export function readCxAdvertisement(
  adv: unknown,
  nowMs: number = Date.now(),
): CxRecipient | undefined {
  if (adv === null || typeof adv !== 'object' || Array.isArray(adv)) return undefined;
  const a = adv as Record<string, unknown>;
  if (a.algorithm !== 'X25519' || a.encoding !== 'base64url') return undefined;
  if (typeof a.key !== 'string' || typeof a.key_id !== 'string' || a.key_id === '') {
    return undefined;
  }
  const publicKey = base64UrlToBytes(a.key, KEY_BYTES);
  if (!publicKey) return undefined;
  if (a.not_after !== undefined && a.not_after !== null) {
    if (typeof a.not_after !== 'string') return undefined;
    const t = Date.parse(a.not_after);
    if (Number.isNaN(t) || t <= nowMs) return undefined;
  }
  const features = Array.isArray(a.features) ? a.features : [];
  return {
    publicKey,
    keyId: a.key_id,
    responseEncryption: features.includes(CX_RESPONSE_ENCRYPTION_FEATURE),
  };
}

// --- AEAD ------------------------------------------------------------------------------

function subtle(): typeof globalThis.crypto.subtle {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new Error('IICP-CX needs WebCrypto (globalThis.crypto.subtle)');
  return s;
}

/** A fresh `ArrayBuffer` copy: WebCrypto takes `BufferSource`, not a view of shared memory. */
function buf(b: Uint8Array): ArrayBuffer {
  return b.slice().buffer;
}

async function aesGcm(
  mode: 'encrypt' | 'decrypt',
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  data: Uint8Array,
): Promise<Uint8Array> {
  const nc = nodeCrypto();
  if (nc) return nodeAesGcm(nc, mode, key, nonce, aad, data);
  const s = subtle();
  const k = await s.importKey('raw', buf(key), { name: 'AES-GCM' }, false, [mode]);
  const params = {
    name: 'AES-GCM',
    iv: buf(nonce),
    additionalData: buf(aad),
    tagLength: TAG_BYTES * 8,
  };
  const out =
    mode === 'encrypt'
      ? await s.encrypt(params, k, buf(data))
      : await s.decrypt(params, k, buf(data));
  return new Uint8Array(out);
}

/**
 * HKDF-SHA256 to 32 bytes (RFC 5869): in one native call through `@iicp/cx-native` on the
 * Node path where the addon loaded, else in plain JS (`./hkdf-sha256.ts`: cheaper than
 * Node's native HMAC objects, and than an async WebCrypto round for 32 bytes). The
 * tests pin both to `hkdfSync` and noble.
 */
export function hkdf32(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Uint8Array {
  const native = nodeCrypto() ? cxNative() : undefined;
  return native ? native.hkdfSha256(ikm, salt, info) : hkdfSha256To32(ikm, salt, info);
}

function requestKey(shared: Uint8Array, nonce: Uint8Array, taskId: string, intent: string) {
  return hkdf32(shared, nonce, utf8(`${CX_REQUEST_INFO_PREFIX}${taskId}${intent}`));
}

function responseKey(shared: Uint8Array, nonce: Uint8Array, taskId: string) {
  return hkdf32(shared, nonce, utf8(`${CX_RESPONSE_INFO_PREFIX}${taskId}`));
}

/** `UTF8(task_id + "|" + intent)` (§5). */
export function cxRequestAad(taskId: string, intent: string): Uint8Array {
  return utf8(`${taskId}|${intent}`);
}

/** `UTF8(task_id + "|resp")` (D-070, as deployed consumers compute it). */
export function cxResponseAad(taskId: string): Uint8Array {
  return utf8(`${taskId}|resp`);
}

// --- Node's native crypto, reached without an import -----------------------------------

/** The part of `node:crypto` used here, typed locally so this module needs no Node types. */
interface NodeKey {
  export(opts: { format: 'jwk' }): { x?: string };
}
interface NodeCipher {
  setAAD(aad: Uint8Array): unknown;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
  getAuthTag(): Uint8Array;
}
interface NodeDecipher {
  setAAD(aad: Uint8Array): unknown;
  setAuthTag(tag: Uint8Array): unknown;
  update(data: Uint8Array): Uint8Array;
  final(): Uint8Array;
}
interface NodeCryptoLike {
  createCipheriv(alg: string, key: Uint8Array, iv: Uint8Array, o: object): NodeCipher;
  createDecipheriv(alg: string, key: Uint8Array, iv: Uint8Array, o: object): NodeDecipher;
  createPrivateKey(o: { key: Uint8Array; format: 'der'; type: 'pkcs8' }): NodeKey;
  createPublicKey(
    o: NodeKey | { key: { kty: 'OKP'; crv: 'X25519'; x: string }; format: 'jwk' },
  ): NodeKey;
  generateKeyPairSync(
    type: 'x25519',
    o: { publicKeyEncoding: { format: 'jwk' } },
  ): { publicKey: { x?: string }; privateKey: NodeKey };
  diffieHellman(o: { privateKey: NodeKey; publicKey: NodeKey }): Uint8Array;
}

let nodeCryptoCache: NodeCryptoLike | null | undefined;

/**
 * `node:crypto` when the runtime offers it through `process.getBuiltinModule` and it
 * reproduces the RFC 7748 §6.1 X25519 answer; `undefined` in browsers. Decided once.
 */
function nodeCrypto(): NodeCryptoLike | undefined {
  if (nodeCryptoCache === undefined) {
    nodeCryptoCache = null;
    try {
      const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
        .process;
      const nc = proc?.getBuiltinModule?.('node:crypto') as NodeCryptoLike | undefined;
      if (nc && typeof nc.diffieHellman === 'function') {
        const shared = nc.diffieHellman({
          privateKey: nodePrivate(
            nc,
            hexToBytes('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
          ),
          publicKey: nodePublic(
            nc,
            hexToBytes('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f'),
          ),
        });
        if (
          bytesToHex(shared) === '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742'
        ) {
          nodeCryptoCache = nc;
        }
      }
    } catch {
      nodeCryptoCache = null;
    }
  }
  return nodeCryptoCache ?? undefined;
}

/** `run(nodeCrypto, opts)` where Node's native crypto is there, else `undefined` (the *Sync calls). */
function withNodeCrypto<O, R>(run: (nc: NodeCryptoLike, opts: O) => R, opts: O): R | undefined {
  const nc = nodeCrypto();
  return nc ? run(nc, opts) : undefined;
}

function withPrefix(prefix: Uint8Array, key: Uint8Array): Uint8Array {
  if (key.length !== KEY_BYTES) throw new RangeError('an X25519 key is 32 bytes');
  const der = new Uint8Array(prefix.length + KEY_BYTES);
  der.set(prefix);
  der.set(key, prefix.length);
  return der;
}

function nodePrivate(nc: NodeCryptoLike, privateKey: Uint8Array): NodeKey {
  const der = withPrefix(PKCS8_X25519_PREFIX, privateKey);
  try {
    return nc.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

/** Raw public keys go in and out as JWK: ~10× (import) and ~70× (export) cheaper than DER. */
function nodePublic(nc: NodeCryptoLike, publicKey: Uint8Array): NodeKey {
  if (publicKey.length !== KEY_BYTES) throw new RangeError('an X25519 key is 32 bytes');
  return nc.createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: bytesToBase64Url(publicKey) },
    format: 'jwk',
  });
}

function nodeRawPublic(key: NodeKey): Uint8Array {
  const raw = base64UrlToBytes(key.export({ format: 'jwk' }).x ?? '', KEY_BYTES);
  if (!raw) throw new Error('the runtime exported an unexpected X25519 key');
  return raw;
}

// --- X25519 in native code: libsodium, else Node's OpenSSL ------------------------------

/** A fresh ephemeral key pair of a native back end; its private half never leaves it. */
interface NativeEphemeral {
  readonly ephPub: Uint8Array;
  /** X25519(this key, peer); throws on the all-zero result. */
  agree(peer: Uint8Array, peerHex: string): Uint8Array;
  /** Forgets the private half (wiped where this module holds its bytes). */
  drop(): void;
}

/** X25519 as the Node paths use it; both back ends give the same bytes (tests pin them). */
interface NativeX25519 {
  readonly name: 'libsodium' | 'openssl';
  generate(): NativeEphemeral;
  /** X25519 of a raw 32-byte private key (a node's static key, or a vector's fixed key). */
  agreeStatic(privateKey: Uint8Array, peer: Uint8Array): Uint8Array;
  /** The public key of a raw private key. */
  publicOf(privateKey: Uint8Array): Uint8Array;
}

function allZero(bits: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bits.length; i++) acc |= bits[i]!;
  return acc === 0;
}

/** libsodium (`./sodium-x25519.ts`): raw keys in, raw keys out, one call per operation. */
function sodiumBackend(s: SodiumX25519): NativeX25519 {
  const agree = (priv: Uint8Array, peer: Uint8Array): Uint8Array => {
    if (peer.length !== KEY_BYTES) throw new RangeError('an X25519 key is 32 bytes');
    const out = new Uint8Array(KEY_BYTES);
    s.crypto_scalarmult(out, priv, peer); // libsodium refuses the all-zero result itself
    if (allZero(out)) throw new Error('X25519 produced the all-zero secret');
    return out;
  };
  return {
    name: 'libsodium',
    generate() {
      const priv = new Uint8Array(KEY_BYTES);
      s.randombytes_buf(priv);
      const ephPub = new Uint8Array(KEY_BYTES);
      s.crypto_scalarmult_base(ephPub, priv);
      return { ephPub, agree: (peer) => agree(priv, peer), drop: () => priv.fill(0) };
    },
    agreeStatic: (privateKey, peer) => {
      if (privateKey.length !== KEY_BYTES) throw new RangeError('an X25519 key is 32 bytes');
      return agree(privateKey, peer);
    },
    publicOf(privateKey) {
      if (privateKey.length !== KEY_BYTES) throw new RangeError('an X25519 key is 32 bytes');
      const pub = new Uint8Array(KEY_BYTES);
      s.crypto_scalarmult_base(pub, privateKey);
      return pub;
    },
  };
}

/** Node's OpenSSL through `KeyObject`s: peers' keys imported once, a node's static key once. */
function opensslBackend(nc: NodeCryptoLike): NativeX25519 {
  const peerKey = (peer: Uint8Array, peerHex: string): NodeKey => {
    let key = nodePublicCache.get(peerHex);
    if (!key) {
      key = nodePublic(nc, peer);
      if (nodePublicCache.size >= PUBLIC_KEY_CACHE_MAX) nodePublicCache.clear();
      nodePublicCache.set(peerHex, key);
    }
    return key;
  };
  return {
    name: 'openssl',
    generate() {
      // The public key comes encoded by the key generation itself, not from
      // `publicKey.export({ format: 'jwk' })`: on Node 20 that export holds the key's
      // mutex while it allocates strings, and a GC there can finalise the (already
      // unreachable) generation job, whose destructor takes the same mutex: the thread
      // deadlocks (seen in iicp-proxy under load; a loop of generate + export hangs
      // within seconds).
      const pair = nc.generateKeyPairSync('x25519', { publicKeyEncoding: { format: 'jwk' } });
      const ephPub = base64UrlToBytes(pair.publicKey.x ?? '', KEY_BYTES);
      if (!ephPub) throw new Error('the runtime exported an unexpected X25519 key');
      return {
        ephPub,
        agree: (peer, peerHex) => nodeShared(nc, pair.privateKey, peerKey(peer, peerHex)),
        drop: () => undefined, // a KeyObject's bytes are OpenSSL's; dropped with the object
      };
    },
    agreeStatic(privateKey, peer) {
      let priv = nodePrivateCache.get(privateKey);
      if (!priv) {
        priv = nodePrivate(nc, privateKey);
        nodePrivateCache.set(privateKey, priv);
      }
      return nodeShared(nc, priv, nodePublic(nc, peer));
    },
    publicOf: (privateKey) => nodeRawPublic(nc.createPublicKey(nodePrivate(nc, privateKey))),
  };
}

let nativeX25519Cache: NativeX25519 | undefined;

/**
 * The native X25519 back end, decided once: libsodium where `sodium-native` loads and
 * passes its known answer, else Node's OpenSSL (`nc`, checked in {@link nodeCrypto}).
 */
function nativeX25519(nc: NodeCryptoLike): NativeX25519 {
  nativeX25519Cache ??= ((s) => (s ? sodiumBackend(s) : opensslBackend(nc)))(loadSodiumX25519());
  return nativeX25519Cache;
}

/** Which implementations serve IICP-CX in this runtime (see {@link cxCryptoBackends}). */
export interface CxCryptoBackends {
  /** `libsodium` (`sodium-native`), `node-crypto` (OpenSSL key objects), or `portable` (WebCrypto, else noble). */
  readonly x25519: 'libsodium' | 'node-crypto' | 'portable';
  /** `native-addon` (`@iicp/cx-native`), `node-crypto` (cipher objects), or `webcrypto`. */
  readonly aesGcm: 'native-addon' | 'node-crypto' | 'webcrypto';
  /** `native-addon` (`@iicp/cx-native`) or `js` (`./hkdf-sha256.ts`). */
  readonly hkdf: 'native-addon' | 'js';
}

/**
 * Which implementations serve IICP-CX here, for start-up logs and tests: a machine that
 * could not build or load a native part says so instead of being silently slower. The
 * bytes on the wire are the same whichever is used.
 */
export function cxCryptoBackends(): CxCryptoBackends {
  const nc = nodeCrypto();
  if (!nc) return { x25519: 'portable', aesGcm: 'webcrypto', hkdf: 'js' };
  const native = cxNative() ? 'native-addon' : undefined;
  return {
    x25519: nativeX25519(nc).name === 'libsodium' ? 'libsodium' : 'node-crypto',
    aesGcm: native ?? 'node-crypto',
    hkdf: native ?? 'js',
  };
}

/**
 * Ephemeral key pairs made ahead of time (Node only). Each is still used for exactly one
 * task and then dropped (CX-06); what changes is when it is made: after a seal, two
 * `setImmediate` turns later (so after the CALL has been written, see refillLater),
 * rather than on the seal's critical path. With it comes its agreement with the node it
 * is most likely for (the last recipient); an agreement made for another node is wiped
 * and recomputed.
 */
interface ReadyEphemeral {
  readonly key: NativeEphemeral;
  readonly peerHex: string | undefined;
  readonly shared: Uint8Array | undefined;
}
const ready: ReadyEphemeral[] = [];
/** Enough for a few tasks sealed in one burst; more would only hold secrets longer. */
const READY_MAX = 2;
let refilling = false;
let lastPeer: { readonly hex: string; readonly bytes: Uint8Array } | undefined;

function makeEphemeral(
  x: NativeX25519,
  peer: { readonly hex: string; readonly bytes: Uint8Array } | undefined,
): ReadyEphemeral {
  const key = x.generate();
  if (!peer) return { key, peerHex: undefined, shared: undefined };
  try {
    return { key, peerHex: peer.hex, shared: key.agree(peer.bytes, peer.hex) };
  } catch (err) {
    key.drop();
    throw err;
  }
}

function refillLater(x: NativeX25519): void {
  if (refilling) return;
  refilling = true;
  const later =
    (globalThis as { setImmediate?: (f: () => void) => unknown }).setImmediate ??
    ((f: () => void) => setTimeout(f, 0));
  // Two turns, not one: undici writes a request on a reused keep-alive socket from a
  // setImmediate of its own (GHSA-35p6-xmwp-9g52), queued after this one, since the seal
  // comes before the dispatch. One setImmediate would make the key before the CALL goes
  // out; an immediate queued from an immediate runs in the next loop turn, after that
  // write, while the node works on the call.
  later(() =>
    later(() => {
      refilling = false;
      try {
        if (ready.length < READY_MAX) ready.push(makeEphemeral(x, lastPeer));
      } catch {
        return; // the next seal makes its own
      }
      if (ready.length < READY_MAX) refillLater(x);
    }),
  );
}

/** The next unused ephemeral key pair (made now when none is ready); removed from the pool. */
function takeReady(x: NativeX25519, peerHex: string, peer: Uint8Array): ReadyEphemeral {
  lastPeer = { hex: peerHex, bytes: peer };
  const next = ready.shift() ?? makeEphemeral(x, lastPeer);
  refillLater(x);
  return next;
}

/** Node keys already imported: the node's static keys by identity, peers' by bytes. */
const nodePrivateCache = new WeakMap<Uint8Array, NodeKey>();
const nodePublicCache = new Map<string, NodeKey>();

function nodeShared(nc: NodeCryptoLike, privateKey: NodeKey, publicKey: NodeKey): Uint8Array {
  const out = nc.diffieHellman({ privateKey, publicKey });
  const bits = Uint8Array.from(out);
  out.fill(0);
  if (allZero(bits)) throw new Error('X25519 produced the all-zero secret');
  return bits;
}

let cxNativeCache: CxNative | null | undefined;

/** `@iicp/cx-native` (`./cx-native.ts`) on the Node path, decided once; else `undefined`. */
function cxNative(): CxNative | undefined {
  if (cxNativeCache === undefined) cxNativeCache = loadCxNative() ?? null;
  return cxNativeCache ?? undefined;
}

/** AES-256-GCM on the Node path: the one-shot addon, else `node:crypto`'s cipher objects. */
function nodeAesGcm(
  nc: NodeCryptoLike,
  mode: 'encrypt' | 'decrypt',
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  const native = cxNative();
  if (native) {
    if (mode === 'encrypt') return native.aesGcmSeal(key, nonce, aad, data);
    if (data.length < TAG_BYTES) throw new Error('short AES-GCM body');
    const plaintext = native.aesGcmOpen(key, nonce, aad, data);
    if (!plaintext) throw new Error('AES-GCM tag mismatch');
    return plaintext;
  }
  const opts = { authTagLength: TAG_BYTES };
  if (mode === 'encrypt') {
    const c = nc.createCipheriv('aes-256-gcm', key, nonce, opts);
    c.setAAD(aad);
    return concat(c.update(data), c.final(), c.getAuthTag());
  }
  if (data.length < TAG_BYTES) throw new Error('short AES-GCM body');
  const d = nc.createDecipheriv('aes-256-gcm', key, nonce, opts);
  d.setAAD(aad);
  d.setAuthTag(data.subarray(data.length - TAG_BYTES));
  return concat(d.update(data.subarray(0, data.length - TAG_BYTES)), d.final());
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// --- X25519: native, then WebCrypto, then noble -------------------------------

/** PKCS #8 prefix of a raw X25519 private key (RFC 8410): WebCrypto imports no raw private keys. */
const PKCS8_X25519_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

const X25519_ALG = { name: 'X25519' } as const;

/** WebCrypto's key type, named without the DOM lib. */
type WebKey = Awaited<ReturnType<ReturnType<typeof subtle>['importKey']>>;

let webX25519: Promise<boolean> | undefined;

/**
 * Whether `crypto.subtle` does X25519 correctly, decided once per process by the
 * RFC 7748 §6.1 known answer (a runtime that only half-supports the algorithm falls
 * back to noble instead of producing different bytes).
 */
function hasWebX25519(): Promise<boolean> {
  webX25519 ??= (async () => {
    try {
      const s = globalThis.crypto?.subtle;
      if (!s) return false;
      const priv = await importPrivate(
        hexToBytes('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
        false,
      );
      const shared = await webShared(
        priv,
        hexToBytes('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f'),
      );
      return (
        bytesToHex(shared) === '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742'
      );
    } catch {
      return false;
    }
  })();
  return webX25519;
}

function importPrivate(privateKey: Uint8Array, extractable: boolean): Promise<WebKey> {
  const der = new Uint8Array(PKCS8_X25519_PREFIX.length + KEY_BYTES);
  der.set(PKCS8_X25519_PREFIX);
  der.set(privateKey, PKCS8_X25519_PREFIX.length);
  const p = subtle().importKey('pkcs8', der, X25519_ALG, extractable, ['deriveBits']);
  der.fill(0);
  return p;
}

/** Imported node keys, by the key array's identity: a node reuses the same key objects. */
const privateKeyCache = new WeakMap<Uint8Array, Promise<WebKey>>();

function cachedPrivate(privateKey: Uint8Array): Promise<WebKey> {
  let k = privateKeyCache.get(privateKey);
  if (!k) {
    k = importPrivate(privateKey, false);
    privateKeyCache.set(privateKey, k);
  }
  return k;
}

/** Imported peer public keys by their bytes: a consumer seals to the same few nodes. */
const publicKeyCache = new Map<string, Promise<WebKey>>();
const PUBLIC_KEY_CACHE_MAX = 1024;

function cachedPublic(publicKey: Uint8Array): Promise<WebKey> {
  const id = bytesToHex(publicKey);
  let k = publicKeyCache.get(id);
  if (!k) {
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_MAX) publicKeyCache.clear();
    k = subtle().importKey('raw', buf(publicKey), X25519_ALG, false, []);
    k.catch(() => publicKeyCache.delete(id));
    publicKeyCache.set(id, k);
  }
  return k;
}

/** Throws on an all-zero result (small-order peer key), as noble does. */
async function webShared(priv: WebKey, peerPublic: Uint8Array | WebKey): Promise<Uint8Array> {
  const pub = peerPublic instanceof Uint8Array ? await cachedPublic(peerPublic) : peerPublic;
  const bits = new Uint8Array(
    await subtle().deriveBits({ name: 'X25519', public: pub }, priv, KEY_BYTES * 8),
  );
  if (bits.every((b) => b === 0)) throw new Error('X25519 produced the all-zero secret');
  return bits;
}

/** An ephemeral (or, for vectors, given) key pair and the secret it shares with `peer`. */
async function ephemeralAgreement(
  peer: Uint8Array,
  fixedPrivate: Uint8Array | undefined,
): Promise<{ ephPub: Uint8Array; shared: Uint8Array }> {
  const nc = nodeCrypto();
  if (nc) return nativeEphemeralAgreement(nc, peer, fixedPrivate);
  if (await hasWebX25519()) {
    let priv: WebKey;
    let ephPub: Uint8Array;
    if (fixedPrivate) {
      priv = await importPrivate(fixedPrivate, true);
      const jwk = await subtle().exportKey('jwk', priv);
      ephPub = base64UrlToBytes(jwk.x ?? '', KEY_BYTES) ?? x25519.getPublicKey(fixedPrivate);
    } else {
      const pair = (await subtle().generateKey(X25519_ALG, false, ['deriveBits'])) as {
        privateKey: WebKey;
        publicKey: WebKey;
      };
      priv = pair.privateKey;
      ephPub = new Uint8Array(await subtle().exportKey('raw', pair.publicKey));
    }
    return { ephPub, shared: await webShared(priv, peer) };
  }
  const ephPriv = fixedPrivate ?? x25519.utils.randomSecretKey();
  const ephPub = x25519.getPublicKey(ephPriv);
  return { ephPub, shared: x25519.getSharedSecret(ephPriv, peer) };
}

/** {@link ephemeralAgreement} in native code: a prepared key pair, or the vector's fixed key. */
function nativeEphemeralAgreement(
  nc: NodeCryptoLike,
  peer: Uint8Array,
  fixedPrivate: Uint8Array | undefined,
): { ephPub: Uint8Array; shared: Uint8Array } {
  const x = nativeX25519(nc);
  if (fixedPrivate) {
    return { ephPub: x.publicOf(fixedPrivate), shared: x.agreeStatic(fixedPrivate, peer) };
  }
  const peerHex = bytesToHex(peer);
  const next = takeReady(x, peerHex, peer);
  try {
    if (next.shared && next.peerHex === peerHex) {
      return { ephPub: next.key.ephPub, shared: next.shared };
    }
    next.shared?.fill(0);
    return { ephPub: next.key.ephPub, shared: next.key.agree(peer, peerHex) };
  } finally {
    next.key.drop();
  }
}

/** The node side: its static key with the sender's ephemeral public key. */
async function staticAgreement(privateKey: Uint8Array, ephPub: Uint8Array): Promise<Uint8Array> {
  const nc = nodeCrypto();
  if (nc) return nodeStaticAgreement(nc, privateKey, ephPub);
  if (await hasWebX25519()) {
    // Ephemeral keys are fresh per task: import without caching.
    const pub = await subtle().importKey('raw', buf(ephPub), X25519_ALG, false, []);
    return webShared(await cachedPrivate(privateKey), pub);
  }
  return x25519.getSharedSecret(privateKey, ephPub);
}

/** {@link staticAgreement} in native code (libsodium, else OpenSSL with the key imported once). */
function nodeStaticAgreement(
  nc: NodeCryptoLike,
  privateKey: Uint8Array,
  ephPub: Uint8Array,
): Uint8Array {
  return nativeX25519(nc).agreeStatic(privateKey, ephPub);
}

/**
 * Canonical u-coordinate: top bit clear and u < p = 2^255 - 19 (see `./cx.ts`). Compared
 * on the little-endian bytes: with the top bit clear, u ≥ p only when byte 31 is 0x7f,
 * bytes 30..1 are 0xff and byte 0 is ≥ 0xed (p's low byte).
 */
export function isCanonicalX25519(pub: Uint8Array): boolean {
  if (pub.length !== KEY_BYTES) return false;
  const top = pub[31]!;
  if (top & 0x80) return false;
  if (top !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (pub[i] !== 0xff) return true;
  return pub[0]! < 0xed;
}

/**
 * Nonce randomness drawn from the system CSPRNG in blocks: one `getRandomValues` call
 * per {@link NONCE_POOL_NONCES} nonces instead of one per seal. Each nonce is a copy of
 * 12 pool bytes never handed out before; its slot is zeroed as it is taken, and the pool
 * is refilled from the CSPRNG only once every slot has been used, so no two seals share
 * a nonce (CX-06) and none is derived from another.
 */
const NONCE_POOL_NONCES = 256;
const noncePool = new Uint8Array(NONCE_POOL_NONCES * NONCE_BYTES);
let noncePoolNext = noncePool.length;

/** A fresh random 12-byte AES-GCM nonce (see {@link noncePool}). */
export function freshNonce(): Uint8Array {
  if (noncePoolNext + NONCE_BYTES > noncePool.length) {
    const fresh = randomBytes(noncePool.length);
    noncePool.set(fresh);
    fresh.fill(0);
    noncePoolNext = 0;
  }
  const start = noncePoolNext;
  noncePoolNext = start + NONCE_BYTES;
  const nonce = noncePool.slice(start, noncePoolNext);
  noncePool.fill(0, start, noncePoolNext);
  return nonce;
}

const e050 = (message: string): IicpProtocolError =>
  new IicpProtocolError('IICP-E050', message, { status: 422 });

// --- request ---------------------------------------------------------------------------

export interface SealCxRequestOptions {
  readonly recipientPublicKey: Uint8Array;
  readonly recipientKeyId: string;
  readonly taskId: string;
  readonly intent: string;
  /** Payload JSON bytes, or text encoded as UTF-8. */
  readonly plaintext: Uint8Array | string;
  /** Vectors only: a fixed ephemeral key and nonce. Never set in production (CX-06). */
  readonly ephemeralPrivateKey?: Uint8Array;
  readonly nonce?: Uint8Array;
}

export interface SealedCxRequest {
  readonly envelope: CxRequestEnvelope;
  /** Kept by the consumer to open an `iicp_conf_resp`; wipe with `.fill(0)` after use. */
  readonly sharedSecret: Uint8Array;
}

/** Consumer side: encrypt a task payload into `iicp_conf`, with a fresh ephemeral key. */
export async function sealCxRequest(opts: SealCxRequestOptions): Promise<SealedCxRequest> {
  const nc = nodeCrypto();
  if (nc) return sealNode(nc, opts);
  const { plaintext, nonce } = sealInputs(opts);
  // Throws on a small-order node key: refusing to encrypt is the fail-closed answer.
  const { ephPub, shared } = await ephemeralAgreement(
    opts.recipientPublicKey,
    opts.ephemeralPrivateKey,
  );
  const key = requestKey(shared, nonce, opts.taskId, opts.intent);
  const aad = cxRequestAad(opts.taskId, opts.intent);
  const body = await aesGcm('encrypt', key, nonce, aad, plaintext);
  key.fill(0);
  return sealedRequest(opts, ephPub, body, nonce, aad, plaintext.length, shared);
}

/**
 * {@link sealCxRequest} without a promise, where Node's native crypto serves it: the
 * same envelope (for a given ephemeral key and nonce), secret and errors; `undefined`
 * where it does not (browsers: use {@link sealCxRequest}). Saves the promise and
 * microtask turns on a consumer's task path.
 */
export function sealCxRequestSync(opts: SealCxRequestOptions): SealedCxRequest | undefined {
  return withNodeCrypto(sealNode, opts);
}

/** {@link sealCxRequest} in native code, synchronously. */
function sealNode(nc: NodeCryptoLike, opts: SealCxRequestOptions): SealedCxRequest {
  const { plaintext, nonce } = sealInputs(opts);
  const { ephPub, shared } = nativeEphemeralAgreement(
    nc,
    opts.recipientPublicKey,
    opts.ephemeralPrivateKey,
  );
  const key = requestKey(shared, nonce, opts.taskId, opts.intent);
  const aad = cxRequestAad(opts.taskId, opts.intent);
  let body: Uint8Array;
  try {
    body = nodeAesGcm(nc, 'encrypt', key, nonce, aad, plaintext);
  } catch (err) {
    shared.fill(0);
    throw err;
  } finally {
    key.fill(0);
  }
  return sealedRequest(opts, ephPub, body, nonce, aad, plaintext.length, shared);
}

function sealInputs(opts: SealCxRequestOptions): { plaintext: Uint8Array; nonce: Uint8Array } {
  const plaintext = typeof opts.plaintext === 'string' ? utf8(opts.plaintext) : opts.plaintext;
  const nonce = opts.nonce ?? freshNonce();
  if (nonce.length !== NONCE_BYTES) throw new RangeError('the CX nonce is 12 bytes');
  return { plaintext, nonce };
}

function sealedRequest(
  opts: SealCxRequestOptions,
  ephPub: Uint8Array,
  body: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintextSize: number,
  shared: Uint8Array,
): SealedCxRequest {
  return {
    envelope: {
      version: CX_WEB_ENVELOPE_VERSION,
      recipient_key_id: opts.recipientKeyId,
      kem_ciphertext: bytesToBase64Url(ephPub),
      encrypted_body: bytesToBase64Url(body),
      nonce: bytesToBase64Url(nonce),
      aad: bytesToBase64Url(aad),
      plaintext_size: plaintextSize,
    },
    sharedSecret: shared,
  };
}

/** A node's CX private key with the id it advertises. */
export interface CxRecipientKey {
  readonly privateKey: Uint8Array;
  readonly keyId: string;
}

export interface OpenCxRequestOptions {
  readonly envelope: unknown;
  /** The node's keys that may be addressed (current and, during rotation, previous). */
  readonly recipientKeys: readonly CxRecipientKey[];
  readonly taskId: string;
  readonly intent: string;
}

export interface OpenedCxRequest {
  readonly plaintext: Uint8Array;
  /** For {@link sealCxResponse}; wipe with `.fill(0)` after use. */
  readonly sharedSecret: Uint8Array;
}

/** One decoder for the received `aad` text (a non-streaming decode keeps no state). */
const AAD_TEXT = new TextDecoder();

/**
 * Provider side: decrypt `iicp_conf`. Every failure (unknown key id, version, bad
 * encoding, non-canonical ephemeral key, wrong AAD, tag failure, size mismatch) throws
 * `IICP-E050` (422); the message never carries key or payload bytes.
 */
export async function openCxRequest(opts: OpenCxRequestOptions): Promise<OpenedCxRequest> {
  const nc = nodeCrypto();
  if (nc) return openNode(nc, opts);
  const { privateKey, ephPub, nonce, body, plaintextSize } = readCxRequest(opts);
  let shared: Uint8Array;
  try {
    shared = await staticAgreement(privateKey, ephPub);
  } catch {
    throw e050('CX payload could not be decrypted');
  }
  const key = requestKey(shared, nonce, opts.taskId, opts.intent);
  try {
    const plaintext = await aesGcm(
      'decrypt',
      key,
      nonce,
      cxRequestAad(opts.taskId, opts.intent),
      body,
    );
    if (plaintext.length !== plaintextSize) throw new Error('size');
    return { plaintext, sharedSecret: shared };
  } catch {
    shared.fill(0);
    throw e050('CX payload could not be decrypted');
  } finally {
    key.fill(0);
  }
}

/**
 * {@link openCxRequest} without a promise, where Node's native crypto serves it
 * (synchronous X25519, HKDF and AES-GCM): the same plaintext, shared secret and errors
 * (`IICP-E050`, thrown); `undefined` where it does not (browsers: use
 * {@link openCxRequest}). Saves the promise and microtask turns on a node's task path.
 */
export function openCxRequestSync(opts: OpenCxRequestOptions): OpenedCxRequest | undefined {
  return withNodeCrypto(openNode, opts);
}

/** {@link openCxRequest} in Node's native crypto, synchronously. */
function openNode(nc: NodeCryptoLike, opts: OpenCxRequestOptions): OpenedCxRequest {
  const { privateKey, ephPub, nonce, body, plaintextSize } = readCxRequest(opts);
  let shared: Uint8Array;
  try {
    shared = nodeStaticAgreement(nc, privateKey, ephPub);
  } catch {
    throw e050('CX payload could not be decrypted');
  }
  const key = requestKey(shared, nonce, opts.taskId, opts.intent);
  try {
    const plaintext = nodeAesGcm(
      nc,
      'decrypt',
      key,
      nonce,
      cxRequestAad(opts.taskId, opts.intent),
      body,
    );
    if (plaintext.length !== plaintextSize) throw new Error('size');
    return { plaintext, sharedSecret: shared };
  } catch {
    shared.fill(0);
    throw e050('CX payload could not be decrypted');
  } finally {
    key.fill(0);
  }
}

/** The checks of {@link openCxRequest} before any key work; throws `IICP-E050`. */
function readCxRequest(opts: OpenCxRequestOptions): {
  privateKey: Uint8Array;
  ephPub: Uint8Array;
  nonce: Uint8Array;
  body: Uint8Array;
  plaintextSize: number;
} {
  const env = opts.envelope;
  if (env === null || typeof env !== 'object' || Array.isArray(env)) {
    throw e050('iicp_conf must be an object');
  }
  const e = env as Record<string, unknown>;
  if (e.version !== CX_WEB_ENVELOPE_VERSION) throw e050('CX envelope version is not supported');
  const pair = opts.recipientKeys.find((k) => k.keyId === e.recipient_key_id);
  if (!pair) throw e050('CX recipient key id is not a key of this node');
  const ephPub =
    typeof e.kem_ciphertext === 'string'
      ? base64UrlToBytes(e.kem_ciphertext, KEY_BYTES)
      : undefined;
  const nonce = typeof e.nonce === 'string' ? base64UrlToBytes(e.nonce, NONCE_BYTES) : undefined;
  const body =
    typeof e.encrypted_body === 'string' ? base64UrlToBytes(e.encrypted_body) : undefined;
  const sentAad = typeof e.aad === 'string' ? base64UrlToBytes(e.aad) : undefined;
  if (
    !ephPub ||
    !nonce ||
    !body ||
    !sentAad ||
    typeof e.plaintext_size !== 'number' ||
    body.length < TAG_BYTES ||
    !isCanonicalX25519(ephPub)
  ) {
    throw e050('CX payload could not be decrypted');
  }
  // §4.1 spells the aad member as a plain concatenation, §5 with "|": accept either,
  // authenticate with the §5 bytes recomputed from the request itself.
  const sentAadText = AAD_TEXT.decode(sentAad);
  if (
    sentAadText !== `${opts.taskId}|${opts.intent}` &&
    sentAadText !== `${opts.taskId}${opts.intent}`
  ) {
    throw e050('CX payload could not be decrypted');
  }
  return { privateKey: pair.privateKey, ephPub, nonce, body, plaintextSize: e.plaintext_size };
}

// --- response --------------------------------------------------------------------------

export interface SealCxResponseOptions {
  readonly sharedSecret: Uint8Array;
  readonly taskId: string;
  readonly plaintext: Uint8Array | string;
  /** Vectors only. */
  readonly nonce?: Uint8Array;
}

/** Provider side: encrypt the result into `iicp_conf_resp` under a fresh nonce (§5a.3). */
export async function sealCxResponse(opts: SealCxResponseOptions): Promise<CxResponseEnvelope> {
  const nc = nodeCrypto();
  if (nc) return sealResponseNode(nc, opts);
  const plaintext = typeof opts.plaintext === 'string' ? utf8(opts.plaintext) : opts.plaintext;
  const nonce = opts.nonce ?? freshNonce();
  if (nonce.length !== NONCE_BYTES) throw new RangeError('the CX nonce is 12 bytes');
  const key = responseKey(opts.sharedSecret, nonce, opts.taskId);
  const body = await aesGcm('encrypt', key, nonce, cxResponseAad(opts.taskId), plaintext);
  key.fill(0);
  return {
    version: CX_WEB_ENVELOPE_VERSION,
    nonce: bytesToBase64Url(nonce),
    encrypted_body: bytesToBase64Url(body),
  };
}

/**
 * {@link sealCxResponse} without a promise, where Node's native crypto serves it: the
 * same envelope (for a given nonce) and errors; `undefined` where it does not (browsers:
 * use {@link sealCxResponse}).
 */
export function sealCxResponseSync(opts: SealCxResponseOptions): CxResponseEnvelope | undefined {
  return withNodeCrypto(sealResponseNode, opts);
}

/** {@link sealCxResponse} in Node's native crypto, synchronously. */
function sealResponseNode(nc: NodeCryptoLike, opts: SealCxResponseOptions): CxResponseEnvelope {
  const plaintext = typeof opts.plaintext === 'string' ? utf8(opts.plaintext) : opts.plaintext;
  const nonce = opts.nonce ?? freshNonce();
  if (nonce.length !== NONCE_BYTES) throw new RangeError('the CX nonce is 12 bytes');
  const key = responseKey(opts.sharedSecret, nonce, opts.taskId);
  let body: Uint8Array;
  try {
    body = nodeAesGcm(nc, 'encrypt', key, nonce, cxResponseAad(opts.taskId), plaintext);
  } finally {
    key.fill(0);
  }
  return {
    version: CX_WEB_ENVELOPE_VERSION,
    nonce: bytesToBase64Url(nonce),
    encrypted_body: bytesToBase64Url(body),
  };
}

export interface OpenCxResponseOptions {
  readonly sharedSecret: Uint8Array;
  readonly taskId: string;
  readonly envelope: unknown;
}

/** Consumer side: decrypt `iicp_conf_resp`; any failure throws `IICP-E050`. */
export async function openCxResponse(opts: OpenCxResponseOptions): Promise<Uint8Array> {
  const nc = nodeCrypto();
  if (nc) return openResponseNode(nc, opts);
  const { nonce, body } = readCxResponse(opts.envelope);
  const key = responseKey(opts.sharedSecret, nonce, opts.taskId);
  try {
    return await aesGcm('decrypt', key, nonce, cxResponseAad(opts.taskId), body);
  } catch {
    throw e050('CX response could not be decrypted');
  } finally {
    key.fill(0);
  }
}

/**
 * {@link openCxResponse} without a promise, where Node's native crypto serves it: the
 * same plaintext and errors (`IICP-E050`, thrown); `undefined` where it does not
 * (browsers: use {@link openCxResponse}). Saves the promise and microtask turns on a
 * consumer's answer path.
 */
export function openCxResponseSync(opts: OpenCxResponseOptions): Uint8Array | undefined {
  return withNodeCrypto(openResponseNode, opts);
}

/** {@link openCxResponse} in Node's native crypto, synchronously. */
function openResponseNode(nc: NodeCryptoLike, opts: OpenCxResponseOptions): Uint8Array {
  const { nonce, body } = readCxResponse(opts.envelope);
  const key = responseKey(opts.sharedSecret, nonce, opts.taskId);
  try {
    return nodeAesGcm(nc, 'decrypt', key, nonce, cxResponseAad(opts.taskId), body);
  } catch {
    throw e050('CX response could not be decrypted');
  } finally {
    key.fill(0);
  }
}

/** The checks of {@link openCxResponse} before any key work; throws `IICP-E050`. */
function readCxResponse(env: unknown): { nonce: Uint8Array; body: Uint8Array } {
  if (env === null || typeof env !== 'object' || Array.isArray(env)) {
    throw e050('iicp_conf_resp must be an object');
  }
  const e = env as Record<string, unknown>;
  if (e.version !== undefined && e.version !== CX_WEB_ENVELOPE_VERSION) {
    throw e050('CX response envelope version is not supported');
  }
  const nonce = typeof e.nonce === 'string' ? base64UrlToBytes(e.nonce, NONCE_BYTES) : undefined;
  const body =
    typeof e.encrypted_body === 'string' ? base64UrlToBytes(e.encrypted_body) : undefined;
  if (!nonce || !body || body.length < TAG_BYTES) throw e050('CX response could not be decrypted');
  return { nonce, body };
}
