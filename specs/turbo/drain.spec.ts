import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';

import { drainBroadcasts } from '../../lib/turbo/drain.ts';
import { TurboStream } from '../../lib/turbo/fragment.ts';
import type { MemoryTransport } from '../../lib/turbo/index.ts';
import { parseTurboStreams } from '../../lib/turbo/parse.ts';
import { createFixture, type Fixture } from '../support/fixture.ts';

// drainBroadcasts() knows no server: it finds every hapi-turbo server of the process itself. Two
// servers here, each with its own database, a refresh that would wait a minute and a broadcast
// whose template is read from disk.


describe('drainBroadcasts()', () => {

    const fixtures: Fixture[] = [];

    const server = async function () {

        const fixture = await createFixture({ transport: 'memory', broadcastsRefreshes: { topic: true }, refresh: { debounce: 60_000 } });
        fixtures.push(fixture);
        await fixture.server.initialize();
        return fixture;
    };

    const published = (fixture: Fixture) => (fixture.server.turbo.transport as MemoryTransport).published
        .map((record) => [record.stream, ...parseTurboStreams(record.html).map((element) => element.action)]);

    afterEach(async () => {

        await Promise.all(fixtures.splice(0).map((fixture) => fixture.close()));
    });

    it('sends the debounced refreshes and waits for the broadcasts under way, on every server of the process', async () => {

        const servers = [await server(), await server()];
        const topics = await Promise.all(servers.map((fixture) => fixture.Topic.create({ title: 'News' })));
        for (const fixture of servers) {
            void fixture.server.turbo.broadcast('audit', TurboStream.append({ id: 'audit' }, { template: 'blog/post', context: { post: { id: 1, body: 'written' } } }));
        }

        assert.deepEqual(servers.map(published), [[], []], 'the refreshes wait for their minute, the broadcasts for their template');
        await drainBroadcasts();
        // Two streams: which is published first is not specified
        assert.deepEqual(servers.map((fixture) => published(fixture).sort()), topics.map((topic) => [['audit', 'append'], [topic.stream.name, 'refresh']]));
    });

    it('returns within the turn when no server has anything pending, or there is no server', async () => {

        // Before anything the drain itself could schedule, the turn ends
        const settledThisTurn = function (start: () => Promise<void>): Promise<boolean> {

            const turnEnded = new Promise<boolean>((resolve) => setImmediate(() => resolve(false)));
            return Promise.race([start().then(() => true), turnEnded]);
        };

        assert.equal(await settledThisTurn(drainBroadcasts), true);

        const fixture = await server();
        await fixture.server.turbo.broadcast('audit', TurboStream.remove({ id: 'x' }));
        assert.equal(await settledThisTurn(drainBroadcasts), true);
        assert.deepEqual(published(fixture), [['audit', 'remove']]);
    });
});
