import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { drainBroadcasts, runWithRequestId, TurboStream } from '../../lib/turbo/index.ts';
import { parseTurboStreams } from '../../lib/turbo/parse.ts';
import { RefreshScheduler } from '../../lib/turbo/refresh.ts';
import { applyOptions } from '../../lib/turbo/schemas.ts';
import { captureBroadcasts } from '../../lib/turbo/testing.ts';
import { collect, createFixture, eventually, SECRET, type Fixture, type FixtureOptions } from '../support/fixture.ts';

// Refresh broadcasts against the real server and database: what is sent, when, with which
// request-id, and that they take the same pipeline as every other broadcast.

const run = promisify(execFile);

interface Refresh {
    stream: string;
    seq: number;
    requestId: string | undefined;
    at: number;
}


/** Every refresh the server publishes from now on, with the time it was published. */
const watchRefreshes = function (fixture: Fixture): Refresh[] {

    const seen: Refresh[] = [];
    fixture.server.turbo.observe({
        broadcast: (record) => {

            for (const element of parseTurboStreams(record.html).filter((item) => item.action === 'refresh')) {
                seen.push({ stream: record.stream, seq: record.seq, requestId: element.attributes['request-id'], at: Date.now() });
            }
        }
    });

    return seen;
};


describe('refresh broadcasts', () => {

    let fixture: Fixture;
    const open: Fixture[] = [];

    const start = async function (options: FixtureOptions) {

        fixture = await createFixture({ transport: 'memory', ...options });
        open.push(fixture);
        await fixture.server.initialize();
        return fixture;
    };

    afterEach(async () => {

        await Promise.all(open.splice(0).map((item) => item.close()));
    });

    it('broadcastsRefreshes = true refreshes the row\'s own stream on create, update and destroy, without a request-id outside requests', async () => {

        const { Topic } = await start({ broadcastsRefreshes: { topic: true } });
        const created = await captureBroadcasts(() => Topic.create({ title: 'News' }));
        const topic = (await Topic.findOne())!;
        const updated = await captureBroadcasts(() => topic.update({ title: 'Old news' }));
        const destroyed = await captureBroadcasts(() => topic.destroy());

        for (const captured of [created, updated, destroyed]) {
            assert.deepEqual(captured.map(({ stream, action, attributes, html }) => ({ stream, action, attributes, html })), [
                { stream: `blog:TopicStream[${topic.id}]`, action: 'refresh', attributes: {}, html: '' }
            ]);
        }
    });

    it('a function refreshes the streams it returns as well as the row\'s, and onSave still runs', async () => {

        const { Topic, Post } = await start({ broadcastsRefreshes: { post: (post) => [new fixture.TopicStream(post.get('topicId') as number), null, '', [false]] } });
        const topic = await Topic.create({ title: 'News' });
        const captured = await captureBroadcasts(() => Post.create({ body: 'a', topicId: topic.id }));
        const post = (await Post.findOne())!;

        assert.deepEqual(captured.map(({ stream, action }) => [stream, action]).sort(), [
            [post.stream.name, 'refresh'],
            [topic.stream.name, 'append'],
            [topic.stream.name, 'refresh']
        ].sort());

        const destroyed = await captureBroadcasts(() => post.destroy(), topic);
        assert.deepEqual(destroyed.map(({ action }) => action).sort(), ['refresh', 'remove']);
    });

    it('coalesces a burst of 100 saves into exactly one refresh, sent on the trailing edge (500 ms by default)', async () => {

        const { Topic, server } = await start({ broadcastsRefreshes: { topic: true } });
        const topic = await Topic.create({ title: 'News' });
        await drainBroadcasts();
        const refreshes = watchRefreshes(fixture);
        const rendersBefore = server.turbo.stats.renders;

        for (let i = 0; i < 100; ++i) {
            await topic.update({ title: `News ${i}` });
        }

        assert.equal(refreshes.length, 0, 'nothing leaves while the burst goes on');
        await eventually(() => assert.equal(refreshes.length, 1), 3000);

        await sleep(700);
        assert.equal(refreshes.length, 1, 'and nothing after it');
        assert.equal(refreshes[0]!.stream, topic.stream.name);
        assert.equal(refreshes[0]!.seq, 2, 'the next seq of the stream, after the create\'s refresh');
        assert.equal(server.turbo.stats.renders - rendersBefore, 1, 'rendered once');
        assert.equal(server.turbo.position(topic).seq, 2);
    });

    it('throttle mode sends the first refresh at once and drops the repeats until the window closes', async () => {

        // A window far longer than the test: however slow the machine, every repeat falls inside it
        const { Topic } = await start({ broadcastsRefreshes: { topic: true }, refresh: { mode: 'throttle', debounce: 60_000 } });
        const refreshes = watchRefreshes(fixture);
        const topic = await Topic.create({ title: 'News' });
        assert.equal(refreshes.length, 1, 'the leading edge leaves with the write');
        for (let i = 0; i < 20; ++i) {
            await topic.update({ title: `b${i}` });
        }

        await drainBroadcasts();
        assert.equal(refreshes.length, 1, 'repeats inside the window are dropped');
    });

    it('throttle mode opens a new window once the last one closed', async () => {

        const { Topic } = await start({ broadcastsRefreshes: { topic: true }, refresh: { mode: 'throttle', debounce: 100 } });
        const refreshes = watchRefreshes(fixture);
        const topic = await Topic.create({ title: 'News' });
        assert.equal(refreshes.length, 1);
        await sleep(300);                                      // Longer than the window, whatever the load
        await topic.update({ title: 'c' });
        assert.equal(refreshes.length, 2, 'a new window, a new refresh');
    });

    it('debounces per stream and per request id: each requester gets a refresh carrying its id', async () => {

        const { Topic } = await start({ broadcastsRefreshes: { topic: true }, refresh: { debounce: 100 } });
        const [news, other] = [await Topic.create({ title: 'News' }), await Topic.create({ title: 'Other' })];
        await drainBroadcasts();
        const refreshes = watchRefreshes(fixture);

        await runWithRequestId('tab-a', () => news.update({ title: 'by a' }));
        await runWithRequestId('tab-b', () => news.update({ title: 'by b' }));
        await runWithRequestId('tab-a', () => news.update({ title: 'by a again' }));
        await runWithRequestId('tab-a', () => other.update({ title: 'by a' }));

        await eventually(() => assert.equal(refreshes.length, 3), 3000);
        assert.deepEqual(refreshes.map(({ stream, requestId }) => [stream, requestId]).sort(), [
            [news.stream.name, 'tab-a'],
            [news.stream.name, 'tab-b'],
            [other.stream.name, 'tab-a']
        ].sort());
    });

    it('drainBroadcasts(), server.turbo.drain() and server.stop() send pending refreshes at once', async () => {

        const { Topic, server } = await start({ broadcastsRefreshes: { topic: true }, refresh: { debounce: 60_000 } });
        const refreshes = watchRefreshes(fixture);

        const topic = await Topic.create({ title: 'News' });
        assert.equal(refreshes.length, 0);
        await drainBroadcasts();
        assert.equal(refreshes.length, 1);

        await topic.update({ title: 'b' });
        await server.turbo.drain();
        assert.equal(refreshes.length, 2);

        await topic.update({ title: 'c' });
        assert.equal(refreshes.length, 2);
        await server.stop();
        assert.equal(refreshes.length, 3);
        assert.deepEqual(refreshes.map((refresh) => refresh.seq), [1, 2, 3]);
    });

    it('logs a refresh function that throws, and saves the row', async () => {

        const { Topic } = await start({ broadcastsRefreshes: { topic: () => {

            throw new Error('no streams today');
        } } });

        const captured = await captureBroadcasts(() => Topic.create({ title: 'News' }));
        assert.equal(await Topic.count(), 1);
        assert.deepEqual(captured.errors.map((failure) => failure.error.message), ['no streams today']);
    });

    it('validates the refresh option', async () => {

        const attempt = (refresh: object) => applyOptions({ secret: SECRET, streams: {}, refresh });
        assert.throws(() => attempt({ mode: 'sometimes' }), /"refresh.mode" must be one of \[debounce, throttle\]/);
        assert.throws(() => attempt({ debounce: -1 }), /"refresh.debounce" must be greater than or equal to 0/);
        assert.deepEqual(attempt({}).refresh, { debounce: 500, mode: 'debounce', maxWait: 5000 });
        assert.throws(() => attempt({ maxWait: -1 }), /"refresh.maxWait" must be greater than or equal to 0/);
    });
});


