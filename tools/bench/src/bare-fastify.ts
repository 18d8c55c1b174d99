/**
 * The discover baseline: a bare Fastify 5 instance (no plugins, no logger, no hooks)
 * with one GET route answering the JSON object in the file given as argv[2], which
 * Fastify serialises on every request just as the directory's route does.
 *
 * Prints `bare fastify listening on http://127.0.0.1:PORT`.
 */
import { readFileSync } from 'node:fs';
// The baseline must be Fastify itself, not @iicp/http's configured server.
// eslint-disable-next-line no-restricted-imports
import Fastify from 'fastify';

const body = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Record<string, unknown>;
const app = Fastify({ logger: false });
app.get('/v1/discover', async () => body);
const address = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`bare fastify listening on ${address}`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
