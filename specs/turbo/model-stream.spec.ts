import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';

import type { Server } from '@hapi/hapi';

import { captureBroadcasts } from '../../lib/turbo/testing.ts';
import { collect, createFixture, eventually, type Fixture } from '../support/fixture.ts';


// What hapi-turbo logs as errors on the server's log
const errorsLogged = function (server: Server): unknown[] {

    const logged: unknown[] = [];
    server.events.on({ name: 'log', channels: 'app' }, (event) => {

        if (event.tags.includes('hapi-turbo') && event.tags.includes('error')) {
            logged.push(event.data);
        }
    });

    return logged;
};

describe('ModelStream', () => {

    let fixture: Fixture;

    beforeEach(async () => {

        fixture = await (await createFixture()).start();
    });

    afterEach(async () => {

        await fixture.close();
    });

    it('gives every row a .stream named after its primary key, also a row created a moment ago', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        assert.equal(topic.stream.name, `blog:TopicStream[${topic.id}]`);
        assert.equal(topic.stream.pk, topic.id);
    });

    it('names a row by the number of an integer key, even when the driver hands it over as a string (PostgreSQL BIGINT)', () => {

        const row = fixture.Topic.build({ id: '7' as never, title: 'x' }, { isNewRecord: false });
        assert.equal(row.stream.name, 'blog:TopicStream[7]');
        assert.equal(new fixture.TopicStream(7).name, row.stream.name);
    });

    it('broadcasts a create to subscribers of the right stream only', async () => {

        const news = await fixture.Topic.create({ title: 'News' });
        const other = await fixture.Topic.create({ title: 'Other' });
        const [a, b] = [await fixture.client(), await fixture.client()];
        const [gotA, gotB] = [collect(a), collect(b)];
        assert.deepEqual(await fixture.subscribe(a, fixture.server.turbo.signedStreamName(news)), { ok: true, stream: news.stream.name });
        assert.deepEqual(await fixture.subscribe(b, fixture.server.turbo.signedStreamName(other)), { ok: true, stream: other.stream.name });

        const post = await fixture.Post.create({ body: 'hello <b>world</b>', topicId: news.id });
        await eventually(() => assert.equal(gotA.length, 1));
        assert.equal(gotA[0]!.html, `<turbo-stream action="append" target="posts"><template><li id="post-${post.id}">hello &lt;b&gt;world&lt;/b&gt;</li>\n</template></turbo-stream>`);
        assert.equal(gotA[0]!.seq, 1);
        assert.equal(gotA[0]!.stream, news.stream.name);

        await fixture.Post.create({ body: 'elsewhere', topicId: other.id });
        await eventually(() => assert.equal(gotB.length, 1));
        assert.equal(gotA.length, 1, 'a subscriber of another stream receives nothing');
    });

    it('broadcasts updates as replace and deletes as remove', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        const post = await fixture.Post.create({ body: 'first', topicId: topic.id });
        const captured = await captureBroadcasts(async () => {

            await post.update({ body: 'edited' });
            await post.destroy();
        }, topic);

        assert.deepEqual(captured.map(({ action, target }) => [action, target]), [['replace', `post-${post.id}`], ['remove', `post-${post.id}`]]);
        assert.match(captured[0]!.html, /edited/);
    });

    it('sends nothing when the transaction rolls back and exactly one message after it commits', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        const rolledBack = await captureBroadcasts(async () => {

            const transaction = await fixture.sequelize.transaction();
            await fixture.Post.create({ body: 'never', topicId: topic.id }, { transaction });
            await transaction.rollback();
        });

        assert.equal(rolledBack.length, 0);

        const committed = await captureBroadcasts(async () => {

            await fixture.sequelize.transaction(async (transaction) => {

                await fixture.Post.create({ body: 'kept', topicId: topic.id }, { transaction });
                assert.equal(fixture.server.turbo.stats.broadcasts, 0, 'nothing leaves before COMMIT');
            });
        });

        assert.equal(committed.length, 1);
        assert.equal(committed[0]!.action, 'append');
    });

    it('waits for the outermost transaction, not a savepoint', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        const captured = await captureBroadcasts(async () => {

            const outer = await fixture.sequelize.transaction();
            await fixture.sequelize.transaction({ transaction: outer }, async (savepoint) => {

                await fixture.Post.create({ body: 'nested', topicId: topic.id }, { transaction: savepoint });
            });

            assert.equal(fixture.server.turbo.stats.broadcasts, 0, 'releasing the savepoint sends nothing');
            await outer.rollback();
        });

        assert.equal(captured.length, 0);
    });

    it('broadcasts every row of bulk create, update and destroy', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        const created = await captureBroadcasts(() => fixture.Post.bulkCreate([{ body: 'a', topicId: topic.id }, { body: 'b', topicId: topic.id }]), topic);
        assert.deepEqual(created.map((item) => item.action), ['append', 'append']);

        const updated = await captureBroadcasts(() => fixture.Post.update({ body: 'c' }, { where: { topicId: topic.id } }), topic);
        assert.deepEqual(updated.map((item) => item.action), ['replace', 'replace']);

        const destroyed = await captureBroadcasts(() => fixture.Post.destroy({ where: { topicId: topic.id } }), topic);
        assert.deepEqual(destroyed.map((item) => item.action), ['remove', 'remove']);
    });
});


