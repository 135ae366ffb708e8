import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { escapeHtml } from '../../lib/turbo/index.ts';
import { captureBroadcasts, parseTurboStreams } from '../../lib/turbo/testing.ts';
import { crumbOf, sourceElement, startChat, submit, type Chat } from './chat-fixture.ts';


describe('Broadcast box', () => {

    let chat: Chat;
    let crumb: string;

    beforeEach(async () => {

        chat = await startChat();
        crumb = await crumbOf(chat.server);
    });

    afterEach(async () => {

        await chat.close();
    });

    it('renders the box, its subscription and the form', async () => {

        const res = await chat.server.inject('/broadcast');
        assert.equal(res.statusCode, 200);
        const signed = escapeHtml(chat.server.turbo.signedStreamName('chat:BroadcastStream'));
        assert.match(res.payload, sourceElement(signed));
        assert.match(res.payload, /<p id="broadcast_box"[^>]*>/);
        assert.match(res.payload, /<turbo-frame id="broadcast-form">\s*<form action="\/broadcast" method="post"/);
    });

    it('updates the box in every window with the text, escaped, and resets the form', async () => {

        let res!: Awaited<ReturnType<typeof submit>>;
        const broadcasts = await captureBroadcasts(async () => {

            res = await submit(chat.server, '/broadcast', { text: '<b>hello</b> & bye' }, { crumb });
        });

        assert.deepEqual(broadcasts.map(({ stream, action, target, html }) => [stream, action, target, html]), [
            ['chat:BroadcastStream', 'update', 'broadcast_box', '&lt;b&gt;hello&lt;/b&gt; &amp; bye']
        ]);

        assert.equal(res.statusCode, 200);
        const reply = parseTurboStreams(res.payload);
        assert.deepEqual(reply.map(({ action, target }) => [action, target]), [['replace', 'broadcast-form']]);
        assert.match(reply[0]!.html, /name="text" value=""/);
    });

    it('answers empty or over-long text with 422 and broadcasts nothing', async () => {

        const broadcasts = await captureBroadcasts(async () => {

            const empty = await submit(chat.server, '/broadcast', { text: ' ' }, { crumb });
            assert.equal(empty.statusCode, 422);
            assert.match(empty.payload, /^<turbo-frame id="broadcast-form">/);
            assert.ok(empty.payload.includes('<li>Text cannot be empty.</li>'));

            const long = await submit(chat.server, '/broadcast', { text: 'b'.repeat(256) }, { crumb });
            assert.equal(long.statusCode, 422);
            assert.ok(long.payload.includes('<li>Text must be at most 255 characters long.</li>'));
        });

        assert.equal(broadcasts.length, 0);
    });

    it('refuses a broadcast without a valid CSRF token (403)', async () => {

        const broadcasts = await captureBroadcasts(async () => {

            const res = await submit(chat.server, '/broadcast', { text: 'forged' }, { crumb: null });
            assert.equal(res.statusCode, 403);
        });

        assert.equal(broadcasts.length, 0);
    });
});
