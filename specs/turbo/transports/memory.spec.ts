import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { BroadcastRecord } from '../../../lib/turbo/broadcaster.ts';
import { TurboStream } from '../../../lib/turbo/fragment.ts';
import type { MemoryTransport as ServerMemoryTransport } from '../../../lib/turbo/index.ts';
import { parseTurboStreams } from '../../../lib/turbo/parse.ts';
import { MemoryTransport } from '../../../lib/turbo/transports/memory.ts';
import { createFixture, type Fixture } from '../../support/fixture.ts';


const record = (stream: string, seq: number): BroadcastRecord => ({ stream, seq, epoch: 'e1', html: `<p>${stream}#${seq}</p>` });

const frame = (stream: string, from: number, count: number) => Array.from({ length: count }, (_, index) => record(stream, from + index));


describe('MemoryTransport', () => {

    it('calls each subscriber with every record of its stream, in publish order, and no other', () => {

        const memory = new MemoryTransport();
        const received: string[] = [];
        const listen = (who: string) => (got: BroadcastRecord) => received.push(`${who}:${got.stream}#${got.seq}`);
        memory.subscribe('a', listen('first'));
        memory.subscribe('a', listen('second'));
        memory.subscribe('b', listen('third'));

        memory.publish(frame('a', 1, 2));
        memory.publish([record('c', 1)]);
        memory.publish([record('b', 1)]);
        memory.publish([record('a', 3)]);
        assert.deepEqual(received, ['first:a#1', 'second:a#1', 'first:a#2', 'second:a#2', 'third:b#1', 'first:a#3', 'second:a#3']);
        assert.equal(memory.kind, 'memory');
    });

    it('hands subscribers the published records themselves, whole', () => {

        const memory = new MemoryTransport();
        const received: BroadcastRecord[] = [];
        memory.subscribe('a', (got) => received.push(got));
        const sent = { ...record('a', 7), except: 'socket-1' };
        memory.publish([sent]);
        assert.equal(received[0], sent);
        assert.equal(memory.published[0], sent);
    });

    it('keeps every record published, subscribed or not, in order, up to the last 10,000', () => {

        const memory = new MemoryTransport();
        memory.publish(frame('a', 1, 3));
        memory.publish([record('b', 1)]);
        assert.deepEqual(memory.published.map((kept) => `${kept.stream}#${kept.seq}`), ['a#1', 'a#2', 'a#3', 'b#1']);

        const ends = () => [memory.published.length, memory.published[0]!.stream, memory.published[0]!.seq, memory.published.at(-1)!.seq];
        memory.publish(frame('a', 4, 9_997));
        assert.deepEqual(ends(), [10_000, 'a', 2, 10_000]);
        memory.publish(frame('a', 10_001, 2));
        assert.deepEqual(ends(), [10_000, 'b', 1, 10_002]);

        memory.publish(frame('c', 1, 10_005));
        assert.deepEqual(ends(), [10_000, 'c', 6, 10_005]);
    });

    it('unsubscribes one listener; a listener subscribed twice to a stream is called once', () => {

        const memory = new MemoryTransport();
        const received: string[] = [];
        const twice = (got: BroadcastRecord) => received.push(`twice#${got.seq}`);
        memory.subscribe('a', twice);
        memory.subscribe('a', twice);
        const off = memory.subscribe('a', (got) => received.push(`once#${got.seq}`));

        memory.publish([record('a', 1)]);
        off();
        memory.publish([record('a', 2)]);
        assert.deepEqual(received, ['twice#1', 'once#1', 'twice#2']);
    });

    it('lets a listener unsubscribe itself while it is being called', () => {

        const memory = new MemoryTransport();
        const received: string[] = [];
        const off = memory.subscribe('a', (got) => {

            received.push(`once#${got.seq}`);
            off();
        });
        memory.subscribe('a', (got) => received.push(`always#${got.seq}`));

        memory.publish(frame('a', 1, 2));
        assert.deepEqual(received, ['once#1', 'always#1', 'always#2']);
    });

    it('an unsubscribe called again, after its stream emptied or after stop(), leaves later subscribers alone', async () => {

        const memory = new MemoryTransport();
        const received: string[] = [];
        const off = memory.subscribe('a', () => received.push('gone'));
        off();
        memory.subscribe('a', (got) => received.push(`later#${got.seq}`));
        off();
        memory.publish([record('a', 1)]);

        const offBeforeStop = memory.subscribe('b', () => received.push('stopped'));
        await memory.stop();
        memory.subscribe('b', (got) => received.push(`restarted#${got.seq}`));
        offBeforeStop();
        memory.publish([record('b', 1)]);
        assert.deepEqual(received, ['later#1', 'restarted#1']);
    });

    it('stop() drops every subscriber and keeps what was published; publishing goes on recording', async () => {

        const memory = new MemoryTransport();
        const received: number[] = [];
        memory.subscribe('a', (got) => received.push(got.seq));
        memory.publish([record('a', 1)]);
        assert.equal(await memory.stop(), undefined);

        memory.publish([record('a', 2)]);
        assert.deepEqual(received, [1]);
        assert.deepEqual(memory.published.map((kept) => kept.seq), [1, 2]);
    });
});