describe('several ModelStreams on one model', () => {

    it('runs the hooks of each, and .stream is the first declared', async () => {

        const fixture = await (await createFixture({ audit: true, transport: 'memory' })).start();
        try {
            const topic = await fixture.Topic.create({ title: 'News' });
            const captured = await captureBroadcasts(() => fixture.Post.create({ body: 'a', topicId: topic.id }));
            assert.deepEqual(captured.map((item) => [item.stream, item.action]).sort(), [['audit', 'append'], [topic.stream.name, 'append']]);
            assert.match(captured.find((item) => item.stream === 'audit')!.html, /created post \d+/);
            const post = await fixture.Post.findOne();
            assert.ok(post!.stream instanceof fixture.PostStream);
        }
        finally {
            await fixture.close();
        }
    });
});


describe('ModelStream failures', () => {

    it('saves the row and logs the error when onSave throws', async () => {

        const fixture = await (await createFixture({ onSave: () => {

            throw new Error('hook exploded');
        } })).start();

        const logged = errorsLogged(fixture.server);

        try {
            const topic = await fixture.Topic.create({ title: 'News' });
            const captured = await captureBroadcasts(() => fixture.Post.create({ body: 'kept', topicId: topic.id }));
            assert.equal(await fixture.Post.count(), 1, 'the row is saved');
            assert.equal(captured.errors.length, 1);
            assert.equal(captured.errors[0]!.error.message, 'hook exploded');
            assert.equal(logged.length, 1);
        }
        finally {
            await fixture.close();
        }
    });

    it('resolves the write when an observer of the failure throws too', async () => {

        const fixture = await createFixture({ transport: 'memory', onSave: () => {

            throw new Error('hook exploded');
        } });

        try {
            await fixture.server.initialize();
            fixture.server.turbo.observe({ error: () => {

                throw new Error('observer exploded');
            } });
            const topic = await fixture.Topic.create({ title: 'News' });
            await fixture.Post.create({ body: 'kept', topicId: topic.id });
            assert.equal(await fixture.Post.count(), 1);
            assert.equal(fixture.server.turbo.stats.errors, 1);
        }
        finally {
            await fixture.close();
        }
    });

    it('reports a broadcast that fails once, when the hook awaits it and so fails with the same error', async () => {

        const fixture = await (await createFixture({ onSave: async (post) => {

            await new fixture.TopicStream(post.topicId).append('blog/missing', { post }, { id: 'posts' });
        } })).start();

        const logged = errorsLogged(fixture.server);

        try {
            const topic = await fixture.Topic.create({ title: 'News' });
            const captured = await captureBroadcasts(() => fixture.Post.create({ body: 'kept', topicId: topic.id }));
            assert.equal(await fixture.Post.count(), 1);
            assert.equal(captured.errors.length, 1);
            assert.match(captured.errors[0]!.error.message, /missing/);
            assert.deepEqual(captured.errors[0]!.streams, [`blog:TopicStream[${topic.id}]`]);
            assert.equal(logged.length, 1);
            assert.equal(fixture.server.turbo.stats.errors, 1);
        }
        finally {
            await fixture.close();
        }
    });

    it('saves the row and logs the error when the template is missing, even when the hook does not await', async () => {

        const fixture = await (await createFixture({ onSave: (post) => {

            void new fixture.TopicStream(post.topicId).append('blog/missing', { post }, { id: 'posts' });
        } })).start();

        try {
            const topic = await fixture.Topic.create({ title: 'News' });
            const captured = await captureBroadcasts(() => fixture.Post.create({ body: 'kept', topicId: topic.id }));
            assert.equal(await fixture.Post.count(), 1);
            assert.equal(captured.length, 0);
            assert.equal(captured.errors.length, 1);
            assert.match(captured.errors[0]!.error.message, /missing/);
        }
        finally {
            await fixture.close();
        }
    });
});
