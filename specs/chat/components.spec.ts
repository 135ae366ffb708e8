import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { io as connect, type Socket } from 'socket.io-client';

import { AlertComponent, CounterComponent } from '../../lib/chat/components.ts';
import { captureBroadcasts, parseTurboStreams } from '../../lib/turbo/testing.ts';
import { crumbOf, startChat, submit, type Chat } from './chat-fixture.ts';

// The components page: an alert for everyone, a counter per anonymous visitor (a signed cookie
// read by the `visitor` auth scheme, which also tells hapi-turbo who each socket is).

const visitorCookie = (setCookie: string | string[] | undefined) => [setCookie ?? []].flat().find((cookie) => cookie.startsWith('visitor='))?.split(';')[0];

// "visitor=<base64 JSON>.<signature>": the id inside, as the server reads it once the signature checks
const visitorIdOf = (cookie: string) => (JSON.parse(Buffer.from(cookie.slice('visitor='.length).split('.')[0]!, 'base64').toString()) as { id: string }).id;

// The signed stream names a page subscribes to, in order: the alert's, then the counter's
const signedNamesOf = (page: string) => [...page.matchAll(/signed-stream-name="([^"]+)"/g)].map((match) => match[1]!);


describe('Components page', () => {

    let chat: Chat;
    let crumb: string;
    const sockets: Socket[] = [];

    /** A first visit: the visitor's cookie and the page it got. */
    const visit = async function (cookie?: string) {

        const res = await chat.server.inject({ url: '/components', headers: cookie ? { cookie } : {} });
        assert.equal(res.statusCode, 200);
        return { cookie: visitorCookie(res.headers['set-cookie']) ?? cookie!, page: res.payload, minted: visitorCookie(res.headers['set-cookie']) !== undefined };
    };

    const counterOf = (page: string) => /<div id="(turbo-component-[0-9a-f]+)" class="turbo-component"><p class="counter">You clicked <strong>(\d+)<\/strong> times\.<\/p>/.exec(page);

    const socketOf = async function (cookie?: string): Promise<Socket> {

        const socket = connect(`http://127.0.0.1:${chat.server.info.port}/turbo`, { transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: cookie ? { cookie } : {} });
        sockets.push(socket);
        await new Promise((resolve, reject) => socket.once('connect', () => resolve(undefined)).once('connect_error', reject));
        return socket;
    };

    const subscribe = async (socket: Socket, signedStreamName: string) => {

        const { ok, error } = await socket.timeout(5000).emitWithAck('subscribe', { signedStreamName });
        return { ok, error } as { ok: boolean; error?: string };
    };

    beforeEach(async () => {

        chat = await startChat({ host: '127.0.0.1', port: 0 });
        await chat.server.start();
        crumb = await crumbOf(chat.server);
    });

    afterEach(async () => {

        sockets.splice(0).forEach((socket) => socket.disconnect());
        await chat.close();
    });

    it('gives a first-time visitor a signed cookie, and the same identity on the next visit', async () => {

        const first = await visit();
        assert.equal(first.minted, true);
        const setCookie = [(await chat.server.inject('/components')).headers['set-cookie']].flat().find((cookie) => cookie?.startsWith('visitor='))!;
        assert.match(setCookie, /HttpOnly/);
        assert.match(setCookie, /SameSite=Lax/);

        const again = await visit(first.cookie);
        assert.equal(again.minted, false, 'a known visitor keeps its cookie');
        const streamsOf = (page: string) => signedNamesOf(page).map((signed) => chat.server.turbo.verify(signed));
        assert.deepEqual(streamsOf(again.page), streamsOf(first.page));
        assert.deepEqual(streamsOf(first.page), ['chat:AlertComponent', `chat:CounterComponent["${visitorIdOf(first.cookie)}"]`]);

        // Another browser is another visitor
        const other = await visit();
        assert.notEqual(visitorIdOf(other.cookie), visitorIdOf(first.cookie));
        assert.deepEqual(streamsOf(other.page), ['chat:AlertComponent', `chat:CounterComponent["${visitorIdOf(other.cookie)}"]`]);
    });

    it('treats a forged or tampered visitor cookie as none', async () => {

        const { cookie } = await visit();
        const [name, value] = cookie.split('=');
        const forged = `${name}=${Buffer.from(JSON.stringify({ id: '00000000-0000-4000-8000-000000000000' })).toString('base64')}.${value!.split('.')[1]}`;
        for (const bad of [forged, `${cookie}x`, 'visitor=garbage']) {
            const res = await visit(bad);
            assert.equal(res.minted, true, bad);
        }

        const res = await chat.server.inject({ method: 'POST', url: '/components/counter', headers: { cookie: `${forged}; crumb=${crumb}`, 'x-csrf-token': crumb, 'content-type': 'application/x-www-form-urlencoded' }, payload: '' });
        assert.equal(res.statusCode, 401);
    });

    it('shows the alert to everyone: one update of its wrapper, text escaped; the form comes back fresh', async () => {

        const { page } = await visit();
        const wrapper = new AlertComponent().domId;
        assert.ok(page.includes(`<div id="${wrapper}" class="turbo-component"><p class="alert box" role="status">`));

        let res!: Awaited<ReturnType<typeof submit>>;
        const broadcasts = await captureBroadcasts(async () => {

            res = await submit(chat.server, '/components/alert', { text: 'Lunch <now>' }, { crumb });
        });

        assert.equal(res.statusCode, 200);
        assert.deepEqual(parseTurboStreams(res.payload).map(({ action, target }) => [action, target]), [['replace', 'alert-form']]);
        assert.deepEqual(broadcasts.map(({ stream, action, targets }) => [stream, action, targets]), [['chat:AlertComponent', 'update', `#${wrapper}`]]);
        assert.equal(broadcasts[0]!.html.trim(), '<p class="alert box" role="status">Lunch &lt;now&gt;</p>');
        assert.ok((await visit()).page.includes('Lunch &lt;now&gt;'), 'a page opened later shows it');
    });

    it('refuses an empty alert (422) and any post without the CSRF token (403)', async () => {

        const broadcasts = await captureBroadcasts(async () => {

            const empty = await submit(chat.server, '/components/alert', { text: '  ' }, { crumb });
            assert.equal(empty.statusCode, 422);
            assert.match(empty.payload, /^<turbo-frame id="alert-form">[\s\S]*Text cannot be empty\./);
            const { cookie } = await visit();
            for (const url of ['/components/alert', '/components/counter']) {
                const res = await chat.server.inject({ method: 'POST', url, payload: 'text=x', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' } });
                assert.equal(res.statusCode, 403, url);
            }
        });

        assert.equal(broadcasts.length, 0);
    });

    it('counts "+1" per visitor: each click updates that visitor\'s counter only', async () => {

        const alice = await visit();
        const bob = await visit();
        const aliceCounter = new CounterComponent(visitorIdOf(alice.cookie));
        assert.equal(counterOf(alice.page)![1], aliceCounter.domId);

        const click = (who: { cookie: string }) => chat.server.inject({
            method: 'POST', url: '/components/counter', payload: '',
            headers: { cookie: `${who.cookie}; crumb=${crumb}`, 'x-csrf-token': crumb, 'content-type': 'application/x-www-form-urlencoded', accept: 'text/vnd.turbo-stream.html, text/html' }
        });

        const broadcasts = await captureBroadcasts(async () => {

            assert.equal((await click(alice)).statusCode, 200);
            assert.equal((await click(alice)).statusCode, 200);
        });

        assert.deepEqual(broadcasts.map(({ stream, action, targets, html }) => [stream, action, targets, /<strong>(\d+)<\/strong>/.exec(html)?.[1]]), [
            [aliceCounter.name, 'update', `#${aliceCounter.domId}`, '1'],
            [aliceCounter.name, 'update', `#${aliceCounter.domId}`, '2']
        ]);
        assert.equal(counterOf((await visit(alice.cookie)).page)![2], '2');
        assert.equal(counterOf((await visit(bob.cookie)).page)![2], '0');
    });

    it('refuses "+1" from a browser the page never met (401)', async () => {

        const res = await chat.server.inject({ method: 'POST', url: '/components/counter', payload: '', headers: { cookie: `crumb=${crumb}`, 'x-csrf-token': crumb, 'content-type': 'application/x-www-form-urlencoded' } });
        assert.equal(res.statusCode, 401);
        assert.match(res.payload, /<h1>401 Unauthorized<\/h1>/);
    });

    it('knows each socket\'s visitor: another visitor, or none, cannot subscribe to a visitor\'s counter', async () => {

        const [alice, bob] = [await visit(), await visit()];
        const signedOf = (page: string) => signedNamesOf(page)[1]!;
        const aliceSigned = signedOf(alice.page);
        assert.equal(chat.server.turbo.verify(aliceSigned), new CounterComponent(visitorIdOf(alice.cookie)).name);

        assert.deepEqual(await subscribe(await socketOf(bob.cookie), aliceSigned), { ok: false, error: 'forbidden' });
        assert.deepEqual(await subscribe(await socketOf(), aliceSigned), { ok: false, error: 'forbidden' });
        assert.deepEqual(await subscribe(await socketOf(`${alice.cookie}x`), aliceSigned), { ok: false, error: 'forbidden' });
        assert.deepEqual(await subscribe(await socketOf(alice.cookie), aliceSigned), { ok: true, error: undefined });
        assert.deepEqual(await subscribe(await socketOf(bob.cookie), signedOf(bob.page)), { ok: true, error: undefined });
    });

    it('links the components page from the room list', async () => {

        const res = await chat.server.inject('/');
        assert.match(res.payload, /<a href="\/components">Components demo<\/a>/);
    });
});


describe('Refresh method', () => {

    let chat: Chat;

    beforeEach(async () => {

        chat = await startChat();
    });

    afterEach(async () => {

        await chat.close();
    });

    it('asks Turbo to morph refreshes of a room page, keeping the scroll; other pages keep the default', async () => {

        const room = (await chat.Room.findOne())!;
        const head = (url: string) => chat.server.inject(url).then((res) => res.payload.split('</head>')[0]!);
        assert.match(await head(`/${room.id}/`), /<meta name="turbo-refresh-method" content="morph">\s*<meta name="turbo-refresh-scroll" content="preserve">/);
        for (const url of ['/', '/broadcast', '/components']) {
            assert.doesNotMatch(await head(url), /turbo-refresh/, url);
        }
    });
});