describe('refresh request-id', () => {

    let fixture: Fixture | undefined;

    afterEach(async () => {

        await fixture?.close();
        fixture = undefined;
    });

    const start = async function () {

        fixture = await createFixture({ transport: 'memory', broadcastsRefreshes: { topic: true }, refresh: { debounce: 20 } });
        const { server, sequelize, Topic } = fixture;
        // Three ways a handler writes: plainly, in a managed transaction (the hook runs in its
        // after-commit callback), and in a transaction committed after an unrelated await
        server.route({
            method: 'POST',
            path: '/topics/{id}/{how}',
            handler: async (request) => {

                const topic = (await Topic.findByPk(Number(request.params.id)))!;
                const title = String(request.query.title ?? (request.payload as { title?: string } | null)?.title ?? 'changed');
                if (request.params.how === 'plain') {
                    await topic.update({ title });
                }
                else if (request.params.how === 'managed') {
                    await sequelize.transaction(async (transaction) => {

                        await topic.update({ title }, { transaction });
                        await sleep(5);
                    });
                }
                else {
                    const transaction = await sequelize.transaction();
                    await topic.update({ title }, { transaction });
                    await sleep(5);
                    await transaction.commit();
                }

                return { ok: true };
            }
        });

        await server.initialize();
        return fixture;
    };

    it('carries the X-Turbo-Request-Id of the request whose write caused it, in plain writes and after-commit callbacks', async () => {

        const { server, Topic } = await start();
        const topic = await Topic.create({ title: 'News' });
        await drainBroadcasts();

        for (const how of ['plain', 'managed', 'unmanaged']) {
            const captured = await captureBroadcasts(async () => {

                const res = await server.inject({ method: 'POST', url: `/topics/${topic.id}/${how}`, payload: { title: how }, headers: { 'x-turbo-request-id': `req-${how}` } });
                assert.equal(res.statusCode, 200);
            });

            assert.deepEqual(captured.map(({ action, attributes }) => [action, attributes['request-id']]), [['refresh', `req-${how}`]], how);
        }
    });

    it('keeps concurrent requests apart', async () => {

        const { server, Topic } = await start();
        const topics = await Promise.all(['a', 'b', 'c', 'd'].map((title) => Topic.create({ title })));
        await drainBroadcasts();

        const captured = await captureBroadcasts(async () => {

            await Promise.all(topics.map((topic, index) => server.inject({
                method: 'POST',
                url: `/topics/${topic.id}/${index % 2 ? 'managed' : 'unmanaged'}`,
                headers: { 'x-turbo-request-id': `req-${topic.id}` }
            })));
        });

        assert.deepEqual(captured.map(({ stream, attributes }) => [stream, attributes['request-id']]).sort(),
            topics.map((topic) => [topic.stream.name, `req-${topic.id}`]).sort());
    });

    it('leaves nothing behind for writes made after an injected request, even the first of a process', async () => {

        // Only the first use of AsyncLocalStorage in a process shows it, hence a process of its own
        const script = fileURLToPath(new URL('../support/scripts/request-id-after-inject.ts', import.meta.url));
        const { stdout } = await run(process.execPath, ['--import', 'tsx', script], { timeout: 20_000 });
        assert.equal(stdout.trim(), '["req-1",null]');
    });

    it('ignores a request id that is not a plausible Turbo id, and requests without one', async () => {

        const { server, Topic } = await start();
        const topic = await Topic.create({ title: 'News' });
        await drainBroadcasts();

        for (const [index, headers] of [{ 'x-turbo-request-id': 'x'.repeat(500) }, { 'x-turbo-request-id': '"><script>' }, {}].entries()) {
            const captured = await captureBroadcasts(() => server.inject({ method: 'POST', url: `/topics/${topic.id}/plain`, payload: { title: `t${index}` }, headers }));
            assert.deepEqual(captured.map(({ action, attributes }) => [action, attributes['request-id']]), [['refresh', undefined]]);
        }
    });
});


