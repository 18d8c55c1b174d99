'use strict';
/**
 * @iicp/aes-gcm-native: one-shot AES-256-GCM through Node's own OpenSSL (src/aes_gcm.c),
 * when the install step could build it. `aesGcm` is the binding, checked at load against
 * node:crypto on a fixed input (seal, open, and a refused tampered tag); `undefined`
 * otherwise, with `unavailableReason` saying why. Callers fall back to node:crypto.
 */
const { createCipheriv } = require('node:crypto');
const { join } = require('node:path');

function check(binding) {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);
  const nonce = Uint8Array.from({ length: 12 }, (_, i) => 255 - i);
  const aad = new TextEncoder().encode('iicp|aad');
  const plaintext = new TextEncoder().encode('{"check":"aes-256-gcm one-shot"}');
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
  cipher.setAAD(aad);
  const want = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  const sealed = binding.seal(key, nonce, aad, plaintext);
  if (!(sealed instanceof Uint8Array) || !want.equals(sealed))
    return 'it disagrees with node:crypto';
  const opened = binding.open(key, nonce, aad, sealed);
  if (!(opened instanceof Uint8Array) || !Buffer.from(plaintext).equals(opened)) {
    return 'it does not open its own output';
  }
  const tampered = sealed.slice();
  tampered[tampered.length - 1] ^= 1;
  if (binding.open(key, nonce, aad, tampered) !== null) return 'it accepts a tampered tag';
  return undefined;
}

let aesGcm;
let unavailableReason;
if (process.env.IICP_AES_GCM_NATIVE === '0') {
  unavailableReason = 'disabled by IICP_AES_GCM_NATIVE=0';
} else {
  let binding;
  try {
    binding = require(join(__dirname, 'build', 'Release', 'iicp_aes_gcm.node'));
  } catch {
    unavailableReason = 'the addon was not built at install (see the package README)';
  }
  if (binding) {
    const wrong = check(binding);
    if (wrong) unavailableReason = `the built addon failed its load check: ${wrong}`;
    else aesGcm = Object.freeze({ seal: binding.seal, open: binding.open });
  }
}

module.exports = { aesGcm, unavailableReason };
