import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { TurboStream } from '../../lib/turbo/fragment.ts';
import { runWithRequestId, suppressingBroadcasts, type MemoryTransport } from '../../lib/turbo/index.ts';
import {
    assertBroadcasts, assertNoBroadcasts, assertTurboStreamResponse, captureBroadcasts, drainBroadcasts, fakeBroadcasts, type BroadcastFake
} from '../../lib/turbo/testing.ts';
import { createFixture, type Fixture } from '../support/fixture.ts';


describe('testing kit', () => {

    let fixture: Fixture;

    beforeEach(async () => {

        fixture = await createFixture({ transport: 'memory' });
        await fixture.server.initialize();
    });

    afterEach(async () => {

        await fixture.close();
    });

    it('captureBroadcasts() parses what was broadcast, filtered by streamables', async () => {

        const [news, other] = [await fixture.Topic.create({ title: 'News' }), await fixture.Topic.create({ title: 'Other' })];
        const captured = await captureBroadcasts(async () => {

            await fixture.Post.create({ body: 'a', topicId: news.id });
            await fixture.Post.create({ body: 'b', topicId: other.id });
            await fixture.server.turbo.broadcast(news, TurboStream.remove({ id: 'x' }), TurboStream.refresh());
        }, news);

        assert.deepEqual(captured.map(({ stream, seq, action, target }) => ({ stream, seq, action, target })), [
            { stream: news.stream.name, seq: 1, action: 'append', target: 'posts' },
            { stream: news.stream.name, seq: 2, action: 'remove', target: 'x' },
            { stream: news.stream.name, seq: 2, action: 'refresh', target: undefined }
        ]);
        assert.match(captured[0]!.html, /<li id="post-\d+">a<\/li>/);
        assert.equal((await captureBroadcasts(() => fixture.Post.create({ body: 'c', topicId: other.id }))).length, 1, 'no filter: everything');
    });

    it('assertBroadcasts() counts, and says what it saw when the count is wrong', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        await assertBroadcasts(topic, 1, () => fixture.Post.create({ body: 'a', topicId: topic.id }));
        await assert.rejects(assertBroadcasts(topic, 2, () => fixture.Post.create({ body: 'b', topicId: topic.id })),
            /expected 2 Turbo Stream broadcast\(s\) on "blog:TopicStream\[\d+\]", got 1:\n {2}blog:TopicStream\[\d+\] #2: append posts/);
    });

    it('assertBroadcasts() and assertNoBroadcasts() name the streams they watched and list what arrived on the others', async () => {

        const [news, other] = [await fixture.Topic.create({ title: 'News' }), await fixture.Topic.create({ title: 'Other' })];
        await assert.rejects(assertBroadcasts(news, 1, () => fixture.Post.create({ body: 'astray', topicId: other.id })), (error: Error) => {

            assert.equal(error.message, `expected 1 Turbo Stream broadcast(s) on "${news.stream.name}", got 0\n` +
                `broadcast on other streams meanwhile:\n  ${other.stream.name} #1: append posts`);
            return true;
        });

        await assert.rejects(assertNoBroadcasts([news, 'audit'], async () => {

            await fixture.Post.create({ body: 'a', topicId: news.id });
            await fixture.server.turbo.broadcast('audit', TurboStream.remove({ id: 'x' }));
            await fixture.server.turbo.broadcast('elsewhere', TurboStream.remove({ selector: '#y li' }));
        }), (error: Error) => {

            assert.equal(error.message, `expected 0 Turbo Stream broadcast(s) on "${news.stream.name}", "audit", got 2:\n` +
                `  ${news.stream.name} #1: append posts\n  audit #1: remove x\n` +
                'broadcast on other streams meanwhile:\n  elsewhere #1: remove #y li');
            return true;
        });
    });

    it('assertNoBroadcasts() fails when something was broadcast', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        await assertNoBroadcasts(topic, () => fixture.Topic.create({ title: 'Unrelated' }));
        await assert.rejects(assertNoBroadcasts(topic, () => fixture.Post.create({ body: 'a', topicId: topic.id })), /expected 0/);
    });
});


