'use strict';
/**
 * @iicp/cx-native: AES-256-GCM seal and open and HKDF-SHA256 in one call each, through
 * Node's own OpenSSL (src/cx_native.c), when the install step could build the addon.
 * `cxNative` is the binding, checked at load against node:crypto on fixed inputs (a seal,
 * its open, a refused tampered tag, an HKDF); `undefined` otherwise, with
 * `unavailableReason` saying why. Callers fall back to node:crypto and JS HKDF.
 */
const { createCipheriv, hkdfSync } = require('node:crypto');
const { join } = require('node:path');

function check(binding) {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
  const nonce = Uint8Array.from({ length: 12 }, (_, i) => 255 - i);
  const aad = new TextEncoder().encode('iicp|aad');
  const plaintext = new TextEncoder().encode('{"check":"aes-256-gcm one-shot"}');
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
  cipher.setAAD(aad);
  const want = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  const sealed = binding.aesGcmSeal(key, nonce, aad, plaintext);
  if (!(sealed instanceof Uint8Array) || !want.equals(sealed)) {
    return 'its AES-GCM disagrees with node:crypto';
  }
  const opened = binding.aesGcmOpen(key, nonce, aad, sealed);
  if (!(opened instanceof Uint8Array) || !Buffer.from(plaintext).equals(opened)) {
    return 'its AES-GCM does not open its own output';
  }
  const tampered = sealed.slice();
  tampered[tampered.length - 1] ^= 1;
  if (binding.aesGcmOpen(key, nonce, aad, tampered) !== null) return 'it accepts a tampered tag';
  const okm = binding.hkdfSha256(key, nonce, aad);
  const wantOkm = Buffer.from(hkdfSync('sha256', key, nonce, aad, 32));
  if (!(okm instanceof Uint8Array) || !wantOkm.equals(okm)) {
    return 'its HKDF disagrees with node:crypto';
  }
  return undefined;
}

let cxNative;
let unavailableReason;
if (process.env.IICP_CX_NATIVE === '0') {
  unavailableReason = 'disabled by IICP_CX_NATIVE=0';
} else {
  let binding;
  try {
    binding = require(join(__dirname, 'build', 'Release', 'iicp_cx_native.node'));
  } catch {
    unavailableReason = 'the addon was not built at install (see the package README)';
  }
  if (binding) {
    let wrong;
    try {
      wrong = check(binding);
    } catch (err) {
      wrong = `it threw (${err instanceof Error ? err.message : String(err)})`;
    }
    if (wrong) unavailableReason = `the built addon failed its load check: ${wrong}`;
    else {
      cxNative = Object.freeze({
        aesGcmSeal: binding.aesGcmSeal,
        aesGcmOpen: binding.aesGcmOpen,
        hkdfSha256: binding.hkdfSha256,
      });
    }
  }
}

module.exports = { cxNative, unavailableReason };
