/** Checks every role shares: they scan the exchanges the suite's other checks made. */
import { expectThat, INTERNAL_PATH_PATTERN, STACK_TRACE_PATTERN } from '../expect.ts';
import type { Check, CheckContext, Role } from '../types.ts';

function withBodies(ctx: CheckContext) {
  expectThat(ctx.exchanges.length > 0, 'no exchange to scan (run the whole suite)');
  return ctx.exchanges.filter((e) => e.text !== '');
}

/** PROTO-MSG-05, SEC-LEAK-01, SEC-LEAK-02 (and NODE-TASK-08 for nodes): run last. */
export function leakChecks(role: Role): Check[] {
  const checks: Check[] = [
    {
      id: 'PROTO-MSG-05',
      title: 'every response body is served as application/json',
      async run(ctx) {
        const bad = withBodies(ctx).filter(
          (e) => !/^application\/json\b/i.test(e.headers.get('content-type') ?? ''),
        );
        expectThat(bad.length === 0, `${bad.length} response(s) not application/json`);
      },
    },
    {
      id: 'SEC-LEAK-01',
      title: 'no response carries a stack trace',
      async run(ctx) {
        const bad = withBodies(ctx).filter((e) => STACK_TRACE_PATTERN.test(e.text));
        expectThat(bad.length === 0, `${bad.length} response(s) carry a stack trace`);
      },
    },
    {
      id: 'SEC-LEAK-02',
      title: 'no response carries an internal file path',
      async run(ctx) {
        const bad = withBodies(ctx).filter((e) => INTERNAL_PATH_PATTERN.test(e.text));
        expectThat(bad.length === 0, `${bad.length} response(s) carry an internal path`);
      },
    },
  ];
  if (role === 'node')
    checks.push({
      id: 'NODE-TASK-08',
      title: 'task responses never expose internal file paths',
      async run(ctx) {
        const bad = withBodies(ctx).filter((e) => INTERNAL_PATH_PATTERN.test(e.text));
        expectThat(bad.length === 0, `${bad.length} response(s) carry an internal path`);
      },
    });
  return checks;
}
