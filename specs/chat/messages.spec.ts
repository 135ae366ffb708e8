import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { escapeHtml, type BroadcastRecord } from '../../lib/turbo/index.ts';
import { captureBroadcasts, parseTurboStreams } from '../../lib/turbo/testing.ts';
import type { Message, Room } from '../../lib/chat/models.ts';
import { crumbOf, sourceElement, startChat, submit, visibleText, type Chat } from './chat-fixture.ts';

const SCRIPT = '<script>alert(1)</script>';
const ESCAPED_SCRIPT = '&lt;script&gt;alert(1)&lt;/script&gt;';


describe('Room detail and messages', () => {

    let chat: Chat;
    let crumb: string;
    let room: Room;
    let demo: Message;

    beforeEach(async () => {

        chat = await startChat();
        crumb = await crumbOf(chat.server);
        room = (await chat.Room.findOne({ where: { name: 'Demo Room' } }))!;
        demo = (await chat.Message.findOne({ where: { roomId: room.id } }))!;
    });

    afterEach(async () => {

        await chat.close();
    });

    it('renders the room: its name, a home link, the subscription to its stream, its messages and the lazy send form', async () => {

        const second = await chat.Message.create({ roomId: room.id, text: 'second' });
        const res = await chat.server.inject(`/${room.id}/`);
        assert.equal(res.statusCode, 200);
        assert.match(res.payload, /<h1>Demo Room<\/h1>/);
        assert.match(res.payload, /<a href="\/">Home<\/a>/);
        assert.equal(chat.server.turbo.streamName(room), `chat:RoomStream[${room.id}]`);
        const signed = escapeHtml(chat.server.turbo.signedStreamName(room));
        assert.match(res.payload, sourceElement(signed));
        assert.match(res.payload, /<turbo-frame id="message-list">\s*<ul id="messages"><li id="message-\d+">/);
        assert.match(res.payload, new RegExp(`<turbo-frame id="send-message" src="/${room.id}/message_create"></turbo-frame>`));

        const items = [...res.payload.matchAll(/<li id="message-(\d+)">([\s\S]*?)<\/li>/g)];
        assert.deepEqual(items.map((match) => Number(match[1])), [demo.id, second.id], 'oldest first');
        assert.match(visibleText(items[0]![2]!), /^\d{4}-\d\d-\d\d \d\d:\d\d : demo message \[Edit\] \[Remove\]$/);
    });

    it('shows message text literally on the page', async () => {

        await chat.Message.create({ roomId: room.id, text: SCRIPT });
        const res = await chat.server.inject(`/${room.id}/`);
        assert.ok(res.payload.includes(ESCAPED_SCRIPT));
        assert.ok(!res.payload.includes(SCRIPT));
    });

    it('answers unknown and malformed room ids with a 404 page', async () => {

        for (const url of ['/999/', '/abc/', '/0/', '/1.5/', '/-1/', '/1e3/', '/99999999999999999999/', '/999/message_create', '/abc/message_create']) {
            const res = await chat.server.inject(url);
            assert.equal(res.statusCode, 404, url);
            assert.match(String(res.headers['content-type']), /^text\/html/, url);
            assert.match(res.payload, /<h1>404 Not Found<\/h1>/, url);
        }

        const post = await submit(chat.server, '/999/message_create', { text: 'hello' }, { crumb });
        assert.equal(post.statusCode, 404);
        assert.match(post.payload, /Room not found/);
        assert.equal(await chat.Message.count(), 1);
    });

    it('serves the send form in its turbo-frame', async () => {

        const res = await chat.server.inject(`/${room.id}/message_create`);
        assert.equal(res.statusCode, 200);
        assert.match(res.payload, /^<turbo-frame id="send-message">/);
        assert.match(res.payload, new RegExp(`<form action="/${room.id}/message_create" method="post"`));
        assert.match(res.payload, /<input id="message-text" name="text" value=""/);
        assert.ok(!res.payload.includes('<html'), 'only the frame, without the layout');
    });

    it('creates a message: redirects to a fresh form and appends the message, escaped and highlighted, in every window of the room', async () => {

        let res!: Awaited<ReturnType<typeof submit>>;
        const broadcasts = await captureBroadcasts(async () => {

            res = await submit(chat.server, `/${room.id}/message_create`, { text: SCRIPT }, { crumb });
        }, room);

        assert.equal(res.statusCode, 303);
        assert.equal(res.headers.location, `/${room.id}/message_create`);

        const message = (await chat.Message.findOne({ where: { roomId: room.id }, order: [['id', 'DESC']] }))!;
        assert.equal(message.text, SCRIPT, 'saved as typed');
        assert.equal(broadcasts.errors.length, 0);
        assert.deepEqual(broadcasts.map(({ stream, action, target }) => [stream, action, target]), [
            [`chat:RoomStream[${room.id}]`, 'append', 'messages'],
            [`chat:RoomStream[${room.id}]`, 'highlight', `message-${message.id}`]
        ]);
        assert.equal(broadcasts[0]!.seq, broadcasts[1]!.seq, 'the append and the highlight are one message');
        assert.match(broadcasts[0]!.html, new RegExp(`^<li id="message-${message.id}">`));
        assert.ok(broadcasts[0]!.html.includes(`<span class="text">${ESCAPED_SCRIPT}</span>`));
        assert.ok(!broadcasts[0]!.html.includes('<script>'));
        assert.ok(!broadcasts[0]!.html.includes(crumb), 'broadcast markup holds no per-user token');

        const form = await chat.server.inject(res.headers.location as string);
        assert.match(form.payload, /name="text" value=""/, 'the redirect lands on an empty form');
    });

    for (const [label, text, error] of [
        ['empty', '', 'Message cannot be empty.'],
        ['blank', '  \n ', 'Message cannot be empty.'],
        ['longer than 255 characters', 'm'.repeat(256), 'Message must be at most 255 characters long.']
    ] as const) {
        it(`answers a message that is ${label} with 422 and the form showing why, and saves nothing`, async () => {

            let res!: Awaited<ReturnType<typeof submit>>;
            const broadcasts = await captureBroadcasts(async () => {

                res = await submit(chat.server, `/${room.id}/message_create`, { text }, { crumb });
            });

            assert.equal(res.statusCode, 422);
            assert.match(res.payload, /^<turbo-frame id="send-message">/);
            assert.ok(res.payload.includes(`<ul class="errors"><li>${error}</li></ul>`));
            assert.equal(await chat.Message.count(), 1);
            assert.equal(broadcasts.length, 0);
        });
    }

    it('refuses a message without a valid CSRF token (403), saves and broadcasts nothing', async () => {

        const broadcasts = await captureBroadcasts(async () => {

            assert.equal((await submit(chat.server, `/${room.id}/message_create`, { text: 'forged' }, { crumb: null })).statusCode, 403);
            assert.equal((await submit(chat.server, `/${room.id}/message_create`, { text: 'forged' }, { crumb, header: 'wrong' })).statusCode, 403);
            assert.equal((await submit(chat.server, `/message/${demo.id}/edit`, { text: 'forged' }, { crumb: null })).statusCode, 403);
            assert.equal((await submit(chat.server, `/message/${demo.id}/delete`, {}, { crumb: null })).statusCode, 403);
        });

        assert.equal(broadcasts.length, 0);
        assert.deepEqual((await chat.Message.findAll()).map((message) => message.text), ['demo message']);
    });

    it('serves the edit form in the message\'s own turbo-frame, with the text escaped', async () => {

        await demo.update({ text: 'say "hi" <b>' });
        const page = await chat.server.inject(`/${room.id}/`);
        assert.match(page.payload, new RegExp(`<a href="/message/${demo.id}/edit" data-turbo-frame="message-${demo.id}-edit">\\[Edit\\]</a>`));
        assert.ok(page.payload.includes(`<turbo-frame id="message-${demo.id}-edit"></turbo-frame>`));

        const res = await chat.server.inject(`/message/${demo.id}/edit`);
        assert.equal(res.statusCode, 200);
        assert.match(res.payload, new RegExp(`^<turbo-frame id="message-${demo.id}-edit">`));
        assert.match(res.payload, new RegExp(`<form action="/message/${demo.id}/edit" method="post"`));
        assert.ok(res.payload.includes('value="say &quot;hi&quot; &lt;b&gt;"'));
    });

    it('edits a message: every window of the room gets it replaced, and so does the editor\'s', async () => {

        let res!: Awaited<ReturnType<typeof submit>>;
        const broadcasts = await captureBroadcasts(async () => {

            res = await submit(chat.server, `/message/${demo.id}/edit`, { text: `edited ${SCRIPT}` }, { crumb });
        });

        assert.equal(res.statusCode, 200);
        const reply = parseTurboStreams(res.payload);
        assert.deepEqual(reply.map(({ action, target, attributes }) => [action, target, attributes.method]), [['replace', `message-${demo.id}`, 'morph']]);
        assert.ok(reply[0]!.html.includes(`edited ${ESCAPED_SCRIPT}`));

        await demo.reload();
        assert.equal(demo.text, `edited ${SCRIPT}`);
        assert.deepEqual(broadcasts.map(({ stream, action, target, attributes }) => [stream, action, target, attributes.method]), [[`chat:RoomStream[${room.id}]`, 'replace', `message-${demo.id}`, 'morph']]);
        assert.equal(broadcasts[0]!.html, reply[0]!.html, 'the reply and the broadcast show the same thing');
        assert.ok(!broadcasts[0]!.html.includes('<script>'));
    });

    it('skips the editor\'s own socket when broadcasting an edit, and no one on a create', async () => {

        const records: BroadcastRecord[] = [];
        const stop = chat.server.turbo.observe({ broadcast: (record) => records.push(record) });
        try {
            const headers = { 'x-turbo-socket-id': 'editor-socket-id' };
            await submit(chat.server, `/message/${demo.id}/edit`, { text: 'edited' }, { crumb, headers });
            await submit(chat.server, `/${room.id}/message_create`, { text: 'new' }, { crumb, headers });
            await submit(chat.server, `/message/${demo.id}/edit`, { text: 'edited again' }, { crumb });
            await chat.server.turbo.drain();
        }
        finally {
            stop();
        }

        // The edit reply updates the editor's window; a new message reaches it only through the socket
        assert.deepEqual(records.map((record) => record.except ?? null), ['editor-socket-id', null, null]);
    });

    it('answers an invalid edit with 422 in the edit frame and keeps the message', async () => {

        const broadcasts = await captureBroadcasts(async () => {

            const res = await submit(chat.server, `/message/${demo.id}/edit`, { text: ' ' }, { crumb });
            assert.equal(res.statusCode, 422);
            assert.match(res.payload, new RegExp(`^<turbo-frame id="message-${demo.id}-edit">`));
            assert.ok(res.payload.includes('<li>Message cannot be empty.</li>'));
        });

        assert.equal(broadcasts.length, 0);
        await demo.reload();
        assert.equal(demo.text, 'demo message');
    });

    it('removes a message with a POST: every window of the room drops it', async () => {

        const page = await chat.server.inject(`/${room.id}/`);
        assert.match(page.payload, new RegExp(`<form action="/message/${demo.id}/delete" method="post"[^>]*><button type="submit"[^>]*>\\[Remove\\]</button></form>`));

        let res!: Awaited<ReturnType<typeof submit>>;
        const broadcasts = await captureBroadcasts(async () => {

            res = await submit(chat.server, `/message/${demo.id}/delete`, {}, { crumb });
        });

        assert.equal(res.statusCode, 200);
        assert.deepEqual(parseTurboStreams(res.payload).map(({ action, target }) => [action, target]), [['remove', `message-${demo.id}`]]);
        assert.equal(await chat.Message.count(), 0);
        assert.deepEqual(broadcasts.map(({ stream, action, target }) => [stream, action, target]), [[`chat:RoomStream[${room.id}]`, 'remove', `message-${demo.id}`]]);
    });

    it('sends clients without Turbo back to the room after an edit or a removal', async () => {

        const edit = await submit(chat.server, `/message/${demo.id}/edit`, { text: 'plain' }, { crumb, accept: 'text/html' });
        assert.equal(edit.statusCode, 303);
        assert.equal(edit.headers.location, `/${room.id}/`);

        const remove = await submit(chat.server, `/message/${demo.id}/delete`, {}, { crumb, accept: 'text/html' });
        assert.equal(remove.statusCode, 303);
        assert.equal(remove.headers.location, `/${room.id}/`);
    });

    it('never changes anything on GET', async () => {

        for (const url of [`/message/${demo.id}/delete`, '/rooms/delete_all']) {
            const res = await chat.server.inject(url);
            assert.equal(res.statusCode, 404, url);
        }

        assert.equal(await chat.Message.count(), 1);
        assert.equal(await chat.Room.count(), 1);
    });

    it('answers unknown and malformed message ids with a 404 page', async () => {

        for (const url of ['/message/999/edit', '/message/abc/edit', '/message/0/edit']) {
            const res = await chat.server.inject(url);
            assert.equal(res.statusCode, 404, url);
            assert.match(res.payload, /<h1>404 Not Found<\/h1>/, url);
        }

        for (const url of ['/message/999/edit', '/message/999/delete', '/message/abc/delete']) {
            const res = await submit(chat.server, url, { text: 'x' }, { crumb });
            assert.equal(res.statusCode, 404, url);
            assert.match(String(res.headers['content-type']), /^text\/html/, url);
        }
    });
});
