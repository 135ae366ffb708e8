import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, it } from 'node:test';

import Hapi from '@hapi/hapi';
import Vision from '@hapi/vision';
import Handlebars from 'handlebars';

import HapiTurbo, { TurboStream, TURBO_STREAM_TYPE } from '../../lib/turbo/index.ts';
import { verifyStreamName } from '../../lib/turbo/signing.ts';
import { collect, createFixture, eventually, SECRET, VIEWS, type Fixture } from '../support/fixture.ts';


const bareServer = async function () {

    const server = Hapi.server();
    await server.register(Vision);
    server.views({ engines: { html: Handlebars.create() }, path: VIEWS });
    return server;
};


describe('plugin registration', () => {

    it('validates its options', async () => {

        const attempt = async (options: object) => (await bareServer()).register({ plugin: HapiTurbo, options });
        await assert.rejects(attempt({ secret: 'short', streams: {} }), /"secret" must be at least 32 bytes long/);
        await assert.rejects(attempt({ secret: SECRET, streams: {}, transport: 'carrier-pigeon' }), /"transport" must be one of/);
        await assert.rejects(attempt({ secret: SECRET, streams: {}, path: 'no-slash' }), /"path"/);
        await assert.rejects(attempt({ secret: SECRET, streams: { blog: [class NotAStream {}] } }), /streams.blog holds NotAStream, which is not a Stream subclass/);
        await assert.rejects(attempt({ secret: [SECRET, 'short'], streams: {} }), /at least 32 bytes/);
    });

    it('requires a secret outside NODE_ENV=test', async () => {

        const previous = process.env.NODE_ENV;
        process.env.NODE_ENV = 'production';
        try {
            const server = await bareServer();
            await assert.rejects(server.register({ plugin: HapiTurbo, options: { streams: {} } }), /"secret" is required/);
        }
        finally {
            process.env.NODE_ENV = previous;
        }
    });

    it('runs without a secret under NODE_ENV=test, signing with a random one', async () => {

        const previous = process.env.NODE_ENV;
        process.env.NODE_ENV = 'test';
        try {
            const server = await bareServer();
            await server.register({ plugin: HapiTurbo, options: { streams: {}, transport: 'memory' } });
            assert.equal(server.turbo.verify(server.turbo.sign('x')), 'x');
        }
        finally {
            process.env.NODE_ENV = previous;
        }
    });

    it('depends on @hapi/vision', async () => {

        const server = Hapi.server();
        await server.register({ plugin: HapiTurbo, options: { secret: SECRET, streams: {}, transport: 'memory' } });
        await assert.rejects(server.initialize(), /missing dependency @hapi\/vision/);
    });

    it('is registered once', async () => {

        const server = await bareServer();
        await server.register({ plugin: HapiTurbo, options: { secret: SECRET, streams: {}, transport: 'memory' } });
        await server.register({ plugin: HapiTurbo, options: { secret: SECRET, streams: {}, transport: 'memory' } });
        assert.equal(server.turbo.transport.kind, 'memory');
    });

    it('discovers <app>/streams.ts modules when no streams are given', async () => {

        const server = await bareServer();
        await server.register({ plugin: HapiTurbo, options: { secret: SECRET, transport: 'memory', streamsPath: fileURLToPath(new URL('../support/apps/', import.meta.url)) } });
        assert.deepEqual(server.turbo.registry.entries.map(([identity]) => identity), ['news:TickerStream']);
        assert.equal(server.turbo.streamName('news:TickerStream'), 'news:TickerStream');
        assert.throws(() => server.turbo.streamName('news:Missing'), /unknown stream "news:Missing"; registered streams: news:TickerStream/);
    });
});


