import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { TurboStream } from '../../lib/turbo/fragment.ts';
import { assertBroadcasts, assertNoBroadcasts, captureBroadcasts } from '../../lib/turbo/testing.ts';
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
            /expected 2 Turbo Stream broadcast\(s\), got 1:\n {2}blog:TopicStream\[\d+\] #2: append posts/);
    });

    it('assertNoBroadcasts() fails when something was broadcast', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        await assertNoBroadcasts(topic, () => fixture.Topic.create({ title: 'Unrelated' }));
        await assert.rejects(assertNoBroadcasts(topic, () => fixture.Post.create({ body: 'a', topicId: topic.id })), /expected 0/);
    });

    it('the memory transport delivers to in-process subscribers', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        const memory = fixture.server.turbo.transport as import('../../lib/turbo/index.ts').MemoryTransport;
        const received: number[] = [];
        const unsubscribe = memory.subscribe(topic.stream.name, (record) => received.push(record.seq));
        await fixture.Post.create({ body: 'a', topicId: topic.id });
        unsubscribe();
        await fixture.Post.create({ body: 'b', topicId: topic.id });
        assert.deepEqual(received, [1]);
        assert.equal(memory.published.length, 2);
    });
});