describe('the memory transport of a server', () => {

    // A test on a server of its own, with a database, given its memory transport
    const onServer = (test: (fixture: Fixture, memory: ServerMemoryTransport) => Promise<void>) => async () => {

        const fixture = await createFixture({ transport: 'memory' });
        await fixture.server.initialize();
        try {
            await test(fixture, fixture.server.turbo.transport as ServerMemoryTransport);
        }
        finally {
            await fixture.close();
        }
    };

    it('delivers to in-process subscribers', onServer(async (fixture, memory) => {

        const topic = await fixture.Topic.create({ title: 'News' });
        const received: number[] = [];
        const unsubscribe = memory.subscribe(topic.stream.name, (got) => received.push(got.seq));
        await fixture.Post.create({ body: 'a', topicId: topic.id });
        unsubscribe();
        await fixture.Post.create({ body: 'b', topicId: topic.id });
        assert.deepEqual(received, [1]);
        assert.equal(memory.published.length, 2);
    }));

    it('hands subscribers the rendered message at its place in the stream, one record per stream of a broadcast', onServer(async (fixture, memory) => {

        const [news, other] = [await fixture.Topic.create({ title: 'News' }), await fixture.Topic.create({ title: 'Other' })];
        const received: BroadcastRecord[] = [];
        memory.subscribe(news.stream.name, (got) => received.push(got));
        memory.subscribe(other.stream.name, (got) => received.push(got));

        await fixture.Post.create({ body: 'first', topicId: news.id });
        await fixture.server.turbo.broadcast([other, news], TurboStream.remove({ id: 'x' }));
        assert.deepEqual(received.map((got) => [got.stream, got.seq, got.epoch, parseTurboStreams(got.html).map((element) => element.action)]), [
            [news.stream.name, 1, fixture.server.turbo.position(news).epoch, ['append']],
            [other.stream.name, 1, fixture.server.turbo.position(other).epoch, ['remove']],
            [news.stream.name, 2, fixture.server.turbo.position(news).epoch, ['remove']]
        ]);
    }));

    it('after a stop, the server starts again with no subscribers and its records kept', onServer(async (fixture, memory) => {

        const topic = await fixture.Topic.create({ title: 'News' });
        const before: number[] = [];
        memory.subscribe(topic.stream.name, (got) => before.push(got.seq));
        await fixture.Post.create({ body: 'a', topicId: topic.id });

        await fixture.server.stop();
        await fixture.server.initialize();
        const after: number[] = [];
        memory.subscribe(topic.stream.name, (got) => after.push(got.seq));
        await fixture.Post.create({ body: 'b', topicId: topic.id });
        assert.deepEqual([before, after], [[1], [2]]);
        assert.deepEqual(memory.published.map((kept) => kept.seq), [1, 2]);
    }));
});
