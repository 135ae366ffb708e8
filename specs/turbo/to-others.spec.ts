import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';

import type { Socket } from 'socket.io-client';

import { TurboStream } from '../../lib/turbo/fragment.ts';
import { runWithSocketId } from '../../lib/turbo/request-context.ts';
import { StreamClient, type StreamMessageMeta } from '../../static/turbo/stream-client.js';
import { collect, createFixture, eventually, type Fixture } from '../support/fixture.ts';
import { startRedis } from '../support/redis.ts';

// `toOthers`: a broadcast made while handling a request that carries X-Turbo-Socket-Id skips that
// socket (the page that sent the request updates itself from the response). The skipped socket
// gets an empty placeholder of the same seq, live and on replay, so its positions stay gap-free.

const NOTE = TurboStream.append({ id: 'posts' }, { text: 'note' });
const NOTE_HTML = '<turbo-stream action="append" target="posts"><template>note</template></turbo-stream>';


/** Routes that broadcast on a topic's stream while handling a request, the ways an app can. */
const addRoutes = function (fixture: Fixture): void {

    fixture.server.route([
        {
            method: 'POST',
            path: '/topics/{id}/note',
            handler: async (request) => {

                const topic = new fixture.TopicStream(Number(request.params.id));
                const { how } = request.query as { how?: string };
                if (how === 'server') {
                    await fixture.server.turbo.broadcastToOthers(topic, NOTE);
                }
                else if (how === 'stream') {
                    await topic.streamToOthers(NOTE);
                }
                else if (how === 'everyone') {
                    await topic.append({ text: 'note' }, { id: 'posts' });
                }
                else if (how === 'batch') {
                    // Three broadcasts in one event-loop turn: batched, but the skipping one leaves alone
                    await Promise.all([
                        topic.append({ text: 'one' }, { id: 'posts' }),
                        topic.append({ text: 'two' }, { id: 'posts' }, { toOthers: true }),
                        topic.append({ text: 'three' }, { id: 'posts' })
                    ]);
                }
                else {
                    await topic.append({ text: 'note' }, { id: 'posts' }, { toOthers: true });
                }

                return 'ok';
            }
        },
        {
            method: 'POST',
            path: '/posts',
            handler: async (request) => {

                // A model hook runs in the request's context: its toOthers broadcast skips the sender too
                const { topicId } = request.query as { topicId: string };
                await fixture.Post.create({ body: 'hooked', topicId: Number(topicId) });
                return 'ok';
            }
        }
    ]);
};


const post = (fixture: Fixture, url: string, socketId?: string) => fixture.server.inject({ method: 'POST', url, headers: socketId === undefined ? {} : { 'x-turbo-socket-id': socketId } });


