/**
 * Peer audit reports `POST /api/v1/audit-report` (iicp-dir.md §3.9; iicp-semantics.md
 * §11.5, §11.8; spec/decisions.md D-029). Bearer node_token of the reporter. One
 * report per (reporter, target) per 24 h (429 `rate_limited`), at most two distinct
 * eligible reporters per target per 24 h contribute integrity evidence, ineligible or
 * over-cap reports are acknowledged (202) and marked suppressed. A report never changes
 * outcome-v2 reputation; each one is a local `AUDIT_REPORT` event.
 */
import { IicpProtocolError, parseWire } from '@iicp/wire';
import type { FastifyInstance, FastifyReply, FastifyRequest } from '@iicp/http';
import { z } from 'zod';
import { reporterEligible } from '../accounting.ts';
import { authedNode, requireNode, type DirectoryContext } from '../context.ts';

/** Audit report body (iicp-dir.md §3.9). v1 knows one finding. */
export const AuditReportSchema = z.looseObject({
  target_node_id: z
    .string()
    .max(36)
    .regex(/^[a-zA-Z0-9][a-zA-Z0-9._:-]*$/, { message: 'target_node_id has invalid characters' }),
  finding: z.enum(['declaration_divergence']),
});
export type AuditReport = z.infer<typeof AuditReportSchema>;

async function auditReport(
  ctx: DirectoryContext,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<Record<string, unknown>> {
  const reporter = authedNode(req);
  const a = parseWire(AuditReportSchema, req.body);
  if (a.target_node_id === reporter.nodeId) {
    throw new IicpProtocolError('invalid_target', 'a node cannot report on itself', {
      details: { field: 'target_node_id' },
    });
  }
  const target = await ctx.store.get(a.target_node_id);
  if (!target) throw new IicpProtocolError('not_found', 'unknown target_node_id');
  const now = ctx.now();
  const r = await ctx.accounting.store.recordAudit({
    reporter: reporter.nodeId,
    target: target.nodeId,
    finding: a.finding,
    eligible: reporterEligible(ctx.accounting, reporter, now),
    now,
  });
  if (!r) {
    throw new IicpProtocolError(
      'rate_limited',
      'one audit report per reporter and target per 24 hours',
      { details: { reason: 'rate_limited' } },
    );
  }
  void reply.code(202).header('cache-control', 'no-store');
  return { accepted: true, integrity_evidence_accepted: r.accepted, suppressed: r.suppressed };
}

export function auditRoutes(app: FastifyInstance, ctx: DirectoryContext): void {
  app.post('/audit-report', { onRequest: requireNode(ctx) }, (req, reply) =>
    auditReport(ctx, req, reply),
  );
}
