import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  GENERATED_TS_FILE,
  REGISTRY_FILE,
  SCHEMAS_DIR,
  generateRegistry,
  renderRegistryFiles,
} from '../src/generate-registry.ts';
import { repoRoot } from '../src/workspace.ts';

describe('generated registry files', () => {
  it('are up to date (npm run registry:generate)', async () => {
    const r = await generateRegistry({ check: true });
    expect(r.changed).toEqual([]);
    expect({ stale: r.stale, orphaned: r.orphaned }).toEqual({ stale: [], orphaned: [] });
  });

  it('cover the typed module, the format schema and every referenced payload schema', async () => {
    const files = (await renderRegistryFiles()).map((f) => f.path);
    expect(files).toContain(GENERATED_TS_FILE);
    expect(files).toContain('registry/intents.schema.json');
    const doc = JSON.parse(fs.readFileSync(path.join(repoRoot, REGISTRY_FILE), 'utf8'));
    for (const e of doc.intents) {
      expect(files).toContain(`registry/${e.schemas.input}`);
      expect(files).toContain(`registry/${e.schemas.output}`);
    }
  });

  // A scratch copy shows the check can fail: it catches edits, missing and stray files.
  describe('on a scratch copy', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iicp-registry-'));
    afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
    // Copy the prettier config too, so formatting resolves as in the repository.
    for (const rel of [REGISTRY_FILE, '.prettierrc.json']) {
      fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
      fs.copyFileSync(path.join(repoRoot, rel), path.join(tmp, rel));
    }

    it('reports stale and stray files in check mode and fixes them in write mode', async () => {
      const first = await generateRegistry({ root: tmp, check: true });
      expect(first.stale).toContain(GENERATED_TS_FILE);
      expect(fs.existsSync(path.join(tmp, GENERATED_TS_FILE))).toBe(false);

      const written = await generateRegistry({ root: tmp });
      expect(written.changed.length).toBeGreaterThan(0);
      expect(await generateRegistry({ root: tmp, check: true })).toEqual({
        stale: [],
        orphaned: [],
        changed: [],
      });
      // Same output as the committed files: generation is deterministic.
      for (const rel of written.changed) {
        expect(fs.readFileSync(path.join(tmp, rel), 'utf8')).toBe(
          fs.readFileSync(path.join(repoRoot, rel), 'utf8'),
        );
      }

      fs.appendFileSync(path.join(tmp, SCHEMAS_DIR, 'llm-chat-v1-input.json'), ' ');
      fs.writeFileSync(path.join(tmp, SCHEMAS_DIR, 'stray.json'), '{}\n');
      const dirty = await generateRegistry({ root: tmp, check: true });
      expect(dirty.stale).toEqual([`${SCHEMAS_DIR}/llm-chat-v1-input.json`]);
      expect(dirty.orphaned).toEqual([`${SCHEMAS_DIR}/stray.json`]);

      await generateRegistry({ root: tmp });
      expect(fs.existsSync(path.join(tmp, SCHEMAS_DIR, 'stray.json'))).toBe(false);
    });

    it('refuses a registry whose schema references disagree with the payload contracts', async () => {
      const file = path.join(tmp, REGISTRY_FILE);
      const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
      doc.intents[0].schemas.input = 'schemas/open-input.json';
      fs.writeFileSync(file, JSON.stringify(doc));
      await expect(renderRegistryFiles(tmp)).rejects.toThrow(/schemas\.input should be/);
    });
  });
});
