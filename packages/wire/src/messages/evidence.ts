import { z } from 'zod';

/**
 * Release evidence documents (not protocol messages): schemas/ecosystem-version-truth-v1.json
 * and schemas/release-candidate-evidence-v1.json. Both JSON Schemas are closed
 * (`additionalProperties: false`), so these are strict objects.
 */

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const dateTime = z.iso.datetime({ offset: true });

/** Observation status (ecosystem-version-truth-v1 `$defs.status`). */
export const EvidenceStatusSchema = z.enum(['observed', 'stale', 'unavailable']);

/** A released component (ecosystem-version-truth-v1 `$defs.component`). */
export const VersionTruthComponentSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/),
  version: z.string().min(1).max(64),
  lifecycle: z.string().min(1).max(64),
});

const observationShape = {
  status: EvidenceStatusSchema,
  observed_at: dateTime.nullable(),
  evidence: z.url().max(2048).nullable(),
  limitations: z.array(z.string().min(1).max(500)).max(16),
};

const components = z.array(VersionTruthComponentSchema).min(1);

const deploymentData = z
  .strictObject({
    deployment: z.string().min(1).max(128),
    components,
    deployment_record: z.url().max(2048).optional(),
    deployment_record_digest: z
      .string()
      .regex(/^sha256:[0-9a-f]{64}$/)
      .optional(),
  })
  .refine(
    (d) => (d.deployment_record === undefined) === (d.deployment_record_digest === undefined),
    {
      message: 'deployment_record and deployment_record_digest go together',
      path: ['deployment_record_digest'],
    },
  );

const adoptionData = z.strictObject({
  population: z.string().min(1).max(200),
  sample_size: z.int().nonnegative(),
  groups: z.array(
    z.strictObject({
      implementation: z.string().min(1).max(64),
      version: z.string().min(1).max(64),
      count: z.int().min(1),
    }),
  ),
});

/** Three-axis ecosystem version truth (schemas/ecosystem-version-truth-v1.json). */
export const EcosystemVersionTruthSchema = z.strictObject({
  schema: z.literal('iicp.ecosystem-version-truth.v1'),
  generated_at: dateTime,
  content_free: z.literal(true),
  published_release: z.strictObject({
    ...observationShape,
    data: z.strictObject({ components }).nullable(),
  }),
  deployed_release: z.strictObject({ ...observationShape, data: deploymentData.nullable() }),
  observed_adoption: z.strictObject({ ...observationShape, data: adoptionData.nullable() }),
});
export type EcosystemVersionTruth = z.infer<typeof EcosystemVersionTruthSchema>;

/** Release-candidate evidence (schemas/release-candidate-evidence-v1.json). */
export const ReleaseCandidateEvidenceSchema = z.strictObject({
  schema: z.literal('iicp.release-candidate-evidence.v1'),
  candidate_id: z.string().min(1).max(128),
  generated_at: dateTime,
  state: z.literal('candidate'),
  overall_status: z.enum(['pass', 'fail']),
  published: z.literal(false),
  components: z
    .array(
      z.strictObject({
        id: z.string().min(1),
        repository: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/),
        commit: z.string().regex(/^[0-9a-f]{40}$/),
        version: z.string().min(1),
        worktree_clean: z.boolean(),
        checks: z
          .array(z.strictObject({ name: z.string().min(1), status: z.enum(['pass', 'fail']) }))
          .min(1),
        artifacts: z.array(
          z.strictObject({
            name: z.string().min(1),
            sha256: sha256Hex,
            second_build_sha256: sha256Hex,
            byte_equivalent: z.boolean(),
          }),
        ),
      }),
    )
    .min(1),
  review_checkpoint: z.strictObject({
    required: z.boolean(),
    status: z.enum(['pending', 'approved', 'not_required']),
  }),
});
export type ReleaseCandidateEvidence = z.infer<typeof ReleaseCandidateEvidenceSchema>;
