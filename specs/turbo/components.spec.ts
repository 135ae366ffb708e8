import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import Boom from '@hapi/boom';
import Hapi from '@hapi/hapi';
import Vision from '@hapi/vision';
import Handlebars from 'handlebars';
import { io as connect, type Socket } from 'socket.io-client';

import HapiTurbo, { BroadcastComponent, componentDomId, UserBroadcastComponent } from '../../lib/turbo/index.ts';
import { StreamRegistry } from '../../lib/turbo/registry.ts';
import { parseTurboStreams } from '../../lib/turbo/testing.ts';
import { collect, eventually, SECRET, VIEWS } from '../support/fixture.ts';

// Components (turbo-django's BroadcastComponent and UserBroadcastComponent) on a real server: the
// first render by {{turbo_component}}, broadcasts by component.render(), and per-user access.

class AlertComponent extends BroadcastComponent {

    static override template = 'components/alert';

    override context() {

        return { level: 'info', text: 'All quiet.' };
    }
}


class CounterComponent extends UserBroadcastComponent {

    static override template = 'components/counter';

    override context() {

        return { count: 0 };
    }
}


// A component whose state needs the database: fine for render(), refused for the first render
class AsyncComponent extends BroadcastComponent {

    static override template = 'components/alert';

    override async context() {

        return { text: 'later' };
    }
}


// Its template is a view, but not a partial (outside partialsPath): the first render cannot find it
class NotAPartialComponent extends BroadcastComponent {

    static override template = 'not-a-partial';
}


const elementsOf = (html: string) => [...html.matchAll(/<turbo-socket-stream-source signed-stream-name="([^"]+)" epoch="[^"]+" seq="(\d+)"><\/turbo-socket-stream-source><div id="([^"]+)" class="turbo-component">([\s\S]*?)<\/div>/g)]
    .map(([, signed, seq, id, inner]) => ({ signed: signed!, seq: Number(seq), id: id!, inner: inner!.trim() }));


