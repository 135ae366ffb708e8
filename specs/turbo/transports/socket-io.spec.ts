import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { io as connect } from 'socket.io-client';

import { signStreamName } from '../../../lib/turbo/signing.ts';
import { TurboStream } from '../../../lib/turbo/fragment.ts';
import { collect, createFixture, eventually, SECRET, type Fixture } from '../../support/fixture.ts';


describe('socket.io transport', () => {

    let fixture: Fixture;

    beforeEach(async () => {

        fixture = await createFixture();
    });

    afterEach(async () => {

        await fixture.close();
    });

    it('answers a forged name with an error ack, and the same socket can still subscribe', async () => {

        await fixture.start();
        const topic = await fixture.Topic.create({ title: 'News' });
        const socket = await fixture.client();
        const received = collect(socket);

        const forged = signStreamName(topic.stream.name, 'not-the-server-secret-but-long-enough');
        assert.deepEqual(await fixture.subscribe(socket, forged), { ok: false, error: 'invalid-signature' });
        const valid = fixture.server.turbo.signedStreamName(topic);
        const tampered = Buffer.from(JSON.stringify(`blog:TopicStream[${topic.id + 1}]`)).toString('base64') + valid.slice(valid.indexOf('--'));
        assert.deepEqual(await fixture.subscribe(socket, tampered), { ok: false, error: 'invalid-signature' });

        assert.ok(socket.connected);
        assert.deepEqual(await fixture.subscribe(socket, valid), { ok: true, stream: topic.stream.name });
        await fixture.Post.create({ body: 'after', topicId: topic.id });
        await eventually(() => assert.equal(received.length, 1));
    });

    it('answers a refused frame and keeps the socket when the server\'s log listeners throw', async () => {

        await fixture.start();
        const topic = await fixture.Topic.create({ title: 'News' });
        fixture.server.events.on('log', () => {

            throw new Error('a broken log listener');
        });
        const socket = await fixture.client();
        assert.deepEqual(await fixture.subscribe(socket, fixture.server.turbo.sign('blog:RemovedStream[1]')), { ok: false, error: 'forbidden' });
        assert.ok(socket.connected);
        assert.deepEqual(await fixture.subscribe(socket, fixture.server.turbo.signedStreamName(topic)), { ok: true, stream: topic.stream.name });
    });

    it('answers malformed frames with bad-request or ignores them, and stays up', async () => {

        await fixture.start();
        const socket = await fixture.client();
        for (const payload of [undefined, null, 42, 'name', [], [1, 2], { signedStreamName: 42 }, { signedStreamName: '' }, { signedStreamName: 'x'.repeat(5000) }, { other: 1 }]) {
            assert.deepEqual(await socket.timeout(2000).emitWithAck('subscribe', payload), { ok: false, error: 'bad-request' }, JSON.stringify(payload));
            assert.deepEqual(await socket.timeout(2000).emitWithAck('unsubscribe', payload), { ok: false, error: 'bad-request' }, JSON.stringify(payload));
        }

        socket.emit('subscribe', { signedStreamName: 'no ack wanted' });
        socket.emit('subscribe');
        socket.emit('no-such-event', { a: 1 }, () => undefined);
        socket.emit('subscribe', Buffer.from([1, 2, 3]), () => undefined);

        const topic = await fixture.Topic.create({ title: 'News' });
        assert.deepEqual(await fixture.subscribe(socket, fixture.server.turbo.signedStreamName(topic)), { ok: true, stream: topic.stream.name });
        assert.ok(socket.connected);
    });

    it('disconnects a client that sends a frame above the size limit, and serves the others', async () => {

        await fixture.start();
        const [big, other] = [await fixture.client(), await fixture.client()];
        const closed = new Promise((resolve) => big.once('disconnect', resolve));
        big.emit('subscribe', { signedStreamName: 'x'.repeat(64 * 1024) });
        await closed;

        const topic = await fixture.Topic.create({ title: 'News' });
        assert.deepEqual(await fixture.subscribe(other, fixture.server.turbo.signedStreamName(topic)), { ok: true, stream: topic.stream.name });
    });

    it('renders once for 50 subscribers, and every one of them receives the message', async () => {

        await fixture.start();
        const topic = await fixture.Topic.create({ title: 'News' });
        const signed = fixture.server.turbo.signedStreamName(topic);
        const clients = await Promise.all(Array.from({ length: 50 }, () => fixture.client()));
        const inboxes = clients.map(collect);
        await Promise.all(clients.map((socket) => fixture.subscribe(socket, signed)));

        const before = { ...fixture.server.turbo.stats };
        await fixture.Post.create({ body: 'to all', topicId: topic.id });
        await eventually(() => assert.equal(inboxes.filter((inbox) => inbox.length === 1).length, 50));

        assert.equal(fixture.server.turbo.stats.renders - before.renders, 1, 'one render pass');
        assert.equal(fixture.server.turbo.stats.templates - before.templates, 1, 'one template render');
        assert.equal(new Set(inboxes.map((inbox) => inbox[0]!.html)).size, 1);
    });

    it('stops sending after unsubscribe', async () => {

        await fixture.start();
        const topic = await fixture.Topic.create({ title: 'News' });
        const socket = await fixture.client();
        const received = collect(socket);
        const signed = fixture.server.turbo.signedStreamName(topic);
        await fixture.subscribe(socket, signed);
        await fixture.Post.create({ body: 'one', topicId: topic.id });
        await eventually(() => assert.equal(received.length, 1));

        assert.deepEqual(await socket.timeout(2000).emitWithAck('unsubscribe', { signedStreamName: signed }), { ok: true, stream: topic.stream.name });
        await fixture.Post.create({ body: 'two', topicId: topic.id });
        await fixture.server.turbo.drain();
        const probe = collect(await fixture.client());
        assert.equal(probe.length, 0);
        // A round trip on the same socket: anything sent before it would have arrived first
        await fixture.subscribe(socket, 'bogus');
        assert.equal(received.length, 1);
    });

    it('delivers plain (non-class) stream names, as turbo-rails signs them', async () => {

        await fixture.start();
        const socket = await fixture.client();
        const received = collect(socket);
        assert.deepEqual(await fixture.subscribe(socket, signStreamName('room/1989', SECRET)), { ok: true, stream: 'room/1989' });
        await fixture.server.turbo.broadcast('room/1989', TurboStream.update({ id: 'box' }, { text: 'hi' }));
        await eventually(() => assert.deepEqual(received, [{ html: '<turbo-stream action="update" target="box"><template>hi</template></turbo-stream>', stream: 'room/1989', epoch: fixture.server.turbo.position('room/1989').epoch, seq: 1 }]));
    });

    it('asks userPassesTest with the user hapi auth finds on the handshake', async () => {

        fixture.server.auth.scheme('bearer', () => ({
            authenticate: (request, h) => {

                const token = /^Bearer (\w+)$/.exec(String(request.headers.authorization ?? ''))?.[1];
                return token ? h.authenticated({ credentials: { user: token, admin: token === 'admin' } }) : h.unauthenticated(new Error('no token'));
            }
        }));
        fixture.server.auth.strategy('bearer', 'bearer');
        fixture.server.auth.default('bearer');
        await fixture.start();

        const notice = fixture.server.turbo.signedStreamName('blog:NoticeStream');
        const anonymous = await fixture.client();
        const reader = await fixture.client({ headers: { authorization: 'Bearer reader' } });
        const admin = await fixture.client({ headers: { authorization: 'Bearer admin' } });
        assert.deepEqual(await fixture.subscribe(anonymous, notice), { ok: false, error: 'forbidden' });
        assert.deepEqual(await fixture.subscribe(reader, notice), { ok: false, error: 'forbidden' });
        assert.deepEqual(await fixture.subscribe(admin, notice), { ok: true, stream: 'blog:NoticeStream' });
    });

    it('finds the user from a hapi cookie session on the handshake', async () => {

        fixture.server.state('session', { encoding: 'base64json', isSecure: false, path: '/' });
        fixture.server.auth.scheme('cookie-session', () => ({
            authenticate: (request, h) => {

                const session = request.state.session as { admin?: boolean } | undefined;
                return session ? h.authenticated({ credentials: session }) : h.unauthenticated(new Error('no session'));
            }
        }));
        fixture.server.auth.strategy('session', 'cookie-session');
        fixture.server.auth.default('session');
        await fixture.start();

        const cookie = `session=${Buffer.from(JSON.stringify({ admin: true })).toString('base64')}`;
        const admin = await fixture.client({ headers: { cookie } });
        assert.deepEqual(await fixture.subscribe(admin, fixture.server.turbo.signedStreamName('blog:NoticeStream')), { ok: true, stream: 'blog:NoticeStream' });
    });

    it('listens on the socket.io path it is given', async () => {

        const custom = await createFixture({ path: '/live' });
        try {
            await custom.start();
            const socket = await custom.client({ path: '/live' });
            assert.deepEqual(await custom.subscribe(socket, custom.server.turbo.signedStreamName('blog:NoticeStream')), { ok: false, error: 'forbidden' });
            await assert.rejects(custom.client(), /xhr poll error|websocket error|timeout/i);
        }
        finally {
            await custom.close();
        }
    });

    it('replays what was broadcast since the position a page was rendered at, after the ack and in order', async () => {

        await fixture.start();
        const topic = await fixture.Topic.create({ title: 'News' });
        const rendered = fixture.server.turbo.position(topic);
        await fixture.Post.create({ body: 'one', topicId: topic.id });
        await fixture.Post.create({ body: 'two', topicId: topic.id });

        const socket = await fixture.client();
        const events: string[] = [];
        socket.on('turbo-stream', (html: string | string[], meta: { seq: number }) => {

            const parts = Array.isArray(html) ? html : [html];
            parts.forEach((_, index) => events.push(`message ${meta.seq - parts.length + 1 + index}`));
        });
        const ack = await new Promise<object>((resolve) => socket.emit('subscribe', { signedStreamName: fixture.server.turbo.signedStreamName(topic), since: rendered }, (answer: object) => {

            events.push('ack');
            resolve(answer);
        }));
        await fixture.Post.create({ body: 'three', topicId: topic.id });
        await eventually(() => assert.equal(events.length, 4));
        assert.deepEqual({ ...ack }, { ok: true, stream: topic.stream.name, epoch: rendered.epoch, seq: 2 });
        // The ack callback runs when the ack arrives, before the replayed messages behind it
        assert.deepEqual(events, ['ack', 'message 1', 'message 2', 'message 3']);
    });

    it('says gap when the position cannot be resumed: another epoch, or older than the buffer', async () => {

        const small = await createFixture({ replay: { size: 2 } });
        try {
            await small.start();
            const topic = await small.Topic.create({ title: 'News' });
            const rendered = small.server.turbo.position(topic);
            for (const body of ['one', 'two', 'three']) {
                await small.Post.create({ body, topicId: topic.id });
            }

            const signed = small.server.turbo.signedStreamName(topic);
            const socket = await small.client();
            assert.deepEqual(await small.subscribe(socket, signed, rendered), { ok: true, stream: topic.stream.name, gap: true });
            assert.deepEqual(await small.subscribe(socket, signed, { epoch: 'from-another-process', seq: 3 }), { ok: true, stream: topic.stream.name, gap: true });
            assert.deepEqual(await small.subscribe(socket, signed, { ...rendered, seq: 1 }), { ok: true, stream: topic.stream.name });
            assert.deepEqual(await small.subscribe(socket, signed, { epoch: 42, seq: -1 } as never), { ok: false, error: 'bad-request' });
        }
        finally {
            await small.close();
        }
    });

    const update = (n: number) => `<turbo-stream action="update" target="n"><template>${n}</template></turbo-stream>`;

    /** Frames a subscribed client receives on "ticker" from `fixture`. */
    const tickerFrames = async function (target: Fixture) {

        const socket = await target.client();
        const frames: [string | string[], { seq: number; count?: number }][] = [];
        socket.on('turbo-stream', (html: string | string[], meta: { seq: number; count?: number }) => frames.push([html, meta]));
        await target.subscribe(socket, target.server.turbo.sign('ticker'));
        return frames;
    };

    const tick = (target: Fixture, n: number) => target.server.turbo.broadcast('ticker', TurboStream.update({ id: 'n' }, { text: `${n}` }));

    it('by default sends a broadcast to an idle stream at once, and those arriving while its frame is written as the next frame, in order', async () => {

        await fixture.start();
        const frames = await tickerFrames(fixture);
        const before = fixture.server.turbo.stats.frames;

        // 1 finds the stream idle and leaves in the turn it was made in, before any check phase
        let checked = false;
        setImmediate(() => {

            checked = true;
        });
        const sending = [1, 2, 3].map((n) => tick(fixture, n));
        await sending[0];
        assert.equal(checked, false, 'published without waiting for another event-loop turn');

        // 2 and 3 were ready while 1 was being written: one frame, each with its own seq
        await Promise.all(sending);
        await tick(fixture, 4);
        await eventually(() => assert.equal(frames.length, 3));

        const epoch = fixture.server.turbo.position('ticker').epoch;
        assert.deepEqual(frames[0], [update(1), { stream: 'ticker', epoch, seq: 1 }]);
        assert.deepEqual(frames[1], [[update(2), update(3)], { stream: 'ticker', epoch, seq: 3, count: 2 }]);
        assert.deepEqual(frames[2], [update(4), { stream: 'ticker', epoch, seq: 4 }]);
        assert.equal(fixture.server.turbo.stats.frames - before, 3);

        // Once the loop has turned with nothing new, the stream is idle: one frame per broadcast again
        await new Promise((resolve) => setTimeout(resolve, 20));
        await tick(fixture, 5);
        await new Promise((resolve) => setTimeout(resolve, 20));
        await tick(fixture, 6);
        await eventually(() => assert.equal(frames.length, 5));
        assert.deepEqual(frames.slice(3).map(([html, meta]) => [html, meta.seq]), [[update(5), 5], [update(6), 6]]);
    });

    it('coalesces the broadcasts of one event-loop turn with batch: { window: 0 }', async () => {

        const ticked = await createFixture({ batch: { window: 0 } });
        try {
            await ticked.start();
            const frames = await tickerFrames(ticked);
            await Promise.all([1, 2, 3].map((n) => tick(ticked, n)));
            await tick(ticked, 4);
            await eventually(() => assert.equal(frames.length, 2));

            assert.deepEqual(frames[0]![0], [update(1), update(2), update(3)]);
            assert.deepEqual({ ...frames[0]![1], epoch: undefined }, { stream: 'ticker', epoch: undefined, seq: 3, count: 3 });
            assert.deepEqual(frames[1], [update(4), { stream: 'ticker', epoch: ticked.server.turbo.position('ticker').epoch, seq: 4 }]);
            assert.equal(ticked.server.turbo.stats.frames, 2);
        }
        finally {
            await ticked.close();
        }
    });

    it('sends every broadcast as its own frame with batch: false', async () => {

        const naive = await createFixture({ batch: false });
        try {
            await naive.start();
            const socket = await naive.client();
            const frames: unknown[] = [];
            socket.on('turbo-stream', (html: unknown) => frames.push(html));
            await naive.subscribe(socket, naive.server.turbo.sign('ticker'));
            await Promise.all([1, 2, 3].map((n) => naive.server.turbo.broadcast('ticker', TurboStream.update({ id: 'n' }, { text: `${n}` }))));
            await eventually(() => assert.equal(frames.length, 3));
            assert.equal(frames.every((html) => typeof html === 'string'), true);
        }
        finally {
            await naive.close();
        }
    });

    it('refuses the default namespace', async () => {

        await fixture.start();
        const socket = connect(`http://127.0.0.1:${fixture.server.info.port}/`, { transports: ['websocket'], reconnection: false, forceNew: true });
        const error = await new Promise<Error>((resolve) => socket.once('connect_error', resolve));
        socket.disconnect();
        assert.match(error.message, /\/turbo namespace/);
    });

    it('keeps per-stream order and numbers messages 1, 2, 3 even when an earlier render is slower', async () => {

        await fixture.start();
        const topic = await fixture.Topic.create({ title: 'News' });
        const socket = await fixture.client();
        const received = collect(socket);
        await fixture.subscribe(socket, fixture.server.turbo.signedStreamName(topic));

        await Promise.all([
            fixture.server.turbo.broadcast(topic, TurboStream.append({ id: 'posts' }, { template: 'blog/post', context: { post: { id: 1, body: 'slow' } } })),
            fixture.server.turbo.broadcast(topic, TurboStream.append({ id: 'posts' }, { text: 'fast' })),
            fixture.server.turbo.broadcast(topic, TurboStream.append({ id: 'posts' }, { text: 'fastest' }))
        ]);

        await eventually(() => assert.equal(received.length, 3));
        assert.deepEqual(received.map((item) => item.seq), [1, 2, 3]);
        assert.match(received[0]!.html, /slow/);
        assert.match(received[2]!.html, /fastest/);
    });
});
