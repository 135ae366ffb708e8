import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { createBenchApp, type BenchApp } from '../../bench/app.ts';
import { now, sleep } from '../../bench/stats.ts';
import { Recorder } from '../../bench/recorder.ts';
import { openSocketIo, type Conn } from '../../bench/wire.ts';

// The structural half of the bench (reference §5.6), small enough for every `npm test`: the bench
// app and its raw WebSocket socket.io clients, in this process. It asserts what must hold whatever the
// machine: every subscriber gets every broadcast, one render per broadcast, DB queries per
// broadcast that do not grow with N, and order kept when many broadcasts leave in one tick. No
// wall-clock assertion: timings belong to `npm run bench`.

const BROADCASTS = 20;
const BURST = 200;


describe('bench, structural (N=10 and N=100)', () => {

    let app: BenchApp;
    const recorder = new Recorder();
    const conns: Conn[] = [];
    let base = 1;

    const connectTo = async function (total: number): Promise<void> {

        while (conns.length < total) {
            const batch = Math.min(50, total - conns.length);
            conns.push(...await Promise.all(Array.from({ length: batch }, () => openSocketIo(Number(app.server.info.port), app.signed, recorder))));
        }
    };

    // Bounded wait for the clients; a hang fails on the count, not on time
    const delivered = async function (target: number): Promise<void> {

        for (let i = 0; i < 500 && recorder.total < target; ++i) {
            await sleep(20);
        }
    };

    const counters = function () {

        const stats = app.server.turbo.stats;
        return { renders: stats.renders, templates: stats.templates, broadcasts: stats.broadcasts, queries: app.counters.queries };
    };

    /** Saves `BROADCASTS` messages one after the other and reports what the clients and counters saw. */
    const pipeline = async function (n: number) {

        const first = base;
        base += BROADCASTS;
        recorder.start(first, BROADCASTS, 0);
        const before = counters();
        for (let i = 0; i < BROADCASTS; ++i) {
            await app.save(first + i);
        }

        await app.server.turbo.drain();
        await delivered(n * BROADCASTS);
        const after = counters();
        return {
            seen: recorder.summary(n),
            renders: after.renders - before.renders,
            templates: after.templates - before.templates,
            broadcasts: after.broadcasts - before.broadcasts,
            queriesPerBroadcast: (after.queries - before.queries) / BROADCASTS
        };
    };

    before(async () => {

        app = await createBenchApp();
    });

    after(async () => {

        await Promise.all(conns.map((conn) => conn.close()));
        await app.close();
    });

    it('delivers every broadcast to every subscriber, renders each once, and queries the DB independently of N', async () => {

        await connectTo(10);
        const small = await pipeline(10);
        await connectTo(100);
        const large = await pipeline(100);

        for (const run of [small, large]) {
            assert.equal(run.seen.delivered, run.seen.expected);
            assert.equal(run.seen.incomplete, 0);
            assert.equal(run.broadcasts, BROADCASTS);
            assert.equal(run.renders, BROADCASTS);
            assert.equal(run.templates, BROADCASTS);
            assert.equal(run.seen.disorder, 0);
            assert.equal(run.seen.seq_errors, 0);
        }

        assert.equal(large.seen.expected, 100 * BROADCASTS);
        assert.ok(small.queriesPerBroadcast >= 1, `the INSERT is counted: ${small.queriesPerBroadcast}`);
        assert.equal(large.queriesPerBroadcast, small.queriesPerBroadcast);
    });

    it('keeps order when many broadcasts leave in one tick: ids and seqs strictly increase on every socket', async () => {

        await connectTo(100);
        const format = await app.prerendered();
        const first = base;
        base += BURST;
        recorder.start(first, BURST, 0);
        const before = counters();

        // One synchronous loop: with batching these share frames, which must keep their order
        const sending: Promise<void>[] = [];
        for (let i = 0; i < BURST; ++i) {
            sending.push(app.server.turbo.broadcast(app.streamName, format(first + i, now())));
        }

        await Promise.all(sending);
        await delivered(100 * BURST);
        const seen = recorder.summary(100);
        assert.equal(seen.delivered, 100 * BURST);
        assert.equal(seen.disorder, 0);
        assert.equal(seen.seq_errors, 0);
        assert.equal(counters().renders - before.renders, BURST);
        assert.ok(seen.frames <= 100 * BURST, `at most one frame per message: ${seen.frames}`);
    });

    it('keeps order for saves started in one tick', async () => {

        await connectTo(100);
        const first = base;
        base += BROADCASTS;
        recorder.start(first, BROADCASTS, 0);
        await Promise.all(Array.from({ length: BROADCASTS }, (_, i) => app.save(first + i)));
        await app.server.turbo.drain();
        await delivered(100 * BROADCASTS);
        const seen = recorder.summary(100);
        assert.equal(seen.delivered, 100 * BROADCASTS);
        assert.equal(seen.disorder, 0);
        assert.equal(seen.seq_errors, 0);
    });
});
