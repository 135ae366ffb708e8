import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';

import type Handlebars from 'handlebars';

import { plainStream, TurboStream, verifyStreamName } from '../../lib/turbo/index.ts';
import { collect, createFixture, eventually, SECRET, type Fixture } from '../support/fixture.ts';

// Stream names as turbo-rails allows them: any string, colons included, and several parts joined
// into one name; and blank streamables, which turbo-rails skips. Against a real server and sockets.

const compile = function (fixture: Fixture, source: string) {

    const manager = fixture.server.getViewsManager() as unknown as { _engines: { html: { module: typeof Handlebars } } };
    return manager._engines.html.module.compile(source);
};

const signedNamesIn = (html: string) => [...html.matchAll(/signed-stream-name="([^"]+)"/g)].map(([, signed]) => verifyStreamName(signed, SECRET));

let fixture: Fixture;

afterEach(async () => {

    await fixture.close();
});


describe('plain stream names', () => {

    it('takes names with colons that are not a registered app\'s class names as plain streams: named, signed, subscribed, received', async () => {

        fixture = await (await createFixture()).start();
        const { server } = fixture;
        const names = ['channel:messages', 'gid://app/Room/1:comments', 'Z2lkOi8vYXBwL1Jvb20vMQ:comments', 'blog:messages', 'room/1989'];
        for (const name of names) {
            assert.equal(server.turbo.streamName(name), name);
            const socket = await fixture.client();
            const received = collect(socket);
            assert.deepEqual(await fixture.subscribe(socket, server.turbo.signedStreamName(name)), { ok: true, stream: name });
            await server.turbo.broadcast(name, TurboStream.update({ id: 'x' }, { text: name }));
            await eventually(() => assert.equal(received.length, 1));
            assert.equal(received[0]!.html, `<turbo-stream action="update" target="x"><template>${name}</template></turbo-stream>`);
        }
    });

    it('keeps "<app>:<Class>" names of the registered apps for their classes: a typo is an error, a removed class forbidden', async () => {

        fixture = await (await createFixture()).start();
        const { server } = fixture;
        assert.throws(() => server.turbo.streamName('blog:TopicStrem'), /unknown stream "blog:TopicStrem"; registered streams: blog:TopicStream/);
        assert.throws(() => server.turbo.streamName(plainStream('blog:NoticeStream')), /plainStream\(\) cannot name "blog:NoticeStream"/);
        const socket = await fixture.client();
        assert.deepEqual(await fixture.subscribe(socket, server.turbo.sign('blog:RemovedStream[1]')), { ok: false, error: 'forbidden' });
    });

    it('plainStream(...parts) joins rows, Streams and text with ":" into one stream, apart from the row\'s own', async () => {

        fixture = await (await createFixture()).start();
        const { server } = fixture;
        const topic = await fixture.Topic.create({ title: 'News' });
        const messages = plainStream(topic, 'messages');
        assert.equal(server.turbo.streamName(messages), `blog:TopicStream[${topic.id}]:messages`);
        assert.equal(server.turbo.streamName(plainStream(topic.stream, 2, plainStream('a', 'b'))), `blog:TopicStream[${topic.id}]:2:a:b`);
        assert.equal(server.turbo.streamName(plainStream(topic, topic)), `blog:TopicStream[${topic.id}]:blog:TopicStream[${topic.id}]`);
        assert.throws(() => plainStream(topic, null), /plainStream\(\) needs one or more parts, none blank/);
        assert.throws(() => plainStream(), /needs one or more parts/);

        const [onMessages, onTopic] = [await fixture.client(), await fixture.client()];
        const [heard, overheard] = [collect(onMessages), collect(onTopic)];
        assert.deepEqual(await fixture.subscribe(onMessages, server.turbo.signedStreamName(messages)), { ok: true, stream: `blog:TopicStream[${topic.id}]:messages` });
        assert.deepEqual(await fixture.subscribe(onTopic, server.turbo.signedStreamName(topic)), { ok: true, stream: topic.stream.name });

        await server.turbo.broadcast(messages, TurboStream.append({ id: 'messages' }, { text: 'hello' }));
        await server.turbo.broadcast(topic, TurboStream.append({ id: 'posts' }, { text: 'post' }));
        await eventually(() => assert.equal(heard.length + overheard.length, 2));
        assert.deepEqual(heard.map((message) => message.stream), [`blog:TopicStream[${topic.id}]:messages`]);
        assert.deepEqual(overheard.map((message) => message.stream), [topic.stream.name]);
    });

    it('{{turbo_plain_stream}} names one plain stream in {{turbo_subscribe}}, where several arguments stay several streams', async () => {

        fixture = await createFixture({ transport: 'memory' });
        await fixture.server.initialize();
        const topic = await fixture.Topic.create({ title: 'News' });
        const html = compile(fixture, '{{turbo_subscribe (turbo_plain_stream topic "messages") "channel:messages" topic}}')({ topic });
        assert.deepEqual(signedNamesIn(html), [`blog:TopicStream[${topic.id}]:messages`, 'channel:messages', topic.stream.name]);
    });
});


describe('blank streamables', () => {

    it('are skipped by broadcasts, as turbo-rails does: a broadcast to nothing but blanks sends nothing, and says so in the log', async () => {

        fixture = await (await createFixture()).start();
        const { server } = fixture;
        const logged: string[][] = [];
        server.events.on('log', (event) => logged.push(event.tags));
        const topic = await fixture.Topic.create({ title: 'News' });
        const socket = await fixture.client();
        const received = collect(socket);
        assert.deepEqual(await fixture.subscribe(socket, server.turbo.signedStreamName(topic)), { ok: true, stream: topic.stream.name });

        const before = server.turbo.stats.broadcasts;
        for (const blank of [null, undefined, '', '  ', [], [null], [null, ''], [[undefined]]]) {
            await server.turbo.broadcast(blank, TurboStream.remove({ id: 'x' }));
            await server.turbo.broadcastToOthers(blank, TurboStream.remove({ id: 'x' }));
        }

        assert.equal(server.turbo.stats.broadcasts, before);
        assert.equal(logged.filter((tags) => tags.includes('blank')).length, 16);

        await server.turbo.broadcast([null, topic, ''], TurboStream.remove({ id: 'y' }));
        await eventually(() => assert.equal(received.length, 1));
        assert.deepEqual(received.map(({ html, seq }) => [seq, html]), [[1, '<turbo-stream action="remove" target="y"></turbo-stream>']]);
    });

    it('are skipped by {{turbo_subscribe}}, which still needs one stream that is not blank', async () => {

        fixture = await createFixture({ transport: 'memory' });
        await fixture.server.initialize();
        const topic = await fixture.Topic.create({ title: 'News' });
        const template = compile(fixture, '{{turbo_subscribe nothing topic empty list}}');
        assert.deepEqual(signedNamesIn(template({ topic, empty: '', list: [null] })), [topic.stream.name]);
        assert.throws(() => template({ empty: '', list: [null] }), /turbo_subscribe needs one or more streams that are not blank/);
    });
});