describe('toOthers', () => {

    let fixture: Fixture;
    let topic: InstanceType<Fixture['Topic']>;
    let sender: Socket;
    let other: Socket;

    beforeEach(async () => {

        fixture = await createFixture({
            onSave: async (saved) => await new fixture.TopicStream(saved.topicId).append({ text: saved.body }, { id: 'posts' }, { toOthers: true })
        });
        addRoutes(fixture);
        await fixture.start();
        topic = await fixture.Topic.create({ title: 'News' });
        [sender, other] = [await fixture.client(), await fixture.client()];
        for (const socket of [sender, other]) {
            await fixture.subscribe(socket, fixture.server.turbo.signedStreamName(topic));
        }
    });

    afterEach(async () => {

        await fixture.close();
    });

    for (const how of ['options', 'stream', 'server'] as const) {
        it(`skips the sender's socket with an empty placeholder of the same seq (${how})`, async () => {

            const [fromSender, fromOther] = [collect(sender), collect(other)];
            assert.equal((await post(fixture, `/topics/${topic.id}/note?how=${how}`, sender.id)).statusCode, 200);
            await post(fixture, `/topics/${topic.id}/note?how=everyone`, sender.id);

            await eventually(() => assert.equal(fromOther.length + fromSender.length, 4));
            assert.deepEqual(fromOther.map(({ seq, html }) => [seq, html]), [[1, NOTE_HTML], [2, NOTE_HTML]]);
            assert.deepEqual(fromSender.map(({ seq, html }) => [seq, html]), [[1, ''], [2, NOTE_HTML]]);
        });
    }

    it('skips the sender for broadcasts of model hooks run by its request', async () => {

        const [fromSender, fromOther] = [collect(sender), collect(other)];
        await post(fixture, `/posts?topicId=${topic.id}`, sender.id);
        await eventually(() => assert.equal(fromOther.length + fromSender.length, 2));
        assert.deepEqual(fromOther.map(({ html }) => html), ['<turbo-stream action="append" target="posts"><template>hooked</template></turbo-stream>']);
        assert.deepEqual(fromSender.map(({ html }) => html), ['']);
    });

    it('reaches everyone outside a request, without the header, with a malformed header, and after the request is over', async () => {

        const [fromSender, fromOther] = [collect(sender), collect(other)];
        await fixture.server.turbo.broadcastToOthers(topic, NOTE);
        await post(fixture, `/topics/${topic.id}/note`);
        await post(fixture, `/topics/${topic.id}/note`, `${sender.id} `);
        await post(fixture, `/topics/${topic.id}/note`, 'x'.repeat(100));

        // The context of a finished request is emptied: work it left behind no longer skips anyone
        let late: Promise<void> | undefined;
        fixture.server.route({ method: 'POST', path: '/late', handler: () => {

            late = new Promise((resolve) => setTimeout(resolve, 50)).then(() => fixture.server.turbo.broadcastToOthers(topic, NOTE));
            return 'ok';
        } });
        await post(fixture, '/late', sender.id);
        await late;

        await eventually(() => assert.equal(fromSender.length + fromOther.length, 10));
        assert.deepEqual(fromSender.map(({ html }) => html), Array(5).fill(NOTE_HTML));
        assert.deepEqual(fromOther.map(({ html }) => html), Array(5).fill(NOTE_HTML));
    });

    it('sends a skipping message as a frame of its own inside a batch, so every socket sees consecutive seqs', async () => {

        const frames: { socket: string; html: string | string[]; seq: number }[] = [];
        for (const [name, socket] of [['sender', sender], ['other', other]] as const) {
            socket.on('turbo-stream', (html: string | string[], meta: { seq: number }) => frames.push({ socket: name, html, seq: meta.seq }));
        }

        const before = fixture.server.turbo.stats.frames;
        await post(fixture, `/topics/${topic.id}/note?how=batch`, sender.id);
        await eventually(() => assert.equal(frames.length, 6));
        assert.equal(fixture.server.turbo.stats.frames - before, 3, 'one, two (alone), three');

        const text = (html: string) => /<template>(.*)<\/template>/.exec(html)?.[1] ?? '';
        const seen = (name: string) => frames.filter((frame) => frame.socket === name).map((frame) => [frame.seq, [frame.html].flat().map(text)]);
        assert.deepEqual(seen('other'), [[1, ['one']], [2, ['two']], [3, ['three']]]);
        assert.deepEqual(seen('sender'), [[1, ['one']], [2, ['']], [3, ['three']]]);
    });

    it('gives the skipped socket its placeholder on replay too, and everyone else the message', async () => {

        const from = fixture.server.turbo.position(topic);
        const [fromSender, fromOther] = [collect(sender), collect(other)];
        await post(fixture, `/topics/${topic.id}/note`, sender.id);
        await post(fixture, `/topics/${topic.id}/note?how=everyone`, sender.id);
        await eventually(() => assert.equal(fromSender.length + fromOther.length, 4));

        // All ask again from before the two messages, as after a gap: the replay follows the ack
        const late = await fixture.client();
        const fromLate = collect(late);
        for (const socket of [sender, other, late]) {
            await fixture.subscribe(socket, fixture.server.turbo.signedStreamName(topic), from);
        }

        await eventually(() => assert.equal(fromSender.length + fromOther.length + fromLate.length, 10));
        assert.deepEqual(fromSender.slice(2).map(({ seq, html }) => [seq, html]), [[1, ''], [2, NOTE_HTML]]);
        assert.deepEqual(fromOther.slice(2).map(({ seq, html }) => [seq, html]), [[1, NOTE_HTML], [2, NOTE_HTML]]);
        assert.deepEqual(fromLate.map(({ seq, html }) => [seq, html]), [[1, NOTE_HTML], [2, NOTE_HTML]]);
    });

    it('lets the browser\'s client apply the next message after a placeholder, without resubscribing or refreshing', async () => {

        // The protocol logic of the element, on a socket of its own; the server counts its subscribes
        const socket = await fixture.client();
        let subscribes = 0;
        fixture.server.turbo.io!.of('/turbo').sockets.get(socket.id!)!.onAny((event: string) => {

            subscribes += event === 'subscribe' ? 1 : 0;
        });

        const received: [string, StreamMessageMeta][] = [];
        let refreshes = 0;
        let connected = false;
        const client = new StreamClient(() => socket as never);
        client.add(fixture.server.turbo.signedStreamName(topic), {
            position: fixture.server.turbo.position(topic),
            receive: (html, meta) => received.push([html, meta]),
            setConnected: (value) => {

                connected = value;
            },
            setFailed: () => undefined,
            refresh: () => ++refreshes
        });
        await eventually(() => assert.equal(connected, true));

        await post(fixture, `/topics/${topic.id}/note`, socket.id);
        await post(fixture, `/topics/${topic.id}/note?how=everyone`, socket.id);
        await eventually(() => assert.equal(received.length, 1));
        assert.deepEqual(received.map(([html, meta]) => [html, meta.from, meta.seq]), [[NOTE_HTML, 2, 2]]);
        assert.equal(subscribes, 1, 'no resubscription for a gap');
        assert.equal(refreshes, 0);
    });

    it('stores the skipped socket on the record, which observers see', async () => {

        const excepts: (string | undefined)[] = [];
        const stop = fixture.server.turbo.observe({ broadcast: (record) => excepts.push(record.except) });
        await post(fixture, `/topics/${topic.id}/note`, sender.id);
        await runWithSocketId('from-a-script', () => fixture.server.turbo.broadcastToOthers(topic, NOTE));
        await fixture.server.turbo.broadcast(topic, NOTE);
        stop();
        assert.deepEqual(excepts, [sender.id, 'from-a-script', undefined]);
    });
});