describe('fakeBroadcasts()', () => {

    let fixture: Fixture;
    let fake: BroadcastFake | undefined;

    beforeEach(async () => {

        fixture = await createFixture({ transport: 'memory', broadcastsRefreshes: { topic: true }, refresh: { debounce: 60_000 } });
        await fixture.server.initialize();
    });

    afterEach(async () => {

        fake?.restore();
        fake = undefined;
        await fixture.close();
    });

    it('records broadcasts, parsed, and sends none: no transport, no seq, no replay', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        await drainBroadcasts();
        const memory = fixture.server.turbo.transport as MemoryTransport;
        const [published, position, sent] = [memory.published.length, fixture.server.turbo.position(topic), fixture.server.turbo.stats.broadcasts];

        fake = fakeBroadcasts();
        const post = await fixture.Post.create({ body: 'a', topicId: topic.id });
        await fixture.server.turbo.broadcast([topic, 'audit'], TurboStream.remove({ selector: '#posts li' }));
        await drainBroadcasts();

        assert.deepEqual(fake.broadcasts.map(({ stream, action, target, targets }) => ({ stream, action, target, targets })), [
            { stream: topic.stream.name, action: 'append', target: 'posts', targets: undefined },
            { stream: topic.stream.name, action: 'remove', target: undefined, targets: '#posts li' },
            { stream: 'audit', action: 'remove', target: undefined, targets: '#posts li' }
        ]);
        assert.equal(fake.broadcasts[0]!.html, `<li id="post-${post.id}">a</li>\n`);
        assert.equal(memory.published.length, published, 'nothing reached the transport');
        assert.deepEqual(fixture.server.turbo.position(topic), position, 'no seq was taken');
        assert.equal(fixture.server.turbo.stats.broadcasts, sent);

        fake.restore();
        await fixture.Post.create({ body: 'b', topicId: topic.id });
        assert.equal(memory.published.length, published + 1, 'restored: broadcasts reach the transport again');
        assert.equal(fake.broadcasts.length, 3, 'and are no longer recorded');
    });

    it('assertBroadcasted() and assertBroadcastedTimes() match a predicate, and say what was broadcast when they fail', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        await drainBroadcasts();
        fake = fakeBroadcasts();
        await fixture.Post.create({ body: 'a', topicId: topic.id });
        await fixture.Post.create({ body: 'b', topicId: topic.id });

        const appends = fake.assertBroadcasted((broadcast) => broadcast.action === 'append' && broadcast.stream === topic.stream.name);
        assert.equal(appends.length, 2);
        assert.equal(fake.assertBroadcastedTimes((broadcast) => broadcast.action === 'append', 2).length, 2);
        assert.equal(fake.assertBroadcastedTimes((broadcast) => broadcast.action === 'remove', 0).length, 0);

        assert.throws(() => fake!.assertBroadcasted((broadcast) => broadcast.action === 'remove'),
            /expected a matching Turbo Stream broadcast, got none among 2:\n {2}blog:TopicStream\[\d+\]: append posts\n/);
        assert.throws(() => fake!.assertBroadcastedTimes((broadcast) => broadcast.action === 'append', 1), /expected 1 matching Turbo Stream broadcast\(s\), got 2/);
    });

    it('assertNothingBroadcasted() fails when something was, and clear() forgets', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        await drainBroadcasts();
        fake = fakeBroadcasts();
        fake.assertNothingBroadcasted();

        await fixture.Post.create({ body: 'a', topicId: topic.id });
        assert.throws(() => fake!.assertNothingBroadcasted(), /expected no Turbo Stream broadcast, got 1:\n {2}blog:TopicStream\[\d+\]: append posts/);
        fake.clear();
        fake.assertNothingBroadcasted();
    });

    it('records debounced refreshes once drained, with their request-id', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        await drainBroadcasts();
        fake = fakeBroadcasts();
        await runWithRequestId('tab-1', async () => {

            for (let i = 0; i < 5; ++i) {
                await topic.update({ title: `News ${i}` });
            }
        });

        fake.assertNothingBroadcasted();
        await drainBroadcasts();
        const [refresh] = fake.assertBroadcastedTimes((broadcast) => broadcast.action === 'refresh', 1);
        assert.deepEqual(refresh!.attributes, { 'request-id': 'tab-1' });
    });

    it('still renders, so a missing template fails; suppressed broadcasts are not recorded', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        await drainBroadcasts();
        fake = fakeBroadcasts();
        await assert.rejects(topic.stream.append('blog/missing', {}, { id: 'posts' }), /missing/);
        await suppressingBroadcasts(() => fixture.Post.create({ body: 'quiet', topicId: topic.id }));
        fake.assertNothingBroadcasted();
    });
});


