import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { drainBroadcasts, suppressingBroadcasts, TurboStream } from '../../lib/turbo/index.ts';
import { broadcastsSuppressed } from '../../lib/turbo/suppression.ts';
import { captureBroadcasts } from '../../lib/turbo/testing.ts';
import { collect, createFixture, eventually, type Fixture } from '../support/fixture.ts';


describe('suppressingBroadcasts()', () => {

    let fixture: Fixture;

    beforeEach(async () => {

        fixture = await (await createFixture({ broadcastsRefreshes: { topic: true }, refresh: { debounce: 50 } })).start();
    });

    afterEach(async () => {

        await fixture.close();
    });

    it('sends nothing for broadcasts started inside, direct or from model hooks, and takes no seq', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        await drainBroadcasts();
        const socket = await fixture.client();
        const received = collect(socket);
        await fixture.subscribe(socket, fixture.server.turbo.signedStreamName(topic));
        const before = fixture.server.turbo.position(topic);

        const captured = await captureBroadcasts(async () => {

            const result = await suppressingBroadcasts(async () => {

                await fixture.server.turbo.broadcast(topic, TurboStream.remove({ id: 'x' }));
                await topic.stream.append({ text: 'direct' }, { id: 'posts' });
                await fixture.Post.create({ body: 'hooked', topicId: topic.id });
                await topic.update({ title: 'Refreshed?' });
                return 42;
            });

            assert.equal(result, 42, 'the value of fn');
        });

        assert.deepEqual([...captured], []);
        assert.deepEqual(captured.errors, []);
        assert.deepEqual(fixture.server.turbo.position(topic), before);
        assert.equal(await fixture.Post.count(), 1, 'the writes themselves happen');

        // The same socket still receives what is broadcast afterwards, as the next seq
        await fixture.Post.create({ body: 'heard', topicId: topic.id });
        await eventually(() => assert.equal(received.length, 1));
        assert.equal(received[0]!.seq, before.seq + 1);
        assert.match(received[0]!.html, /heard/);
    });

    it('covers after-commit hooks of writes made inside, wherever the COMMIT is issued', async () => {

        const topic = await fixture.Topic.create({ title: 'News' });
        await drainBroadcasts();

        const managed = await captureBroadcasts(() => suppressingBroadcasts(() => fixture.sequelize.transaction(async (transaction) => {

            await fixture.Post.create({ body: 'a', topicId: topic.id }, { transaction });
            await topic.update({ title: 'b' }, { transaction });
        })));
        assert.deepEqual([...managed], []);

        // Written inside, committed outside: the write decides
        const insideThenOutside = await captureBroadcasts(async () => {

            const transaction = await fixture.sequelize.transaction();
            await suppressingBroadcasts(() => fixture.Post.create({ body: 'c', topicId: topic.id }, { transaction }));
            await transaction.commit();
        });
        assert.deepEqual([...insideThenOutside], []);

        // Written outside, committed inside: broadcast
        const outsideThenInside = await captureBroadcasts(async () => {

            const transaction = await fixture.sequelize.transaction();
            await fixture.Post.create({ body: 'd', topicId: topic.id }, { transaction });
            await suppressingBroadcasts(() => transaction.commit());
        });
        assert.deepEqual(outsideThenInside.map(({ action }) => action), ['append']);
    });

    it('leaves concurrent work outside the scope alone', async () => {

        const [quiet, loud] = [await fixture.Topic.create({ title: 'Quiet' }), await fixture.Topic.create({ title: 'Loud' })];
        await drainBroadcasts();

        const write = async (topicId: number) => {

            for (let i = 0; i < 10; ++i) {
                await fixture.Post.create({ body: `${i}`, topicId });
                await sleep(1);                                 // Interleave the two loops
            }
        };

        const captured = await captureBroadcasts(() => Promise.all([suppressingBroadcasts(() => write(quiet.id)), write(loud.id)]));
        assert.equal(await fixture.Post.count({ where: { topicId: quiet.id } }), 10);
        assert.equal(captured.filter((item) => item.stream === quiet.stream.name).length, 0);
        assert.equal(captured.filter((item) => item.stream === loud.stream.name && item.action === 'append').length, 10);
    });

    it('schedules no refresh for writes inside, and does not drop one scheduled outside when drained inside', async () => {

        const [inside, outside] = [await fixture.Topic.create({ title: 'In' }), await fixture.Topic.create({ title: 'Out' })];
        await drainBroadcasts();

        const captured = await captureBroadcasts(async () => {

            await outside.update({ title: 'Out 2' });
            await suppressingBroadcasts(async () => {

                await inside.update({ title: 'In 2' });
                await drainBroadcasts();
            });
        });

        assert.deepEqual(captured.map(({ stream, action }) => [stream, action]), [[outside.stream.name, 'refresh']]);
    });

    it('is scoped: nothing is suppressed once fn has settled, even when it threw', async () => {

        await assert.rejects(suppressingBroadcasts(() => {

            assert.equal(broadcastsSuppressed(), true);
            throw new Error('seed failed');
        }), /seed failed/);

        assert.equal(broadcastsSuppressed(), false);
        const topic = await fixture.Topic.create({ title: 'News' });
        await drainBroadcasts();
        const captured = await captureBroadcasts(() => fixture.Post.create({ body: 'a', topicId: topic.id }), topic);
        assert.deepEqual(captured.map(({ action }) => action), ['append']);
    });
});
