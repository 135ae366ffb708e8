import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ReplayLog } from '../../lib/turbo/replay.ts';


const seqs = (resume: ReturnType<ReplayLog['resume']>) => 'gap' in resume ? 'gap' : resume.records.map((record) => record.seq);


describe('ReplayLog', () => {

    it('numbers each stream from 1 under its own epoch', () => {

        const log = new ReplayLog();
        assert.deepEqual([log.append('a', 'x').seq, log.append('a', 'y').seq, log.append('b', 'z').seq], [1, 2, 1]);
        assert.notEqual(log.position('a').epoch, log.position('b').epoch);
        assert.deepEqual(log.position('a'), { epoch: log.position('a').epoch, seq: 2 });
    });

    it('replays what a position missed, in order, and nothing when it is current', () => {

        const log = new ReplayLog();
        const start = log.position('a');
        for (let i = 0; i < 5; ++i) {
            log.append('a', `m${i}`);
        }

        assert.deepEqual(seqs(log.resume('a', start)), [1, 2, 3, 4, 5]);
        assert.deepEqual(seqs(log.resume('a', { ...start, seq: 3 })), [4, 5]);
        assert.deepEqual(seqs(log.resume('a', log.position('a'))), []);
    });

    it('reports a gap it cannot close: overflow, another epoch, a position from the future, an unknown stream', () => {

        const log = new ReplayLog({ size: 3 });
        const start = log.position('a');
        for (let i = 0; i < 5; ++i) {
            log.append('a', `m${i}`);
        }

        assert.equal(seqs(log.resume('a', start)), 'gap', 'seq 1 and 2 were dropped');
        assert.deepEqual(seqs(log.resume('a', { ...start, seq: 2 })), [3, 4, 5]);
        assert.equal(seqs(log.resume('a', { epoch: 'other', seq: 2 })), 'gap');
        assert.equal(seqs(log.resume('a', { ...start, seq: 9 })), 'gap');
        assert.equal(seqs(log.resume('nobody', { epoch: start.epoch, seq: 0 })), 'gap');
    });

    it('forgets messages older than maxAge', () => {

        const log = new ReplayLog({ maxAge: 1000 });
        const start = log.position('a');
        log.append('a', 'old', { now: 0 });
        log.append('a', 'new', { now: 1500 });
        assert.equal(seqs(log.resume('a', start, 1600)), 'gap');
        assert.deepEqual(seqs(log.resume('a', { ...start, seq: 1 }, 1600)), [2]);
    });

    it('bounds memory in total, taking from the least recently published streams first', () => {

        const log = new ReplayLog({ maxBytes: 100 });
        const quiet = log.position('quiet');
        log.append('quiet', 'q'.repeat(40));
        for (let i = 0; i < 10; ++i) {
            log.append('busy', 'b'.repeat(30));
        }

        assert.ok(log.bytes <= 100, `kept ${log.bytes} characters`);
        assert.equal(seqs(log.resume('quiet', quiet)), 'gap');
        assert.equal(log.position('busy').seq, 10, 'counters survive their buffers');

        const huge = new ReplayLog({ maxBytes: 10 });
        huge.append('a', 'x'.repeat(50));
        assert.equal(huge.bytes, 50, 'the newest message of the stream just published is kept');
    });

    it('bounds the number of streams; a forgotten stream starts a new epoch', () => {

        const log = new ReplayLog({ maxStreams: 2 });
        const first = log.position('a');
        log.append('a', 'x');
        log.append('b', 'x');
        log.append('c', 'x');
        assert.equal(log.streams, 2);
        assert.notEqual(log.position('a').epoch, first.epoch);
        assert.equal(log.position('a').seq, 0);
    });
});