describe('decorations', () => {

    let fixture: Fixture;

    afterEach(async () => {

        await fixture.close();
    });

    it('h.turboStream() replies text/vnd.turbo-stream.html with every fragment, and request.acceptsTurboStream reads Accept', async () => {

        fixture = await createFixture({ transport: 'memory' });
        fixture.server.route({
            method: 'POST',
            path: '/posts',
            handler: (request, h) => {

                if (!request.acceptsTurboStream) {
                    return h.redirect('/');
                }

                return h.turboStream(
                    TurboStream.append({ id: 'posts' }, { template: 'blog/post', context: { post: { id: 7, body: '<em>new</em>' } } }),
                    TurboStream.update({ id: 'count' }, { text: '1 post' })
                );
            }
        });

        await fixture.server.initialize();
        const res = await fixture.server.inject({ method: 'POST', url: '/posts', headers: { accept: `${TURBO_STREAM_TYPE}, text/html, application/xhtml+xml` } });
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['content-type'], `${TURBO_STREAM_TYPE}; charset=utf-8`);
        assert.equal(res.payload, '<turbo-stream action="append" target="posts"><template><li id="post-7">&lt;em&gt;new&lt;/em&gt;</li>\n</template></turbo-stream>' +
            '<turbo-stream action="update" target="count"><template>1 post</template></turbo-stream>');

        const plain = await fixture.server.inject({ method: 'POST', url: '/posts', headers: { accept: 'text/html' } });
        assert.equal(plain.statusCode, 302);
    });

    it('serves Turbo, the socket.io client and the element', async () => {

        fixture = await createFixture({ transport: 'memory' });
        await fixture.server.initialize();
        for (const [file, marker] of [['hapi-turbo.js', 'turbo-socket-stream-source'], ['turbo.es2017-esm.js', 'connectStreamSource'], ['socket.io.esm.min.js', 'Socket.IO']]) {
            const res = await fixture.server.inject(`/_turbo/${file}`);
            assert.equal(res.statusCode, 200, file);
            assert.match(String(res.headers['content-type']), /javascript/);
            assert.ok(res.payload.includes(marker!), file);
        }

        assert.equal((await fixture.server.inject('/_turbo/../package.json')).statusCode, 404);
        assert.equal((await fixture.server.inject('/_turbo/identity')).statusCode, 404, 'internal routes are not public');
    });

    it('renders {{turbo_head}} and {{turbo_subscribe}} in pages, with model instances in the context', async () => {

        fixture = await createFixture({ transport: 'memory' });
        const topic = await fixture.Topic.create({ title: 'Tom & "Jerry"' });
        await fixture.Post.create({ body: '<script>alert(1)</script>', topicId: topic.id });
        fixture.server.route({
            method: 'GET',
            path: '/topics/{id}',
            handler: async (request, h) => h.view('blog/page', { topic: await fixture.Topic.findByPk(Number(request.params.id), { include: ['posts'] }) })
        });

        await fixture.server.initialize();
        const res = await fixture.server.inject(`/topics/${topic.id}`);
        assert.equal(res.statusCode, 200);
        assert.match(res.payload, /<h1>Tom &amp; &quot;Jerry&quot;<\/h1>/);
        assert.match(res.payload, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
        assert.match(res.payload, /<script type="module" src="\/_turbo\/hapi-turbo.js"><\/script>/);
        assert.match(res.payload, /<meta name="hapi-turbo-socket-path" content="\/socket.io">/);

        const [, signed, epoch, seq] = /<turbo-socket-stream-source signed-stream-name="([^"]+)" epoch="([^"]+)" seq="(\d+)"><\/turbo-socket-stream-source>/.exec(res.payload) ?? [];
        assert.equal(verifyStreamName(signed, SECRET), `blog:TopicStream[${topic.id}]`);
        assert.deepEqual({ epoch, seq: Number(seq) }, fixture.server.turbo.position(topic), 'the page records where the stream stood');
    });

    it('leaves the scripts out of {{turbo_head scripts=false}}, for pages that bundle hapi-turbo/client', async () => {

        fixture = await createFixture({ transport: 'memory' });
        fixture.server.route({ method: 'GET', path: '/bundled', handler: (request, h) => h.view('blog/bundled', {}) });
        await fixture.server.initialize();
        const res = await fixture.server.inject('/bundled');
        assert.equal(res.statusCode, 200);
        assert.match(res.payload, /<meta name="hapi-turbo-socket-path" content="\/socket.io">/);
        assert.doesNotMatch(res.payload, /\/_turbo\//);
        assert.match(res.payload, /<turbo-socket-stream-source signed-stream-name="[^"]+"/);
    });

    it('refuses {{turbo_subscribe}} without a stream', async () => {

        fixture = await createFixture({ transport: 'memory' });
        await fixture.server.initialize();
        const manager = fixture.server.getViewsManager() as unknown as { _engines: { html: { module: typeof Handlebars } } };
        const template = manager._engines.html.module.compile('{{turbo_subscribe missing}}');
        assert.throws(() => template({}), /turbo_subscribe needs one or more streams/);
        assert.match(manager._engines.html.module.compile('{{turbo_subscribe "blog:NoticeStream" "room/1"}}')({}), /(<turbo-socket-stream-source [^>]+><\/turbo-socket-stream-source>){2}/);
    });

    it('server.turbo.broadcast() takes rows, Streams and names, and renders once for several streams', async () => {

        fixture = await createFixture({ transport: 'memory' });
        await fixture.server.initialize();
        const topic = await fixture.Topic.create({ title: 'News' });
        const before = fixture.server.turbo.stats.renders;
        await fixture.server.turbo.broadcast([topic, 'blog:NoticeStream', 'room/1'], TurboStream.refresh());
        assert.equal(fixture.server.turbo.stats.renders - before, 1);
        const memory = fixture.server.turbo.transport as import('../../lib/turbo/index.ts').MemoryTransport;
        assert.deepEqual(memory.published.slice(-3).map((record) => [record.stream, record.seq]), [[`blog:TopicStream[${topic.id}]`, 1], ['blog:NoticeStream', 1], ['room/1', 1]]);
        await fixture.server.turbo.broadcast([], TurboStream.refresh());                 // Blank: nothing (plain-stream.spec.ts)
        assert.equal(memory.published.length, 3);
    });
});


describe('template rendering', () => {

    // A views folder of its own, so its files can be edited and removed
    const serverOn = async function (isCached: boolean) {

        const dir = await mkdtemp(join(tmpdir(), 'hapi-turbo-views-'));
        await writeFile(join(dir, 'note.html'), '<p>{{text}} one</p>');
        const server = Hapi.server();
        await server.register(Vision);
        server.views({ engines: { html: Handlebars.create() }, path: dir, isCached });
        await server.register({ plugin: HapiTurbo, options: { secret: SECRET, streams: {}, transport: 'memory' } });
        await server.initialize();
        const render = () => server.turbo.render(TurboStream.update({ id: 'n' }, { template: 'note', context: { text: 'a' } }));
        return { dir, server, render, close: async () => {

            await server.stop();
            await rm(dir, { recursive: true, force: true });
        } };
    };

    it('looks a template up once while vision caches templates, so a broadcast does not wait for the file system', async () => {

        const app = await serverOn(true);
        try {
            assert.match(await app.render(), /<p>a one<\/p>/);
            await rm(join(app.dir, 'note.html'));
            assert.match(await app.render(), /<p>a one<\/p>/, 'rendered from the cache: the file is not looked up again');
            await assert.rejects(app.server.turbo.render(TurboStream.update({ id: 'n' }, { template: 'missing', context: {} })), /missing/);
        }
        finally {
            await app.close();
        }
    });

    it('renders every edit with isCached: false (development)', async () => {

        const app = await serverOn(false);
        try {
            assert.match(await app.render(), /<p>a one<\/p>/);
            await writeFile(join(app.dir, 'note.html'), '<p>{{text}} two</p>');
            assert.match(await app.render(), /<p>a two<\/p>/);
        }
        finally {
            await app.close();
        }
    });
});


describe('server.stop()', () => {

    it('then server.start() again: model hooks broadcast and sockets receive, as before the stop', async () => {

        const fixture = await createFixture();
        try {
            await fixture.start();
            const topic = await fixture.Topic.create({ title: 'News' });
            await fixture.server.stop({ timeout: 1000 });
            await fixture.server.start();

            const socket = await fixture.client();
            const received = collect(socket);
            assert.deepEqual(await fixture.subscribe(socket, fixture.server.turbo.signedStreamName(topic)), { ok: true, stream: topic.stream.name });
            await fixture.Post.create({ topicId: topic.id, body: 'after the restart' });
            await fixture.server.turbo.drain();
            await eventually(() => assert.equal(received.length, 1));
            assert.match(received[0]!.html, /<turbo-stream action="append" target="posts">.*after the restart/s);
            assert.equal(received[0]!.stream, topic.stream.name);
        }
        finally {
            await fixture.close();
        }
    });

    it('closes every socket: the process exits by itself', async () => {

        const script = fileURLToPath(new URL('../support/scripts/start-and-stop.ts', import.meta.url));
        const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        let output = '';
        child.stdout.on('data', (chunk) => output += chunk);
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (...args) => resolve(args)));
        clearTimeout(timer);
        assert.equal(output.trim(), 'stopped');
        assert.equal(signal, null, 'killed after 20 s: something kept the process alive');
        assert.equal(code, 0);
    });
});
