import { describe, expect, it } from 'vitest';
import {
  checkEdge,
  findUndeclaredImports,
  findViolations,
  packageNameOf,
} from '../src/topology.ts';
import { listProjects } from '../src/workspace.ts';

describe('dependency direction', () => {
  const projects = listProjects();
  const get = (name: string) => {
    const p = projects.find((x) => x.name === name);
    if (!p) throw new Error(`no project ${name}`);
    return p;
  };

  it('finds every package and app DESIGN.md names, each with a layer tag', () => {
    const names = projects.map((p) => p.name);
    for (const n of ['wire', 'codec', 'crypto', 'scoring', 'http', 'client', 'conformance']) {
      expect(names).toContain(`@iicp/${n}`);
    }
    for (const n of ['directory', 'node', 'relay', 'proxy']) expect(names).toContain(`@iicp/${n}`);
    for (const p of projects) expect(p.tags.some((t) => t.startsWith('layer:'))).toBe(true);
  });

  it('the workspace as it stands has no violation', () => {
    expect(findViolations()).toEqual([]);
  });

  it('rejects the edges DESIGN.md forbids', () => {
    expect(checkEdge(get('@iicp/wire'), get('@iicp/crypto'))).toMatch(/may not depend/);
    expect(checkEdge(get('@iicp/codec'), get('@iicp/wire'))).toMatch(/may not depend/);
    expect(checkEdge(get('@iicp/crypto'), get('@iicp/scoring'))).toMatch(/may not depend/);
    expect(checkEdge(get('@iicp/http'), get('@iicp/client'))).toMatch(/may not depend/);
    expect(checkEdge(get('@iicp/proxy'), get('@iicp/directory'))).toMatch(
      /no app imports another app/,
    );
    expect(checkEdge(get('@iicp/wire'), get('@iicp/directory'))).toMatch(/may not depend/);
  });

  it('allows the edges DESIGN.md intends', () => {
    expect(checkEdge(get('@iicp/crypto'), get('@iicp/wire'))).toBeUndefined();
    expect(checkEdge(get('@iicp/crypto'), get('@iicp/codec'))).toBeUndefined();
    expect(checkEdge(get('@iicp/client'), get('@iicp/http'))).toBeUndefined();
    expect(checkEdge(get('@iicp/directory'), get('@iicp/http'))).toBeUndefined();
    expect(checkEdge(get('@iicp/conformance'), get('@iicp/client'))).toBeUndefined();
  });

  it('every third-party import of shipped sources is declared by its project', () => {
    expect(findUndeclaredImports()).toEqual([]);
  });

  it('names packages from specifiers', () => {
    expect(packageNameOf('@noble/curves/ed25519.js')).toBe('@noble/curves');
    expect(packageNameOf('zod')).toBe('zod');
    expect(packageNameOf('kysely/helpers/postgres')).toBe('kysely');
  });
});
