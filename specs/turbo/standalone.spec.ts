import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import Handlebars from 'handlebars';

import { createBroadcaster, TurboStream } from '../../lib/turbo/index.ts';
import { collect, createFixture, eventually, VIEWS, type Fixture } from '../support/fixture.ts';
import { startRedis, type RedisInstance } from '../support/redis.ts';

// createBroadcaster(): a process that never listens (a worker, a script) broadcasts through the
// Redis a web server shares, and that server's clients receive it. Real redis-server, real sockets.

describe('createBroadcaster()', () => {

    let redis: RedisInstance;
    let web: Fixture;

    before(async () => {

        redis = await startRedis();
        web = await (await createFixture({ redis: redis.url })).start();
    });

    after(async () => {

        await web.close();
        await redis.stop();
    });

    it('renders with the app\'s templates and reaches the sockets of a web server on the same Redis', async () => {

        const socket = await web.client();
        const answer = await web.subscribe(socket, web.server.turbo.signedStreamName('announcements'));
        assert.equal(answer.ok, true);
        const received = collect(socket);

        const broadcaster = await createBroadcaster({
            redis: redis.url,
            views: { engines: { html: Handlebars.create() }, path: VIEWS },
            streams: {}
        });
        try {
            await broadcaster.broadcast('announcements', TurboStream.update({ id: 'banner' }, { text: 'Deployed <now>' }));
            assert.equal(broadcaster.turbo.position('announcements').seq, 1);
        }
        finally {
            await broadcaster.close();
        }

        await eventually(() => assert.equal(received.length, 1));
        assert.equal(received[0]!.stream, 'announcements');
        assert.equal(received[0]!.seq, 1);
        assert.match(received[0]!.html, /<turbo-stream action="update" target="banner"><template>Deployed &lt;now&gt;<\/template><\/turbo-stream>/);
    });

    it('signs nothing the web servers would accept', async () => {

        const broadcaster = await createBroadcaster({ redis: redis.url, views: { engines: { html: Handlebars.create() }, path: VIEWS }, streams: {} });
        try {
            assert.equal(web.server.turbo.verify(broadcaster.turbo.sign('announcements')), null);
            assert.notEqual(broadcaster.turbo.sign('announcements'), web.server.turbo.signedStreamName('announcements'));
        }
        finally {
            await broadcaster.close();
        }
    });
});
