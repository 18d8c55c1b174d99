/**
 * Crypto on the hot paths: Ed25519 consumer-token verification (what a node does per
 * CALL that carries one), raw Ed25519 signature checks, and node-token checks — bcrypt
 * (cost 10, the directory's default) against the verified-token cache that heartbeats
 * and other authenticated calls hit in steady state; and the directory's Ed25519 signing
 * (every event, token and ticket it issues). Fixed keys and tokens.
 *
 * Run: npm run bench:crypto [-- --quick]
 */
import {
  DirectoryKey,
  NodeTokenCache,
  ed25519Verify,
  hashNodeToken,
  issueConsumerToken,
  verifyConsumerToken,
  verifyNodeToken,
  verifyNodeTokenHash,
} from '@iicp/crypto';
import { emitResult, fmtInt, machineLine, parseArgs, table, type ResultRow } from './harness.ts';

const args = parseArgs();
const MS = args.quick ? 100 : 1_500;

async function opsPerSec(fn: () => unknown, ms = MS): Promise<number> {
  for (let i = 0; i < 20; i++) await fn();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    await fn();
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

const key = DirectoryKey.fromHex('11'.repeat(32));
const nodeId = 'b0000000-0000-4000-8000-000000000001';
const intent = 'urn:iicp:intent:llm:chat:v1';
const { token: consumerToken } = issueConsumerToken({
  signer: key,
  issuer: 'https://directory.bench.invalid',
  callerNodeId: 'b0000000-0000-4000-8000-000000000002',
  targetNodeId: nodeId,
  intent,
  ttlSeconds: 3600,
});
const message = new TextEncoder().encode('x'.repeat(200));
const signature = key.sign(message);
const nodeToken = 'ab'.repeat(32);
const storedHash = await hashNodeToken(nodeToken, 10);
const cache = new NodeTokenCache();
if (!(await verifyNodeToken(nodeToken, nodeId, storedHash, cache))) throw new Error('bad hash');

const results: [string, number][] = [
  [
    'consumer token verify (Ed25519, claims checked)',
    await opsPerSec(() => {
      const r = verifyConsumerToken(consumerToken, {
        directoryPublicKey: key.publicKey,
        nodeId,
        intent,
      });
      if (!r.ok) throw new Error(r.reason);
    }),
  ],
  [
    'Ed25519 verify, 200 B message',
    await opsPerSec(() => ed25519Verify(signature, message, key.publicKey)),
  ],
  [
    'node token: bcrypt verify (cost 10)',
    await opsPerSec(() => verifyNodeTokenHash(nodeToken, storedHash)),
  ],
  [
    'node token: verified-token cache hit',
    await opsPerSec(() => verifyNodeToken(nodeToken, nodeId, storedHash, cache)),
  ],
];
// Appended last so the bcrypt row keeps its index (the "vs bcrypt" column's base).
results.push([
  'Ed25519 sign, 200 B message (directory key)',
  await opsPerSec(() => key.sign(message)),
]);
const bcrypt = results[2]![1];
const rows: ResultRow[] = results.map(([name, v]) => ({ name, ops_per_s: Math.round(v) }));
console.log(machineLine());
if (args.quick) console.log('(quick smoke run: numbers are not meaningful)');
console.log('');
console.log(
  table(
    ['Operation (one core, sequential)', 'ops/s', 'µs/op', 'vs bcrypt'],
    results.map(([name, v]) => [
      name,
      fmtInt(v),
      (1e6 / v).toFixed(1),
      `${Math.round(v / bcrypt).toLocaleString('en-US')}×`,
    ]),
  ),
);
console.log('');
emitResult('crypto', args, rows);
