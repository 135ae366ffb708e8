import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { escapeHtml } from '../../lib/turbo/index.ts';
import { captureBroadcasts, parseTurboStreams } from '../../lib/turbo/testing.ts';
import { crumbOf, sourceElement, startChat, submit, type Chat } from './chat-fixture.ts';


describe('Room list', () => {

    let chat: Chat;
    let crumb: string;

    beforeEach(async () => {

        chat = await startChat();
        crumb = await crumbOf(chat.server);
    });

    afterEach(async () => {

        await chat.close();
    });

    it('renders the rooms, the subscription to the room list stream and the create-room form', async () => {

        const res = await chat.server.inject('/');
        assert.equal(res.statusCode, 200);
        assert.match(String(res.headers['content-type']), /^text\/html/);

        const signed = escapeHtml(chat.server.turbo.signedStreamName('chat:RoomListStream'));
        assert.match(res.payload, sourceElement(signed));
        assert.match(res.payload, /<ul id="room_list"><li id="room-1"><a href="\/1\/">Demo Room<\/a><\/li>\s*<\/ul>/);
        assert.match(res.payload, /<turbo-frame id="create-room-form">\s*<form action="\/" method="post"/);
        assert.match(res.payload, /<input id="room-name" name="name" value=""/);
        assert.match(res.payload, /<button type="submit">Add<\/button>/);
        assert.match(res.payload, /<button type="submit" formaction="\/rooms\/delete_all"[^>]*>Delete all<\/button>/);
        assert.match(res.payload, /<script type="module" src="\/_turbo\/turbo.es2017-esm.js"><\/script>/, 'the layout loads Turbo');
    });

    it('sets the crumb cookie and prints the same value in the csrf-token meta tag', async () => {

        const res = await chat.server.inject('/');
        const cookie = [res.headers['set-cookie'] ?? []].flat().find((item) => item.startsWith('crumb='))!;
        assert.match(cookie, /HttpOnly/);
        assert.match(cookie, /SameSite=Strict/);
        const value = cookie.slice('crumb='.length).split(';')[0]!;
        assert.ok(res.payload.includes(`<meta name="csrf-token" content="${value}">`));

        const again = await chat.server.inject({ url: '/', headers: { cookie: `crumb=${value}` } });
        assert.equal(again.headers['set-cookie'], undefined, 'a browser keeps its crumb');
        assert.ok(again.payload.includes(`<meta name="csrf-token" content="${value}">`));
    });

    it('creates a room: the reply replaces the form with a fresh one and every room list gets the room appended', async () => {

        let res!: Awaited<ReturnType<typeof submit>>;
        const broadcasts = await captureBroadcasts(async () => {

            res = await submit(chat.server, '/', { name: '  Kitchen  ' }, { crumb });
        });

        assert.equal(res.statusCode, 200);
        assert.match(String(res.headers['content-type']), /^text\/vnd\.turbo-stream\.html/);
        const reply = parseTurboStreams(res.payload);
        assert.deepEqual(reply.map(({ action, target }) => [action, target]), [['replace', 'create-room-form']]);
        assert.match(reply[0]!.html, /<turbo-frame id="create-room-form">/);
        assert.match(reply[0]!.html, /name="name" value=""/);

        const room = await chat.Room.findOne({ where: { name: 'Kitchen' } });
        assert.ok(room, 'the name is saved trimmed');
        assert.equal(broadcasts.errors.length, 0);
        assert.deepEqual(broadcasts.map(({ stream, action, target }) => [stream, action, target]), [['chat:RoomListStream', 'append', 'room_list']]);
        assert.equal(broadcasts[0]!.html.trim(), `<li id="room-${room.id}"><a href="/${room.id}/">Kitchen</a></li>`);
    });

    it('shows room names literally, in the broadcast and on the page', async () => {

        const name = '<script>alert("x")</script>';
        const broadcasts = await captureBroadcasts(() => submit(chat.server, '/', { name }, { crumb }));
        assert.equal(broadcasts.length, 1);
        assert.ok(!broadcasts[0]!.html.includes('<script>'));
        assert.ok(broadcasts[0]!.html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));

        const page = await chat.server.inject('/');
        assert.ok(page.payload.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
        assert.ok(!page.payload.includes('<script>alert'));
    });

    it('redirects back to the list when the client does not take a stream reply', async () => {

        const res = await submit(chat.server, '/', { name: 'Hall' }, { crumb, accept: 'text/html' });
        assert.equal(res.statusCode, 303);
        assert.equal(res.headers.location, '/');
        assert.equal(await chat.Room.count({ where: { name: 'Hall' } }), 1);
    });

    it('deletes every room and message and removes every item of every room list', async () => {

        await submit(chat.server, '/', { name: 'Second' }, { crumb });
        let res!: Awaited<ReturnType<typeof submit>>;
        const broadcasts = await captureBroadcasts(async () => {

            res = await submit(chat.server, '/rooms/delete_all', {}, { crumb });
        });

        assert.equal(res.statusCode, 200);
        assert.deepEqual(parseTurboStreams(res.payload).map(({ action, target }) => [action, target]), [['replace', 'create-room-form']]);
        assert.equal(await chat.Room.count(), 0);
        assert.equal(await chat.Message.count(), 0, 'messages go with their rooms');
        const rooms = broadcasts.filter(({ stream }) => stream.startsWith('chat:RoomStream['));
        assert.deepEqual(rooms.map(({ action }) => action), ['refresh', 'refresh'], 'open room pages refresh and find their room gone');
        assert.deepEqual(broadcasts.filter((item) => !rooms.includes(item)).map(({ stream, action, target, targets, html }) => [stream, action, target, targets, html]), [
            ['chat:RoomListStream', 'remove', undefined, '#room_list li', '']
        ]);

        const page = await chat.server.inject('/');
        assert.match(page.payload, /<ul id="room_list"><\/ul>\s*<p class="empty-state">No rooms yet/, 'the empty state is not an item of the list');
    });

    for (const [label, name, message] of [
        ['empty', '', 'Room name cannot be empty.'],
        ['blank', '   \t ', 'Room name cannot be empty.'],
        ['longer than 255 characters', 'x'.repeat(256), 'Room name must be at most 255 characters long.']
    ] as const) {
        it(`answers a name that is ${label} with 422 and the form showing why, and saves nothing`, async () => {

            let res!: Awaited<ReturnType<typeof submit>>;
            const broadcasts = await captureBroadcasts(async () => {

                res = await submit(chat.server, '/', { name }, { crumb });
            });

            assert.equal(res.statusCode, 422);
            assert.match(String(res.headers['content-type']), /^text\/html/);
            assert.match(res.payload, /^<turbo-frame id="create-room-form">/);
            assert.ok(res.payload.includes(`<ul class="errors"><li>${message}</li></ul>`));
            assert.equal(await chat.Room.count(), 1, 'only the demo room');
            assert.equal(broadcasts.length, 0);
        });
    }

    it('keeps what was typed when a name is too long, and takes exactly 255 characters', async () => {

        const res = await submit(chat.server, '/', { name: 'y'.repeat(256) }, { crumb });
        assert.ok(res.payload.includes(`value="${'y'.repeat(256)}"`));

        const ok = await submit(chat.server, '/', { name: 'y'.repeat(255) }, { crumb });
        assert.equal(ok.statusCode, 200);
        assert.equal(await chat.Room.count(), 2);
    });

    it('refuses writes without a valid CSRF token (403) and saves nothing', async () => {

        let responses: Awaited<ReturnType<typeof submit>>[] = [];
        const broadcasts = await captureBroadcasts(async () => {

            responses = await Promise.all([
                submit(chat.server, '/', { name: 'Forged' }, { crumb: null }),
                submit(chat.server, '/', { name: 'Forged' }, { crumb, header: 'not-the-crumb' }),
                chat.server.inject({ method: 'POST', url: '/', payload: { name: 'Forged' }, headers: { 'x-csrf-token': crumb } }),
                submit(chat.server, '/rooms/delete_all', {}, { crumb: null })
            ]);
        });

        assert.equal(responses.length, 4);
        for (const res of responses) {
            assert.equal(res.statusCode, 403);
            assert.match(String(res.headers['content-type']), /^text\/html/);
        }

        assert.equal(await chat.Room.count(), 1);
        assert.equal(broadcasts.length, 0);
    });

    it('refuses a 10 MB body with 413 and saves nothing', async () => {

        const res = await submit(chat.server, '/', { name: 'x'.repeat(10 * 1024 * 1024) }, { crumb });
        assert.equal(res.statusCode, 413);
        assert.match(res.payload, /<h1>413 Request Entity Too Large<\/h1>/);
        assert.equal(await chat.Room.count(), 1);
    });

    it('answers an unknown page with a 404 HTML page', async () => {

        const res = await chat.server.inject('/no/such/page');
        assert.equal(res.statusCode, 404);
        assert.match(String(res.headers['content-type']), /^text\/html/);
        assert.match(res.payload, /<h1>404 Not Found<\/h1>/);
        assert.match(res.payload, /<a href="\/">Home<\/a>/);
    });
});