describe('refreshes on sockets', () => {

    it('take the normal pipeline: seq, replay and one render, received by subscribers', async () => {

        const fixture = await (await createFixture({ broadcastsRefreshes: { topic: true }, refresh: { debounce: 50 } })).start();
        try {
            fixture.server.route({ method: 'POST', path: '/topics/{id}', handler: async (request) => {

                await (await fixture.Topic.findByPk(Number(request.params.id)))!.update({ title: 'changed' });
                return null;
            } });

            const topic = await fixture.Topic.create({ title: 'News' });
            await drainBroadcasts();
            const socket = await fixture.client();
            const received = collect(socket);
            const signed = fixture.server.turbo.signedStreamName(topic);
            assert.deepEqual(await fixture.subscribe(socket, signed), { ok: true, stream: topic.stream.name });

            await fixture.server.inject({ method: 'POST', url: `/topics/${topic.id}`, headers: { 'x-turbo-request-id': 'f00d-1' } });
            await eventually(() => assert.equal(received.length, 1));
            assert.equal(received[0]!.html, '<turbo-stream action="refresh" request-id="f00d-1"></turbo-stream>');
            assert.equal(received[0]!.seq, 2);

            // A page rendered before both refreshes catches up on them from the replay buffer
            const late = await fixture.client();
            const replayed = collect(late);
            const { epoch } = fixture.server.turbo.position(topic);
            assert.deepEqual(await fixture.subscribe(late, signed, { epoch, seq: 0 }), { ok: true, stream: topic.stream.name });
            await eventually(() => assert.equal(replayed.length, 2));
            assert.deepEqual(replayed.map((message) => [message.seq, message.html]), [
                [1, '<turbo-stream action="refresh"></turbo-stream>'],
                [2, '<turbo-stream action="refresh" request-id="f00d-1"></turbo-stream>']
            ]);
        }
        finally {
            await fixture.close();
        }
    });

    it('made by hand inside a request, carry its request id unless told requestId: null, as turbo-rails\' broadcast_refresh_to', async () => {

        const fixture = await (await createFixture()).start();
        try {
            const { server, TopicStream } = fixture;
            server.route({ method: 'POST', path: '/topics/{id}/refresh', handler: async (request, h) => {

                const stream = new TopicStream(Number(request.params.id));
                await stream.refresh();
                await server.turbo.broadcast(stream, TurboStream.refresh());
                await stream.refresh({ requestId: null });
                await stream.refresh({ requestId: 'given-1' });
                return h.turboStream(TurboStream.refresh());
            } });

            const topic = await fixture.Topic.create({ title: 'News' });
            const socket = await fixture.client();
            const received = collect(socket);
            assert.deepEqual(await fixture.subscribe(socket, server.turbo.signedStreamName(topic)), { ok: true, stream: topic.stream.name });

            const res = await server.inject({ method: 'POST', url: `/topics/${topic.id}/refresh`, headers: { 'x-turbo-request-id': 'f00d-2' } });
            assert.equal(res.payload, '<turbo-stream action="refresh" request-id="f00d-2"></turbo-stream>', 'the HTTP reply too');
            await new TopicStream(topic.id).refresh();                          // Outside any request: none
            await eventually(() => assert.equal(received.length, 5));
            assert.deepEqual(received.map((message) => parseTurboStreams(message.html).map((element) => element.attributes['request-id'] ?? null)).flat(),
                ['f00d-2', 'f00d-2', null, 'given-1', null]);
        }
        finally {
            await fixture.close();
        }
    });
});


