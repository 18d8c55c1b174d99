/**
 * A record of the registered route patterns, so that a request fastify could not
 * route can be told apart: 405 when the path exists under another method, 404
 * otherwise. fastify itself answers both with 404.
 */

const REGEX_SPECIALS = /[.*+?^${}()|[\]\\]/g;

/** Compile a find-my-way pattern (`/v1/nodes/:id`, `:id(^\\d+)`, `*`) to a RegExp. */
export function patternToRegExp(pattern: string): RegExp {
  let re = '';
  let i = 0;
  while (i < pattern.length) {
    const c = pattern[i] as string;
    if (c === ':' && pattern[i + 1] === ':') {
      re += ':';
      i += 2;
      continue;
    }
    if (c === ':') {
      let j = i + 1;
      while (j < pattern.length && /[A-Za-z0-9_$]/.test(pattern[j] as string)) j++;
      if (pattern[j] === '(') {
        let depth = 0;
        let k = j;
        for (; k < pattern.length; k++) {
          if (pattern[k] === '\\') {
            k++;
            continue;
          }
          if (pattern[k] === '(') depth++;
          else if (pattern[k] === ')' && --depth === 0) break;
        }
        const inner = pattern
          .slice(j + 1, k)
          .replace(/^\^/, '')
          .replace(/\$$/, '');
        re += `(?:${inner})`;
        i = k + 1;
      } else {
        re += '[^/]+';
        i = j;
      }
      continue;
    }
    if (c === '*') {
      re += '.*';
      i++;
      continue;
    }
    re += c.replace(REGEX_SPECIALS, '\\$&');
    i++;
  }
  return new RegExp(`^${re}/?$`);
}

export class RouteTable {
  readonly #routes: { re: RegExp; methods: Set<string> }[] = [];
  readonly #byPattern = new Map<string, { re: RegExp; methods: Set<string> }>();

  add(pattern: string, methods: string | readonly string[]): void {
    let entry = this.#byPattern.get(pattern);
    if (!entry) {
      let re: RegExp;
      try {
        re = patternToRegExp(pattern);
      } catch {
        return; // an exotic pattern we cannot mirror only loses its 405
      }
      entry = { re, methods: new Set() };
      this.#byPattern.set(pattern, entry);
      this.#routes.push(entry);
    }
    for (const m of typeof methods === 'string' ? [methods] : methods) {
      entry.methods.add(m.toUpperCase());
      if (m.toUpperCase() === 'GET') entry.methods.add('HEAD');
    }
  }

  /** Methods registered for a concrete path, sorted; empty when none matches. */
  allowedMethods(path: string): string[] {
    const out = new Set<string>();
    for (const r of this.#routes) if (r.re.test(path)) for (const m of r.methods) out.add(m);
    return [...out].sort();
  }
}
