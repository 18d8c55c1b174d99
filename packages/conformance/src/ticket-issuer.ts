/**
 * A stand-in directory for relay ticket checks (iicp-dir.md §7.4): a fresh directory
 * key whose public half the relay under test is given (ours: `--directory-key`), and
 * bind tickets signed with it. For relays tested on their own, without a directory.
 */
import { DirectoryKey, issueRelayBindTicket } from '@iicp/crypto';

export interface BindTicketIssuer {
  /** The Ed25519 public key (hex) the relay must trust as the directory's. */
  readonly publicKeyHex: string;
  /** A fresh ticket (new `jti`) for `workerId`. */
  bindTicket(workerId: string): Promise<string>;
}

export function createBindTicketIssuer(issuer = 'iicp-conformance'): BindTicketIssuer {
  const key = DirectoryKey.generate();
  return {
    publicKeyHex: key.publicKeyHex,
    bindTicket: async (nodeId) => issueRelayBindTicket({ signer: key, issuer, nodeId }).ticket,
  };
}
