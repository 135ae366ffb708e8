import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Broadcaster, type BroadcastFailure } from '../../lib/turbo/broadcaster.ts';
import { TurboStream } from '../../lib/turbo/fragment.ts';
import { runHook } from '../../lib/turbo/hook-scope.ts';
import { ReplayLog } from '../../lib/turbo/replay.ts';

// Which broadcasts a hook run waits for. Real broadcasts through a Broadcaster (which joins them to
// the scope), each rendered only once the test opens its gate, so a test decides what is still
// pending and asks whether runHook() has returned: no timers involved.

interface Gate {
    promise: Promise<void>;
    open: () => void;
    fail: (error: Error) => void;
}


const gate = function (): Gate {

    let open = () => undefined as void;
    let fail = (_error: Error) => undefined as void;
    const promise = new Promise<void>((resolve, reject) => {

        open = resolve;
        fail = reject;
    });

    return { promise, open, fail };
};


const setup = function () {

    const gates = new Map<string, Gate>();
    const gateOf = (name: string) => gates.get(name) ?? gates.set(name, gate()).get(name)!;
    const published: string[] = [];
    const broadcaster = new Broadcaster({
        transport: { kind: 'recording', publish: (records) => published.push(...records.map((record) => record.stream)), stop: () => Promise.resolve() },
        log: () => undefined,
        replay: new ReplayLog(),
        batch: false,
        renderTemplate: async (template) => {

            await gateOf(template).promise;
            return template;
        }
    });

    const reported: BroadcastFailure[] = [];
    broadcaster.observe({ error: (failure) => reported.push(failure) });
    const failed: string[] = [];
    return {
        published,
        reported,
        /** What runHook() handed to `fail`. */
        failed,
        fail: (error: Error) => failed.push(error.message),
        /** Starts a broadcast to the stream `name`, published once gate `name` opens. */
        broadcast: (name: string) => broadcaster.broadcast([name], [TurboStream.update({ id: 'box' }, { template: name, context: {} })]),
        gate: gateOf
    };
};


// Whether `run` has settled once the microtasks of this turn have run, or still waits for a gate
const state = function (run: Promise<unknown>): Promise<'returned' | 'waiting'> {

    return Promise.race([run.then(() => 'returned' as const), new Promise<'waiting'>((resolve) => setImmediate(() => resolve('waiting')))]);
};


describe('runHook()', () => {

    it('waits for the broadcasts the hook body started without awaiting them', async () => {

        const { broadcast, gate, fail, published } = setup();
        const run = runHook(() => {

            void broadcast('fire-and-forget');
        }, fail);

        assert.equal(await state(run), 'waiting');
        assert.deepEqual(published, []);
        gate('fire-and-forget').open();
        await run;
        assert.deepEqual(published, ['fire-and-forget']);
    });

    it('collects what the body starts before its first await; what it starts later only when it awaits it', async () => {

        const { broadcast, gate, fail, published } = setup();
        const outside = broadcast('outside');                   // No hook running: joins nothing
        const late: Promise<void>[] = [];
        const run = runHook(async () => {

            void broadcast('early');
            await Promise.resolve();
            late.push(broadcast('late'));
        }, fail);

        assert.equal(await state(run), 'waiting');
        gate('early').open();
        assert.equal(await state(run), 'returned', 'neither "late" nor "outside" is waited for');
        assert.deepEqual(published, ['early']);

        const awaiting = runHook(async () => {

            await Promise.resolve();
            await broadcast('awaited');
        }, fail);

        assert.equal(await state(awaiting), 'waiting');
        gate('awaited').open();
        await awaiting;

        gate('late').open();
        gate('outside').open();
        await Promise.all([...late, outside]);
        assert.deepEqual(published, ['early', 'awaited', 'late', 'outside']);
    });

    it('gives a nested hook its own scope and restores the outer one after it', async () => {

        const { broadcast, gate, fail, published } = setup();
        let inner: Promise<void> | undefined;
        const outer = runHook(() => {

            inner = runHook(() => {

                void broadcast('inner');
            }, fail);
            void broadcast('outer');
        }, fail);

        assert.equal(await state(outer), 'waiting');
        gate('outer').open();
        assert.equal(await state(outer), 'returned', 'the inner broadcast is not the outer hook\'s');
        assert.equal(await state(inner!), 'waiting', 'nor the outer broadcast the inner hook\'s');
        gate('inner').open();
        await inner;
        assert.deepEqual(published, ['outer', 'inner']);
    });

    const failures: [string, () => unknown][] = [
        ['throws', () => {

            throw new Error('inner failed');
        }],
        ['returns a rejected promise', () => Promise.reject(new Error('inner failed'))],
        ['rejects after an await', async () => {

            await Promise.resolve();
            throw new Error('inner failed');
        }]
    ];

    for (const [how, body] of failures) {
        it(`when a nested body ${how}: fail has the error, what it started is waited for, the outer scope is back`, async () => {

            const { broadcast, gate, fail, failed, published } = setup();
            let inner: Promise<void> | undefined;
            const outer = runHook(() => {

                inner = runHook(() => {

                    void broadcast('inner');
                    return body();
                }, fail);
                void broadcast('outer');
            }, fail);

            assert.equal(await state(inner!), 'waiting');
            gate('inner').open();
            await inner;
            assert.deepEqual(failed, ['inner failed']);
            assert.equal(await state(outer), 'waiting', 'the broadcast started after the inner hook is the outer one\'s');
            gate('outer').open();
            await outer;
            assert.deepEqual(published, ['inner', 'outer']);
        });
    }

    it('hands what the body throws or rejects with to fail, and never rejects', async () => {

        const { failed, fail } = setup();
        const results = [
            await runHook(() => {

                throw new Error('sync');
            }, fail),
            await runHook(() => Promise.reject(new Error('async')), fail),
            await runHook(async () => {

                await Promise.resolve();
                throw new Error('later');
            }, fail)
        ];

        assert.deepEqual(failed, ['sync', 'async', 'later']);
        assert.deepEqual(results, [undefined, undefined, undefined]);
    });

    it('resolves when a broadcast of its scope fails: the broadcaster reports that one, not fail', async () => {

        const { broadcast, gate, fail, failed, reported, published } = setup();
        const run = runHook(() => {

            void broadcast('broken');
            void broadcast('fine');
        }, fail);

        gate('broken').fail(new Error('no such template'));
        gate('fine').open();
        assert.equal(await run, undefined);
        assert.deepEqual(published, ['fine']);
        assert.deepEqual(reported.map((failure) => [failure.streams, failure.error.message]), [[['broken'], 'no such template']]);
        assert.deepEqual(failed, []);
    });
});
