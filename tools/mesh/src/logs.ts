/**
 * Prefixed, readable log lines for the mesh's children. Pino JSON lines become
 * `12:00:01 INFO message key=value`; anything else passes through as it is. Colour only
 * when the output is a terminal and NO_COLOR is unset (https://no-color.org).
 */
import type { Readable } from 'node:stream';

const COLOURS: Readonly<Record<string, number>> = {
  directory: 36, // cyan
  relay: 35, // magenta
  node: 32, // green
  proxy: 33, // yellow
  mesh: 1, // bold
};

const LEVELS: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

/** Fields pino adds that say nothing to a person reading the mesh's output. */
const NOISE = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'reqId', 'v']);

export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

function brief(v: unknown): string {
  if (typeof v === 'string') return /\s/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** One child's output line, made readable. */
export function formatLine(line: string): string {
  const t = line.trim();
  if (!t.startsWith('{')) return line;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(t) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof rec.level !== 'number' || typeof rec.msg !== 'string') return line;
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 19) : '';
  const extra = Object.entries(rec)
    .filter(([k]) => !NOISE.has(k))
    .map(([k, v]) => `${k}=${brief(v)}`)
    .join(' ');
  return `${time} ${LEVELS[rec.level] ?? rec.level} ${rec.msg}${extra ? ` ${extra}` : ''}`;
}

export function prefixFor(name: string, colour: boolean, width = 9): string {
  const label = `[${name}]`.padEnd(width + 2);
  return colour ? `\u001b[${COLOURS[name] ?? 0}m${label}\u001b[0m` : label;
}

/** Pipe a child's stream to `write`, line by line, prefixed and formatted. */
export function pipeLines(
  stream: Readable,
  name: string,
  colour: boolean,
  write: (text: string) => void,
  onLine?: (line: string) => void,
): void {
  let buf = '';
  const prefix = prefixFor(name, colour);
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      onLine?.(line);
      if (line.trim() !== '') write(`${prefix} ${formatLine(line)}\n`);
    }
  });
  stream.on('end', () => {
    if (buf.trim() !== '') {
      onLine?.(buf);
      write(`${prefix} ${formatLine(buf)}\n`);
    }
    buf = '';
  });
}
