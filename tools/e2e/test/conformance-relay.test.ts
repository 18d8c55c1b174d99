import { randomUUID } from 'node:crypto';
import {
  checkExpectations,
  createBindTicketIssuer,
  loadExpectedFailures,
  runSuite,
} from '@iicp/conformance';
import { afterAll, describe, expect, it } from 'vitest';
import { startApp, type AppProcess } from '../src/index.ts';

/*
 * The relay conformance suite of @iicp/conformance (project IICP-RELAY-* checks plus
 * the shared leak checks) against the real iicp-relay process, with bind tickets
 * required. The relay pins a directory key this test holds, so the test can issue the
 * bind tickets a directory would (createBindTicketIssuer) (iicp-dir.md §7.4); the relay's registration with a
 * real directory is covered by relay-node.test.ts.
 */
describe('conformance: relay suite against iicp-relay', () => {
  let relay: AppProcess | undefined;

  afterAll(async () => {
    // Shutdown is tested in apps/relay; SIGKILL keeps this suite from waiting on its drain.
    relay?.kill('SIGKILL');
    await relay?.exited();
  });

  it('passes every check not listed in expected-failures.json, tickets included', async () => {
    const tickets = createBindTicketIssuer();
    const run = await runSuite('relay', {
      async setup() {
        relay = startApp('relay', [
          ...['serve', '--port', '0', '--log-level', 'warn'],
          ...['--directory-key', tickets.publicKeyHex],
        ]);
        const target = (
          await relay.waitFor(/iicp-relay listening on (http:\/\/127\.0\.0\.1:\d+)/)
        )[1]!;
        return {
          target,
          fixture: {
            nodeId: `conformance-${randomUUID()}`,
            bindTicket: tickets.bindTicket,
          },
        };
      },
    });
    const report = checkExpectations(run, loadExpectedFailures());
    const failures = run.results
      .filter((r) => report.unexpectedFailures.includes(r.id))
      .map((r) => `${r.id}: ${r.message}`);
    expect(failures).toEqual([]);
    expect(report.fixedButListed).toEqual([]);
    expect(run.results.filter((r) => r.outcome === 'skip').map((r) => r.id)).toEqual([]);
    expect(run.results.map((r) => r.id)).toEqual(
      expect.arrayContaining([
        'IICP-RELAY-FWD-01',
        'IICP-RELAY-SESS-01',
        'IICP-RELAY-TICKET-01',
        'IICP-RELAY-TICKET-02',
        'SEC-LEAK-01',
      ]),
    );
  });
});