describe('toOthers with two servers on one Redis', () => {

    it('skips the sender connected to the other server, live and on replay from Redis', async () => {

        const redis = await startRedis();
        const a = await (await createFixture({ redis: redis.url })).start();
        const b = await (await createFixture({ redis: redis.url })).start();
        try {
            addRoutes(a);
            const topic = await a.Topic.create({ title: 'News' });
            const signed = a.server.turbo.signedStreamName(topic);
            const from = await a.server.turbo.fetchPosition(topic);
            const [sender, other] = [await b.client(), await a.client()];
            const [fromSender, fromOther] = [collect(sender), collect(other)];
            await b.subscribe(sender, signed, from);
            await a.subscribe(other, signed, from);
            await eventually(() => assert.equal(b.server.turbo.io!.of('/turbo').adapter.rooms.get(topic.stream.name)?.size, 1));
            await eventually(() => assert.equal(a.server.turbo.io!.of('/turbo').adapter.rooms.get(topic.stream.name)?.size, 1));

            // The request reaches server a; the sender's socket is on server b
            await post(a, `/topics/${topic.id}/note`, sender.id);
            await eventually(() => assert.equal(fromSender.length + fromOther.length, 2));
            assert.deepEqual(fromSender.map(({ seq, html }) => [seq, html]), [[1, '']]);
            assert.deepEqual(fromOther.map(({ seq, html }) => [seq, html]), [[1, NOTE_HTML]]);

            // Both ask again from the start, as after a gap: the replay comes from Redis
            const [replayedSender, replayedOther] = [collect(sender), collect(other)];
            await b.subscribe(sender, signed, from);
            await a.subscribe(other, signed, from);
            await eventually(() => assert.equal(replayedSender.length + replayedOther.length, 2));
            assert.deepEqual(replayedSender.map(({ html }) => html), ['']);
            assert.deepEqual(replayedOther.map(({ html }) => html), [NOTE_HTML]);
        }
        finally {
            await Promise.all([a.close(), b.close()]);
            await redis.stop();
        }
    });
});
