import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';

import { liveRuntimes, TurboRuntime } from '../../lib/turbo/runtime.ts';
import { applyOptions } from '../../lib/turbo/schemas.ts';
import { runtimeOf, Stream } from '../../lib/turbo/stream.ts';

// The runtime without hapi: what it binds, when the testing kit sees it, its signatures, and a
// broadcast through a registered class. As a hapi plugin it is exercised by plugin.spec.ts.

class RoomStream extends Stream {}


describe('TurboRuntime', () => {

    it('binds the registered classes, is live until closed, and signs each name once', async () => {

        const listener = createServer();
        const runtime = await TurboRuntime.create(applyOptions({ secret: 'a-runtime-secret-that-is-long-enough-to-sign', transport: 'memory', streams: { chat: [RoomStream] } }), {
            listener,
            log: () => undefined,
            renderTemplate: (template) => Promise.resolve(template),
            identify: () => Promise.resolve(null)
        });

        runtime.start();
        assert.equal(runtimeOf(RoomStream), runtime);
        assert.ok(liveRuntimes.has(runtime));
        const signed = runtime.signedStreamName(new RoomStream(1));
        assert.equal(runtime.sign('chat:RoomStream[1]'), signed);
        assert.equal(runtime.verify(signed), 'chat:RoomStream[1]');

        const seen: string[] = [];
        runtime.observe({ broadcast: (record) => seen.push(`${record.stream}#${record.seq} ${record.html}`) });
        await new RoomStream(1).update({ text: '<hi>' }, { id: 'box' });
        await runtime.broadcastTo([null, ''], ['<turbo-stream></turbo-stream>']);      // Blank: nothing sent
        assert.deepEqual(seen, ['chat:RoomStream[1]#1 <turbo-stream action="update" target="box"><template>&lt;hi&gt;</template></turbo-stream>']);

        await runtime.stop();
        await runtime.close();
        assert.equal(runtimeOf(RoomStream), undefined);
        assert.equal(liveRuntimes.has(runtime), false);
    });
});
