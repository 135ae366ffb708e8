import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Broadcaster, type BroadcastFailure, type BroadcastRecord, type Transport } from '../../lib/turbo/broadcaster.ts';
import { TurboStream } from '../../lib/turbo/fragment.ts';
import { ReplayLog } from '../../lib/turbo/replay.ts';

// The broadcast pipeline on its own: render once, sequence per stream in call order, publish in
// frames. A transport that records frames stands in for socket.io (covered in transports/).

interface Setup {
    broadcaster: Broadcaster;
    frames: BroadcastRecord[][];
    failures: BroadcastFailure[];
    renders: string[];
    logged: string[];
}


const setup = function (batch: boolean | { window: number } = false, renderTemplate?: (template: string) => Promise<string>): Setup {

    const frames: BroadcastRecord[][] = [];
    const renders: string[] = [];
    const logged: string[] = [];
    const transport: Transport = {
        kind: 'recording',
        publish: (records) => frames.push([...records]),
        stop: () => Promise.resolve()
    };
    const broadcaster = new Broadcaster({
        transport,
        log: (tags, data) => logged.push(`${tags.join(',')}: ${(data as { message?: string }).message}`),
        replay: new ReplayLog(),
        batch,
        renderTemplate: (template) => {

            renders.push(template);
            return renderTemplate ? renderTemplate(template) : Promise.resolve(`<p>${template}</p>`);
        }
    });
    const failures: BroadcastFailure[] = [];
    broadcaster.observe({ error: (failure) => failures.push(failure) });
    return { broadcaster, frames, failures, renders, logged };
};


const update = (template: string) => TurboStream.update({ id: 'box' }, { template, context: {} });


describe('Broadcaster', () => {

    it('renders a broadcast once for all its streams and gives each stream its next seq', async () => {

        const { broadcaster, frames, renders } = setup();
        await broadcaster.broadcast(['a', 'b'], [update('one')]);
        await broadcaster.broadcast(['a'], [update('two')]);
        assert.deepEqual(renders, ['one', 'two']);
        assert.deepEqual(frames.map((frame) => frame.map((record) => `${record.stream}#${record.seq}`)), [['a#1'], ['b#1'], ['a#2']]);
        assert.match(frames[0]![0]!.html, /<template><p>one<\/p><\/template>/);
        assert.equal(broadcaster.stats.renders, 2);
        assert.equal(broadcaster.stats.broadcasts, 2);
    });

    it('publishes in call order per stream even when an earlier render finishes last', async () => {

        const { broadcaster, frames } = setup(false, async (template) => {

            await new Promise((resolve) => setTimeout(resolve, template === 'slow' ? 30 : 0));
            return template;
        });
        await Promise.all([broadcaster.broadcast(['a'], [update('slow')]), broadcaster.broadcast(['a'], [update('fast')])]);
        assert.deepEqual(frames.map((frame) => frame[0]!.html.includes('slow') ? `slow#${frame[0]!.seq}` : `fast#${frame[0]!.seq}`), ['slow#1', 'fast#2']);
    });

    it('with a window, sends the broadcasts of one turn to a stream as one frame', async () => {

        const { broadcaster, frames } = setup({ window: 0 });
        await Promise.all([1, 2, 3].map((n) => broadcaster.broadcast(['a'], [update(`m${n}`)])));
        assert.deepEqual(frames.map((frame) => frame.map((record) => record.seq)), [[1, 2, 3]]);
        assert.equal(broadcaster.stats.frames, 1);
    });

    it('adaptive: a broadcast to an idle stream leaves at once, those arriving meanwhile share the next frame', async () => {

        const { broadcaster, frames } = setup(true);
        await broadcaster.broadcast(['a'], [update('first')]);
        assert.equal(frames.length, 1);
        await Promise.all([broadcaster.broadcast(['a'], [update('second')]), broadcaster.broadcast(['a'], [update('third')])]);
        await broadcaster.drain();
        assert.deepEqual(frames.map((frame) => frame.map((record) => record.seq)), [[1], [2, 3]]);
    });

    it('reports a failed render to the observers and the caller, and keeps going', async () => {

        const { broadcaster, frames, failures } = setup(false, (template) => template === 'broken' ? Promise.reject(new Error('no such template')) : Promise.resolve(template));
        await assert.rejects(broadcaster.broadcast(['a'], [update('broken')]), /no such template/);
        await broadcaster.broadcast(['a'], [update('fine')]);
        assert.equal(failures.length, 1);
        assert.deepEqual(failures[0]!.streams, ['a']);
        assert.equal(broadcaster.stats.errors, 1);
        assert.deepEqual(frames.map((frame) => frame[0]!.seq), [1]);
    });

    it('logs an observer that throws; the broadcast, its failure and the other observers go on as before', async () => {

        const { broadcaster, frames, failures, logged } = setup(false, (template) => template === 'broken' ? Promise.reject(new Error('no such template')) : Promise.resolve(template));
        broadcaster.observe({
            broadcast: () => {

                throw new Error('observer broke on a broadcast');
            },
            error: () => {

                throw new Error('observer broke on a failure');
            }
        });
        const seen: number[] = [];
        broadcaster.observe({ broadcast: (record) => seen.push(record.seq) });

        await broadcaster.broadcast(['a'], [update('fine')]);
        await assert.rejects(broadcaster.broadcast(['a'], [update('broken')]), /no such template/);
        assert.deepEqual(frames.map((frame) => frame[0]!.seq), [1]);
        assert.deepEqual(seen, [1]);
        assert.equal(failures.length, 1);
        assert.equal(broadcaster.stats.errors, 1);
        assert.deepEqual(logged, [
            'hapi-turbo,error,observer: observer broke on a broadcast',
            'hapi-turbo,error: no such template',
            'hapi-turbo,error,observer: observer broke on a failure'
        ]);
    });

    it('needs a stream and a fragment', async () => {

        const { broadcaster } = setup();
        await assert.rejects(broadcaster.broadcast([], [update('x')]), /at least one stream and one fragment/);
        await assert.rejects(broadcaster.broadcast(['a'], []), /at least one stream and one fragment/);
    });
});