describe('components', () => {

    let server: Hapi.Server;
    const sockets: Socket[] = [];

    // A socket of `user` (a bearer token; none for a visitor without one)
    const client = async function (user?: string): Promise<Socket> {

        const socket = connect(`http://127.0.0.1:${server.info.port}/turbo`, { transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: user ? { authorization: `Bearer ${user}` } : {} });
        sockets.push(socket);
        await new Promise((resolve, reject) => socket.once('connect', () => resolve(undefined)).once('connect_error', reject));
        return socket;
    };

    const subscribe = async (socket: Socket, signedStreamName: string) => {

        const { ok, error, stream } = await socket.timeout(5000).emitWithAck('subscribe', { signedStreamName });
        return { ok, error, stream } as { ok: boolean; error?: string; stream?: string };
    };

    before(async () => {

        server = Hapi.server({ host: '127.0.0.1', port: 0 });
        await server.register(Vision);
        server.views({ engines: { html: Handlebars.create() }, path: VIEWS, partialsPath: VIEWS, isCached: true });
        server.auth.scheme('bearer', () => ({
            authenticate: (request, h) => {

                const token = /^Bearer (\w+)$/.exec(String(request.headers.authorization ?? ''))?.[1];
                return token ? h.authenticated({ credentials: { user: { id: token } } }) : h.unauthenticated(Boom.unauthorized(null, 'Bearer'));
            }
        }));
        server.auth.strategy('bearer', 'bearer');
        server.auth.default({ strategy: 'bearer', mode: 'try' });
        await server.register({ plugin: HapiTurbo, options: { secret: SECRET, streams: { demo: { AlertComponent, CounterComponent, AsyncComponent, NotAPartialComponent, BroadcastComponent, UserBroadcastComponent } } } });
        await server.start();
    });

    after(async () => {

        sockets.forEach((socket) => socket.disconnect());
        await server.stop({ timeout: 1000 });
    });

    it('gives each component a stable, valid DOM id derived from its stream name', () => {

        const alice = new CounterComponent('alice');
        assert.equal(alice.name, 'demo:CounterComponent["alice"]');
        assert.match(alice.domId, /^turbo-component-[0-9a-f]{16}$/);
        assert.equal(alice.domId, componentDomId('demo:CounterComponent["alice"]'));
        assert.equal(new CounterComponent({ user: { id: 'alice' } }).domId, alice.domId, 'the same user, however given');
        assert.notEqual(new CounterComponent('bob').domId, alice.domId);
        assert.notEqual(new AlertComponent().domId, alice.domId);
        assert.ok(!alice.domId.includes('alice'), 'no constructor argument in the markup');
    });

    it('registers subclasses only, not the two base classes', () => {

        assert.deepEqual(server.turbo.registry.entries.map(([identity]) => identity), ['demo:AlertComponent', 'demo:CounterComponent', 'demo:AsyncComponent', 'demo:NotAPartialComponent']);
        assert.equal(new StreamRegistry({ demo: { BroadcastComponent, UserBroadcastComponent } }).entries.length, 0);
    });

    it('{{turbo_component}} prints the subscription, then the first state inside the wrapper; hash arguments override context()', async () => {

        const counter = new CounterComponent('carol');
        const html = await server.render('components/page', { userId: 'alice', counter }) as string;
        const [alert, alice, carol] = elementsOf(html);
        assert.equal(elementsOf(html).length, 3);

        assert.equal(server.turbo.verify(alert!.signed), 'demo:AlertComponent');
        assert.equal(alert!.id, new AlertComponent().domId);
        assert.equal(alert!.inner, '<p class="alert warning">All quiet.</p>');

        assert.equal(server.turbo.verify(alice!.signed), 'demo:CounterComponent["alice"]');
        assert.equal(alice!.id, new CounterComponent('alice').domId);
        assert.equal(alice!.inner, '<span class="count">0</span>');

        assert.equal(server.turbo.verify(carol!.signed), 'demo:CounterComponent["carol"]');
        assert.equal(carol!.id, counter.domId);
    });

    it('render() broadcasts one update of the wrapper, rendered once, to every subscriber', async () => {

        const sockets = await Promise.all([client(), client('alice')]);
        const inboxes = sockets.map(collect);
        for (const socket of sockets) {
            assert.deepEqual(await subscribe(socket, server.turbo.signedStreamName(new AlertComponent())), { ok: true, error: undefined, stream: 'demo:AlertComponent' });
        }

        const before = { ...server.turbo.stats };
        await new AlertComponent().render({ level: 'danger', text: 'Fire <drill>' });
        await eventually(() => assert.equal(inboxes.filter((inbox) => inbox.length === 1).length, 2));

        assert.equal(server.turbo.stats.renders - before.renders, 1);
        assert.equal(server.turbo.stats.templates - before.templates, 1);
        const [fragment, ...others] = parseTurboStreams(inboxes[0]![0]!.html);
        assert.equal(others.length, 0);
        assert.deepEqual([fragment!.action, fragment!.targets], ['update', `#${new AlertComponent().domId}`]);
        assert.equal(fragment!.html.trim(), '<p class="alert danger">Fire &lt;drill&gt;</p>');
        assert.equal(inboxes[1]![0]!.html, inboxes[0]![0]!.html);
    });

    it('lets only its own user subscribe to a user component, whatever the signature', async () => {

        const [alice, bob, anonymous] = [await client('alice'), await client('bob'), await client()];
        const signed = server.turbo.signedStreamName(new CounterComponent('alice'));
        assert.deepEqual(await subscribe(bob, signed), { ok: false, error: 'forbidden', stream: undefined });
        assert.deepEqual(await subscribe(anonymous, signed), { ok: false, error: 'forbidden', stream: undefined });
        assert.deepEqual(await subscribe(alice, signed), { ok: true, error: undefined, stream: 'demo:CounterComponent["alice"]' });
    });

    it('renders a user component into that user\'s sockets and no one else\'s', async () => {

        const [alice1, alice2, bob] = [await client('alice'), await client('alice'), await client('bob')];
        const inboxes = [alice1, alice2, bob].map(collect);
        for (const [socket, user] of [[alice1, 'alice'], [alice2, 'alice'], [bob, 'bob']] as const) {
            assert.equal((await subscribe(socket, server.turbo.signedStreamName(new CounterComponent(user)))).ok, true);
        }

        await new CounterComponent('alice').render({ count: 1 });
        await new CounterComponent('alice').render({ count: 2 });
        await eventually(() => assert.equal(inboxes[0]!.length + inboxes[1]!.length, 4));
        await server.turbo.drain();
        // A round trip on bob's socket: anything sent to it before would have arrived first
        await subscribe(bob, 'bogus');
        assert.deepEqual(inboxes[2], []);
        assert.deepEqual(inboxes[0]!.map(({ html }) => parseTurboStreams(html)[0]!.html.trim()), ['<span class="count">1</span>', '<span class="count">2</span>']);
    });

    it('compares user ids as text, and refuses to be built without a user', () => {

        assert.equal(new CounterComponent(17).userPassesTest({ user: { id: '17' } }), true);
        assert.equal(new CounterComponent('17').userPassesTest({ id: 17 }), true);
        assert.equal(new CounterComponent('17').userPassesTest({ user: '17' }), true);
        assert.equal(new CounterComponent('17').userPassesTest({ user: { id: '18' } }), false);
        assert.equal(new CounterComponent('17').userPassesTest(null), false);
        assert.equal(new CounterComponent('17').userPassesTest({ user: { id: { toString: () => '17' } } }), false);
        for (const user of [null, undefined, '', {}, { id: null }, { user: null }, Number.NaN]) {
            assert.throws(() => new CounterComponent(user), /CounterComponent needs a user/);
        }
    });

    it('explains what a first render cannot do', () => {

        // Templates compiled by the views' own engine, where the helpers are registered
        const manager = server.getViewsManager() as unknown as { getEngine(): { module: typeof Handlebars } };
        const cases: [string, RegExp][] = [
            ['{{turbo_component "demo:NoSuchComponent"}}', /turbo_component needs a component.*demo:AlertComponent/],
            ['{{turbo_component "demo:AsyncComponent"}}', /AsyncComponent\.context\(\) returned a promise/],
            ['{{turbo_component "demo:NotAPartialComponent"}}', /"not-a-partial" is none: add its folder to the partialsPath/],
            ['{{turbo_component missing}}', /turbo_component needs a component/]
        ];

        for (const [source, pattern] of cases) {
            assert.throws(() => manager.getEngine().module.compile(source)({}), pattern, source);
        }
    });

    it('lets async context() feed render()', async () => {

        const socket = await client();
        const inbox = collect(socket);
        await subscribe(socket, server.turbo.signedStreamName('demo:AsyncComponent'));
        await new AsyncComponent().render();
        await eventually(() => assert.equal(inbox.length, 1));
        assert.match(inbox[0]!.html, /later/);
    });

    it('{{turbo_refreshes_with}} in a page puts the refresh meta tags in the layout\'s head; other pages have none', async () => {

        const morphing = await server.render('components/morphing', {}, { layout: 'layout', layoutPath: `${VIEWS}components` } as never) as string;
        const [head, body] = morphing.split('</head>');
        assert.match(head!, /<meta name="turbo-refresh-method" content="morph">\s*<meta name="turbo-refresh-scroll" content="preserve">/);
        assert.ok(!body!.includes('turbo-refresh'), 'nothing in the body');

        const plain = await server.render('components/plain', {}, { layout: 'layout', layoutPath: `${VIEWS}components` } as never) as string;
        assert.ok(!plain.includes('turbo-refresh'));

        const manager = server.getViewsManager() as unknown as { getEngine(): { module: typeof Handlebars } };
        assert.throws(() => manager.getEngine().module.compile('{{turbo_refreshes_with method="fade"}}')({}), /method="morph"\|"replace"/);
    });
});
