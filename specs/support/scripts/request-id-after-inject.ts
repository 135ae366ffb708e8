// The first request of a process, injected: hapi enters its request context from the caller's own
// async context, which keeps it. Prints the request-id of the refresh that request caused and of the
// one a write made afterwards by the script itself caused (which must have none).
import { drainBroadcasts } from '../../../lib/turbo/index.ts';
import { parseTurboStreams } from '../../../lib/turbo/parse.ts';
import { createFixture } from '../fixture.ts';

const fixture = await createFixture({ transport: 'memory', broadcastsRefreshes: { topic: true }, refresh: { debounce: 0 } });
fixture.server.route({ method: 'POST', path: '/topics', handler: async () => {

    await fixture.Topic.create({ title: 'by a request' });
    return null;
} });

await fixture.server.initialize();
const seen: (string | null)[] = [];
fixture.server.turbo.observe({ broadcast: (record) => seen.push(parseTurboStreams(record.html)[0]?.attributes['request-id'] ?? null) });

await fixture.server.inject({ method: 'POST', url: '/topics', headers: { 'x-turbo-request-id': 'req-1' } });
await drainBroadcasts();
await fixture.Topic.create({ title: 'by the script' });
await drainBroadcasts();
await fixture.close();
process.stdout.write(`${JSON.stringify(seen)}\n`);
