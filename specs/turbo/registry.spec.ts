import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ModelStream } from '../../lib/turbo/model-stream.ts';
import { plainStream } from '../../lib/turbo/plain-stream.ts';
import { StreamRegistry } from '../../lib/turbo/registry.ts';
import { Stream } from '../../lib/turbo/stream.ts';

// Which stream a name, a row, a Stream or a plain name stands for. Rows and their ModelStreams against a real database are in model-stream.spec.ts.

class RoomStream extends Stream {}

class LobbyStream extends Stream {}


describe('StreamRegistry', () => {

    const registry = new StreamRegistry({ chat: [RoomStream], other: { LobbyStream, notAStream: 42 } });

    it('names classes "<app>:<Export>" and skips module exports that are not streams', () => {

        assert.deepEqual(registry.entries.map(([identity]) => identity), ['chat:RoomStream', 'other:LobbyStream']);
        assert.throws(() => new StreamRegistry({ chat: [RoomStream, (() => undefined) as never] }), /is not a Stream subclass/);
    });

    it('rebuilds a stream from its name, with its arguments', () => {

        const stream = registry.fromName('chat:RoomStream[4,"x"]');
        assert.ok(stream instanceof RoomStream);
        assert.deepEqual(stream.args, [4, 'x']);
        assert.equal(registry.fromName('chat:RoomStream[not json'), null);
        assert.equal(registry.fromName('chat:Missing'), null);
    });

    it('owns the names shaped like its classes, so a typo is an error rather than a plain stream', () => {

        assert.equal(registry.ownsName('chat:RoomStream[1]'), true);
        assert.equal(registry.ownsName('chat:RemovedStream'), true);
        assert.equal(registry.ownsName('chat:messages'), false);
        assert.equal(registry.ownsName('elsewhere:RoomStream'), false);
        assert.throws(() => registry.resolve('chat:RoomStrem'), /unknown stream "chat:RoomStrem"/);
        assert.equal(registry.resolve('chat:messages'), 'chat:messages');
    });

    it('resolves plain streams, refusing ones that would take a class name', () => {

        assert.equal(registry.resolve(plainStream('room', 4, 'messages')), 'room:4:messages');
        assert.throws(() => registry.resolve(plainStream('chat', 'RoomStream')), /cannot name "chat:RoomStream"/);
    });

    it('skips blank streamables in a list and refuses what is not a stream', () => {

        assert.deepEqual(registry.resolveAll(['a', null, '', ['b', [undefined]]]), ['a', 'b']);
        assert.throws(() => registry.resolve(42), /cannot make a stream of number/);
    });

    it('wants a model on a ModelStream', () => {

        class Orphan extends ModelStream {}

        assert.throws(() => new StreamRegistry({ app: [Orphan] }), /Orphan extends ModelStream but has no "static model"/);
        class Named extends ModelStream {
            static override model = 'Message';
        }

        assert.throws(() => new StreamRegistry({ app: [Named] }), /no "sequelize" option was given/);
    });
});

