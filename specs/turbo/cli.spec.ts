import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseBroadcastArgs, runBroadcastCli, USAGE } from '../../lib/turbo/cli.ts';
import type { Fragment } from '../../lib/turbo/fragment.ts';
import { renderFragments } from '../../lib/turbo/renderer.ts';
import type { StandaloneBroadcaster } from '../../lib/turbo/standalone.ts';

// The hapi-turbo/cli entry: arguments into one fragment, and the exit codes of a run. The broadcast
// itself through Redis is covered by specs/scaling/processes.spec.ts (npm run broadcast).


// A broadcaster that records what it was asked to send (the real one needs Redis)
const recorder = function (fail?: Error) {

    const sent: { stream: unknown; html: string }[] = [];
    let closed = 0;
    const broadcaster = {
        broadcast: async (stream: unknown, fragment: Fragment) => {

            if (fail) {
                throw fail;
            }

            sent.push({ stream, html: await renderFragments([fragment], () => Promise.resolve('')) });
        },
        turbo: { position: () => ({ epoch: 'e', seq: 7 }) },
        close: () => {

            ++closed;
            return Promise.resolve();
        }
    } as unknown as StandaloneBroadcaster;

    return { sent, broadcaster, closed: () => closed };
};


const output = function () {

    const lines = { log: [] as string[], error: [] as string[] };
    return { lines, out: { log: (line: string) => lines.log.push(line), error: (line: string) => lines.error.push(line) } };
};


describe('parseBroadcastArgs()', () => {

    it('reads a stream, a content action, a target and text', () => {

        const { stream, fragment } = parseBroadcastArgs(['chat:BroadcastStream', 'update', '--target', 'box', '--text', '<b>hi</b>']);
        assert.equal(stream, 'chat:BroadcastStream');
        assert.equal(fragment.action, 'update');
        assert.equal(fragment.target, 'box');
        assert.deepEqual(fragment.content, { text: '<b>hi</b>' });
    });

    it('reads --targets as a selector, --template with its JSON context, and refresh and remove without content', () => {

        const append = parseBroadcastArgs(['s', 'append', '--targets', '.list', '--template', 'item', '--context', '{"n":1}']);
        assert.equal(append.fragment.targets, '.list');
        assert.deepEqual(append.fragment.content, { template: 'item', context: { n: 1 } });
        assert.equal(parseBroadcastArgs(['s', 'refresh']).fragment.action, 'refresh');
        assert.equal(parseBroadcastArgs(['s', 'remove', '--target', 'x']).fragment.action, 'remove');
    });

    it('takes any other action as a custom one', () => {

        const { fragment } = parseBroadcastArgs(['s', 'highlight', '--target', 'x', '--html', '<i>!</i>']);
        assert.equal(fragment.action, 'highlight');
    });

    it('throws the usage when the stream or the action is missing, or there is more', () => {

        assert.throws(() => parseBroadcastArgs([]), { message: USAGE });
        assert.throws(() => parseBroadcastArgs(['s']), { message: USAGE });
        assert.throws(() => parseBroadcastArgs(['s', 'update', 'extra']), { message: USAGE });
    });
});


describe('runBroadcastCli()', () => {

    it('broadcasts once, prints the seq, closes and exits 0', async () => {

        const { sent, broadcaster, closed } = recorder();
        const { lines, out } = output();
        const code = await runBroadcastCli(['chat:BroadcastStream', 'update', '--target', 'box', '--text', 'Hello'], () => Promise.resolve(broadcaster), out);
        assert.equal(code, 0);
        assert.equal(sent.length, 1);
        assert.equal(sent[0]!.stream, 'chat:BroadcastStream');
        assert.match(sent[0]!.html, /<turbo-stream action="update" target="box"><template>Hello<\/template><\/turbo-stream>/);
        assert.deepEqual(lines.log, ['sent update to chat:BroadcastStream (seq 7)']);
        assert.equal(closed(), 1);
    });

    it('exits 2 with the usage and opens nothing when the arguments are wrong', async () => {

        const { lines, out } = output();
        let opened = false;
        const code = await runBroadcastCli(['only-a-stream'], () => {

            opened = true;
            return Promise.resolve(recorder().broadcaster);
        }, out);
        assert.equal(code, 2);
        assert.equal(opened, false);
        assert.deepEqual(lines.error, [USAGE]);
    });

    it('exits 1 when the broadcast fails, and still closes', async () => {

        const { broadcaster, closed } = recorder(new Error('Redis is away'));
        const { lines, out } = output();
        const code = await runBroadcastCli(['s', 'refresh'], () => Promise.resolve(broadcaster), out);
        assert.equal(code, 1);
        assert.deepEqual(lines.error, ['broadcast failed: Redis is away']);
        assert.equal(closed(), 1);
    });
});
