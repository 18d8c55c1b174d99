// A consumer process for the end-to-end journeys: runs one @iicp/client job given as
// JSON in argv[2] and prints JSON lines (attempts, deltas, the result or the error).
// It is a separate process so the journeys use the client exactly as an agent does.
// Plain ESM (.mjs): tools/e2e does not declare @iicp/client as a dependency yet.
import { createClient, isIicpError } from '@iicp/client';

const job = JSON.parse(process.argv[2] ?? '{}');
const say = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);
const client = createClient({
  directoryUrl: job.directoryUrl,
  ...(job.nodeToken ? { nodeToken: job.nodeToken } : {}),
  ...(job.timeoutMs ? { timeoutMs: job.timeoutMs } : {}),
});
const onAttempt = (a) =>
  say({ attempt: { nodeId: a.nodeId ?? null, ok: a.ok, errorCode: a.errorCode ?? null } });
try {
  if (job.op === 'stream') {
    for await (const d of client.stream(job.intent, job.payload, job.constraints ?? {}, {
      onAttempt,
    }))
      say({ delta: { event: d.event, text: d.text ?? null, node_id: d.node_id ?? null } });
    say({ done: true });
  } else {
    const r = await client.call(job.intent, job.payload, job.constraints ?? {}, { onAttempt });
    say({ result: { status: r.status, node_id: r.node_id ?? null, result: r.result } });
  }
} catch (err) {
  say({
    error: isIicpError(err)
      ? { code: err.code, status: err.status ?? null }
      : { code: 'not-an-iicp-error', name: err?.name ?? null },
  });
}
process.exit(0);