describe('RefreshScheduler', () => {

    it('restarts the window on every call in debounce mode and sends once per key', async () => {

        const sent: [string, string | null][] = [];
        // A window far longer than the pauses between calls, so a loaded machine cannot close it early
        const scheduler = new RefreshScheduler({ debounce: 1000 }, async (stream, requestId) => {

            sent.push([stream, requestId]);
        });

        for (let i = 0; i < 5; ++i) {
            void scheduler.schedule('s', null);
            await sleep(20);
        }

        assert.equal(sent.length, 0, 'every call pushed the edge back');
        await eventually(() => assert.equal(sent.length, 1));
        assert.deepEqual(sent, [['s', null]]);
        assert.equal(scheduler.pending, 0);
    });

    it('under writes that never pause, still sends a debounced refresh once maxWait has passed since the first', async () => {

        const sent: string[] = [];
        // Writes every 10 ms against a 200 ms window: without maxWait nothing would leave until they stop
        const scheduler = new RefreshScheduler({ debounce: 200, maxWait: 600 }, async (stream) => {

            sent.push(stream);
        });

        let writes = 0;
        while (sent.length < 2 && writes < 3000) {
            void scheduler.schedule('busy', null);
            ++writes;
            await sleep(10);
        }

        // Two refreshes went out while the writes went on; the next write waits for a third
        assert.deepEqual(sent, ['busy', 'busy']);
        void scheduler.schedule('busy', null);
        assert.equal(scheduler.pending, 1);
        await scheduler.flush();
        assert.deepEqual(sent, ['busy', 'busy', 'busy']);
    });

    it('flush() sends what is pending even when a send fails, and waits for the sends', async () => {

        const sent: string[] = [];
        const scheduler = new RefreshScheduler({ debounce: 60_000 }, async (stream) => {

            await sleep(10);
            if (stream === 'bad') {
                throw new Error('render failed');
            }

            sent.push(stream);
        });

        void scheduler.schedule('bad', null);
        void scheduler.schedule('good', 'r1');
        await scheduler.flush();
        assert.deepEqual(sent, ['good']);
        assert.equal(scheduler.pending, 0);
    });
});
