import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { FragmentInput } from '../../lib/turbo/renderer.ts';
import { bindStream, runtimeOf, Stream, unbindStream, type BroadcastOptions, type StreamRuntime } from '../../lib/turbo/stream.ts';

// Stream classes and their binding to a runtime: names, what an unregistered class says, and which
// runtime a broadcast goes to. Broadcasts through a real server are in plugin.spec.ts.

interface Sent {
    streams: readonly (Stream | string)[];
    fragments: readonly FragmentInput[];
    options: BroadcastOptions | undefined;
}


const runtime = function (): StreamRuntime & { sent: Sent[] } {

    const sent: Sent[] = [];
    return {
        sent,
        broadcast: (streams, fragments, options) => {

            sent.push({ streams, fragments, options });
            return Promise.resolve();
        },
        runHook: () => Promise.resolve(),
        refreshRow: () => Promise.resolve()
    };
};


describe('Stream', () => {

    it('is named "<app>:<Class>", then the JSON of its arguments', () => {

        class RoomStream extends Stream {}

        bindStream(RoomStream, 'chat:RoomStream', runtime());
        assert.equal(RoomStream.identity, 'chat:RoomStream');
        assert.equal(new RoomStream().name, 'chat:RoomStream');
        assert.equal(new RoomStream(4, 'a"b').name, 'chat:RoomStream[4,"a\\"b"]');
    });

    it('says how to register a class that is not', () => {

        class Unregistered extends Stream {}

        assert.throws(() => new Unregistered().name, /Unregistered is not registered with hapi-turbo/);
        assert.throws(() => Unregistered.identity, /export it from lib\/<app>\/streams.ts/);
    });

    it('refuses identities that are not "<app>:<ClassName>"', () => {

        class Odd extends Stream {}

        for (const identity of ['Odd', 'chat:', ':Odd', 'chat:Odd[1]', 'chat app:Odd']) {
            assert.throws(() => bindStream(Odd, identity, runtime()), /invalid stream identity/);
        }
    });

    it('sends its actions to the runtime it is bound to, with toOthers apart from the fragment options', async () => {

        class BoxStream extends Stream {}

        const first = runtime();
        bindStream(BoxStream, 'app:BoxStream', first);
        const stream = new BoxStream();
        await stream.append({ text: 'a' }, { id: 'list' }, { toOthers: true, attributes: { 'data-x': '1' } });
        await stream.remove({ id: 'item' });
        await stream.streamToOthers('<turbo-stream action="refresh"></turbo-stream>');
        assert.equal(first.sent.length, 3);
        assert.deepEqual(first.sent.map((item) => item.options), [{ toOthers: true }, {}, { toOthers: true }]);
        const [append] = first.sent[0]!.fragments as { action: string; target: string; attributes: Record<string, string> }[];
        assert.equal(append!.action, 'append');
        assert.equal(append!.target, 'list');
        assert.deepEqual(append!.attributes, { 'data-x': '1' });
        assert.equal(first.sent[0]!.streams[0], stream);
    });

    it('binds a class, not its subclasses, and unbinds only from its own runtime', () => {

        class Parent extends Stream {}

        class Child extends Parent {}

        const first = runtime();
        const second = runtime();
        bindStream(Parent, 'app:Parent', first);
        assert.equal(runtimeOf(Parent), first);
        assert.equal(runtimeOf(Child), undefined);

        bindStream(Parent, 'app:Parent', second);                     // The last registration wins
        unbindStream(Parent, first);
        assert.equal(runtimeOf(Parent), second);
        unbindStream(Parent, second);
        assert.equal(runtimeOf(Parent), undefined);
    });
});
