import {
  checkExpectations,
  loadExpectedFailures,
  runSuite,
  startProxyMesh,
} from '@iicp/conformance';
import type { ProxyMesh } from '@iicp/conformance';
import { afterAll, describe, expect, it } from 'vitest';
import { startApp, type AppProcess } from '../src/index.ts';

/*
 * The proxy conformance suite (conformance-test-suite.md §5) against the real
 * iicp-proxy process, pointed at the harness's scripted directory and nodes so that
 * every routing decision is visible. A short per-attempt timeout keeps the
 * PROXY-TIMEOUT checks quick (the scripted nodes hold for the CALL's timeout_ms). The
 * scripted nodes advertise no IICP-CX key, which the client refuses by default, so the
 * proxy runs with --allow-plaintext.
 */
describe('conformance: proxy suite against iicp-proxy', () => {
  let proxy: AppProcess | undefined;
  let mesh: ProxyMesh | undefined;

  afterAll(async () => {
    proxy?.kill('SIGTERM');
    await proxy?.exited();
    await mesh?.close();
  });

  it('passes every check not listed in expected-failures.json', async () => {
    const run = await runSuite('proxy', {
      async setup() {
        mesh = await startProxyMesh();
        proxy = startApp(
          'proxy',
          [
            'serve',
            '--port',
            '0',
            '--log-level',
            'warn',
            '--timeout-ms',
            '1000',
            '--allow-plaintext',
          ],
          { IICP_PROXY_DIRECTORY_URL: mesh.directoryUrl, IICP_PROXY_OPERATOR_TOKEN: 'e2e-token' },
        );
        const target = (
          await proxy.waitFor(/iicp-proxy listening on (http:\/\/127\.0\.0\.1:\d+)/)
        )[1]!;
        return { target, fixture: { proxyMesh: mesh } };
      },
    });
    const report = checkExpectations(run, loadExpectedFailures());
    const failures = run.results
      .filter((r) => report.unexpectedFailures.includes(r.id))
      .map((r) => `${r.id}: ${r.message}`);
    expect(failures).toEqual([]);
    expect(report.fixedButListed).toEqual([]);
    expect(run.summary.skipped).toBe(0);
    expect(run.results.map((r) => r.id)).toEqual(
      expect.arrayContaining([
        'PROXY-ROUTE-03',
        'PROXY-ERR-01',
        'PROXY-ERR-02',
        'PROXY-TIMEOUT-02',
      ]),
    );
  });
});
