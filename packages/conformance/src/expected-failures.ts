/** The package's own expected-failures list, for our apps' conformance tests. */
import { readFileSync } from 'node:fs';
import type { ExpectedFailures } from './run.ts';

export function loadExpectedFailures(
  url: URL = new URL('../expected-failures.json', import.meta.url),
): ExpectedFailures {
  return JSON.parse(readFileSync(url, 'utf8')) as ExpectedFailures;
}