describe('assertTurboStreamResponse()', () => {

    let fixture: Fixture;

    beforeEach(async () => {

        fixture = await createFixture({ transport: 'memory' });
        fixture.server.route([
            {
                method: 'POST',
                path: '/stream',
                handler: (_request, h) => h.turboStream(
                    TurboStream.append({ id: 'posts' }, { text: 'one' }),
                    TurboStream.append({ id: 'posts' }, { text: 'two' }),
                    TurboStream.remove({ selector: '#flash p' })
                )
            },
            { method: 'POST', path: '/json', handler: () => ({ ok: true }) },
            {
                method: 'POST',
                path: '/created',
                handler: async (_request, h) => (await h.turboStream(TurboStream.append({ id: 'posts' }, { text: 'new' }))).code(201)
            },
            {
                method: 'POST',
                path: '/invalid',
                handler: async (_request, h) => (await h.turboStream(TurboStream.replace({ id: 'form' }, { text: 'body is required' }))).code(422)
            }
        ]);
        await fixture.server.initialize();
    });

    afterEach(async () => {

        await fixture.close();
    });

    it('checks the status, the content type and the elements, and returns the matching ones', async () => {

        const res = await fixture.server.inject({ method: 'POST', url: '/stream' });
        const appends = assertTurboStreamResponse(res, { action: 'append', target: 'posts' });
        assert.deepEqual(appends.map((element) => element.html), ['one', 'two']);
        assert.equal(assertTurboStreamResponse(res, { action: 'append', count: 2 }).length, 2);
        assert.equal(assertTurboStreamResponse(res, { action: 'remove', targets: '#flash p', count: 1 }).length, 1);
    });

    it('fails on a wrong count, target or action, naming what the reply holds', async () => {

        const res = await fixture.server.inject({ method: 'POST', url: '/stream' });
        assert.throws(() => assertTurboStreamResponse(res, { action: 'append', count: 1 }),
            /expected 1 <turbo-stream append>, got 2; the reply holds 3:\n {2}append posts\n {2}append posts\n {2}remove #flash p/);
        assert.throws(() => assertTurboStreamResponse(res, { action: 'append', target: 'comments' }), /expected at least 1 <turbo-stream append target="comments">, got 0/);
        assert.throws(() => assertTurboStreamResponse(res, { action: 'replace' }), /got 0/);
        assert.throws(() => assertTurboStreamResponse(res, { action: 'remove', targets: '#other' }), /got 0/);
    });

    it('fails on a status other than 200 and on another content type', async () => {

        assert.throws(() => assertTurboStreamResponse({ statusCode: 404, headers: {}, payload: 'Not Found' }, { action: 'append' }),
            /expected a Turbo Stream reply with status 200, got 404: Not Found/);
        const json = await fixture.server.inject({ method: 'POST', url: '/json' });
        assert.throws(() => assertTurboStreamResponse(json, { action: 'append' }), /expected Content-Type text\/vnd.turbo-stream.html, got application\/json/);
        const missing = await fixture.server.inject({ method: 'POST', url: '/nowhere' });
        assert.throws(() => assertTurboStreamResponse(missing, { action: 'append' }), /status 200, got 404/);
    });

    it('takes the status to expect, as turbo-rails\' status: :created or :unprocessable_entity', async () => {

        const created = await fixture.server.inject({ method: 'POST', url: '/created' });
        assert.deepEqual(assertTurboStreamResponse(created, { action: 'append', target: 'posts', status: 201 }).map((element) => element.html), ['new']);
        assert.throws(() => assertTurboStreamResponse(created, { action: 'append' }), /expected a Turbo Stream reply with status 200, got 201/);

        const invalid = await fixture.server.inject({ method: 'POST', url: '/invalid' });
        assert.equal(assertTurboStreamResponse(invalid, { action: 'replace', target: 'form', status: 422, count: 1 }).length, 1);
        assert.throws(() => assertTurboStreamResponse(invalid, { action: 'replace', status: 201 }), /status 201, got 422: <turbo-stream action="replace"/);
    });
});
