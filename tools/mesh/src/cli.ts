#!/usr/bin/env node
/** `npm start`: the local mesh. See MESH_HELP and README.md. */
import { Mesh, readyText } from './mesh.ts';
import { useColour } from './logs.ts';
import { MESH_HELP, MeshUsageError, parseMeshArgs, type MeshOptions } from './options.ts';

async function main(): Promise<number> {
  let opts: MeshOptions | undefined;
  try {
    opts = parseMeshArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof MeshUsageError)) throw err;
    process.stderr.write(`npm start: ${err.message}\n\n${MESH_HELP}`);
    return 2;
  }
  if (!opts) {
    process.stdout.write(MESH_HELP);
    return 0;
  }
  const mesh = new Mesh(opts, {
    write: (t) => process.stdout.write(t),
    colour: useColour(process.stdout, process.env),
  });
  process.once('exit', () => mesh.killAll());
  // A closed pipe (the reader went away) must not crash the mesh before it stops its planes.
  process.stdout.on('error', () => undefined);
  const stopped = new Promise<number>((resolveExit) => {
    const stop = (why: string, code: number): void => {
      mesh.say(
        `${why}: stopping the mesh (proxy, node drains and deregisters, relay, directory) ...`,
      );
      void mesh.stop().then(() => {
        mesh.say('stopped.');
        resolveExit(code);
      });
    };
    // `on`, not `once`: one Ctrl-C can arrive twice (from the terminal and relayed by
    // tsx), and a second default-handled SIGINT would kill the mesh before its planes.
    let signalled = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (signalled) return;
      signalled = true;
      stop(sig, 0);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    mesh.onUnexpectedExit((plane, code) => stop(`${plane} exited (code ${code})`, 1));
  });
  mesh.say(`starting ${opts.planes.join(', ')} (data under ${opts.dataDir}) ...`);
  try {
    const info = await mesh.start();
    mesh.say(readyText(info, opts.dataDir));
  } catch (err) {
    mesh.say(`start failed: ${(err as Error).message}`);
    await mesh.stop();
    return 1;
  }
  return stopped;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`npm start: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
