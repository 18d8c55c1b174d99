'use strict';
/**
 * Install step of @iicp/cx-native: compile src/cx_native.c with node-gyp against the
 * headers of the Node that runs this script, and never fail the install. Without a
 * compiler, without Node's headers beside it (nothing is downloaded), or with
 * IICP_CX_NATIVE=0, nothing is built and @iicp/crypto keeps using node:crypto and its
 * JS HKDF, which give the same bytes, only more slowly.
 */
const { spawnSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { dirname, join } = require('node:path');

const root = join(__dirname, '..');

function say(line) {
  console.log(`@iicp/cx-native: ${line}`);
}

function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  const npmCli = process.env.npm_execpath;
  if (npmCli) {
    const bundled = join(dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(bundled)) return bundled;
  }
  // The node-gyp that ships inside npm, beside this Node (a run outside npm).
  const beside = join(
    dirname(dirname(process.execPath)),
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
  if (existsSync(beside)) return beside;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return undefined;
  }
}

function nodeHeaders() {
  const candidates = [
    process.env.npm_config_nodedir,
    join(dirname(dirname(process.execPath))),
  ].filter(Boolean);
  return candidates.find((dir) => existsSync(join(dir, 'include', 'node', 'node_api.h')));
}

function main() {
  if (process.env.IICP_CX_NATIVE === '0') {
    say('not built (IICP_CX_NATIVE=0); IICP-CX uses node:crypto and JS HKDF');
    return;
  }
  const gyp = nodeGyp();
  const headers = nodeHeaders();
  if (!gyp || !headers) {
    say(
      `not built (${gyp ? 'no Node headers beside this Node; nothing is downloaded' : 'node-gyp not found'}); ` +
        'IICP-CX uses node:crypto and JS HKDF',
    );
    return;
  }
  const run = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${headers}`], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, npm_config_nodedir: headers },
  });
  if (run.status === 0 && existsSync(join(root, 'build', 'Release', 'iicp_cx_native.node'))) {
    say('built the AES-256-GCM and HKDF-SHA256 addon');
    return;
  }
  const detail = `${run.stderr || ''}${run.error ? String(run.error) : ''}`
    .trim()
    .split('\n')
    .slice(-3)
    .join(' | ');
  say(
    `not built (node-gyp failed: ${detail || `exit ${run.status}`}); IICP-CX uses node:crypto and JS HKDF`,
  );
}

try {
  main();
} catch (err) {
  say(`not built (${err instanceof Error ? err.message : String(err)}); IICP-CX uses node:crypto`);
}
