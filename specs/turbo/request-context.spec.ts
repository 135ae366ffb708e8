import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';

import Hapi from '@hapi/hapi';

import { currentRequestId, currentSocketId, installRequestContext, REQUEST_ID_HEADER, runWithRequestId, runWithSocketId, SOCKET_ID_HEADER } from '../../lib/turbo/request-context.ts';

// What a request tells the broadcasts it causes: its Turbo request id and the socket id of its page.
// How they end up on refreshes and toOthers messages: refresh.spec.ts and to-others.spec.ts.

type Seen = { requestId: string | null; socketId: string | null };


describe('request context', () => {

    let server: Hapi.Server;
    let later: Promise<Seen> | undefined;
    const ask = async (headers: Record<string, string>, wait = 0): Promise<Seen> => (await server.inject({ url: `/seen?wait=${wait}`, headers })).result as Seen;

    before(async () => {

        server = Hapi.server();
        installRequestContext(server);
        server.route({ method: 'GET', path: '/seen', handler: async (request) => {

            // Read after the handler has waited, on a timer of its own, as a model hook or a job would
            await sleep(Number(request.query.wait));
            return await new Promise<Seen>((resolve) => setImmediate(() => resolve({ requestId: currentRequestId(), socketId: currentSocketId() })));
        } });
        server.route({ method: 'GET', path: '/later', handler: () => {

            later = sleep(20).then(() => ({ requestId: currentRequestId(), socketId: currentSocketId() }));
            return 'later';
        } });
        server.route({ method: 'GET', path: '/job', handler: () => runWithRequestId('job-1', () => ({ requestId: currentRequestId(), socketId: currentSocketId() })) });
        await server.initialize();
    });

    it('gives the handler, and what it waits for, the Turbo request id and the socket id of its request', async () => {

        assert.deepEqual(await ask({ [REQUEST_ID_HEADER]: 'f00d-1', [SOCKET_ID_HEADER]: 'Ab3_x-YzAb3_x-YzAb3_' }, 5), { requestId: 'f00d-1', socketId: 'Ab3_x-YzAb3_x-YzAb3_' });
        assert.deepEqual(await ask({ [REQUEST_ID_HEADER]: 'f00d-2' }), { requestId: 'f00d-2', socketId: null });
        assert.deepEqual(await ask({ [SOCKET_ID_HEADER]: 'sock' }), { requestId: null, socketId: 'sock' });
        assert.deepEqual(await ask({}), { requestId: null, socketId: null });
    });

    it('takes ids of the shape Turbo and socket.io send, up to a bound, and ignores anything else', async () => {

        const requestIds: [string, string | null][] = [
            ['0f8fad5b-d9cb-469f-a165-70867728950e', '0f8fad5b-d9cb-469f-a165-70867728950e'], ['a.b:c_d', 'a.b:c_d'], ['r'.repeat(128), 'r'.repeat(128)],
            ['r'.repeat(129), null], ['"><script>', null], ['a b', null], ['a,b', null], ['', null]
        ];
        for (const [header, expected] of requestIds) {
            assert.equal((await ask({ [REQUEST_ID_HEADER]: header })).requestId, expected, header);
        }

        const socketIds: [string, string | null][] = [['s'.repeat(64), 's'.repeat(64)], ['s'.repeat(65), null], ['a.b', null], ['a/b', null], ['', null]];
        for (const [header, expected] of socketIds) {
            assert.equal((await ask({ [SOCKET_ID_HEADER]: header })).socketId, expected, header);
        }
    });

    it('keeps concurrent requests apart, those without the headers included', async () => {

        // Each waits longer than the one started after it, so they all overlap and finish in reverse
        const headers = Array.from({ length: 8 }, (_, index): Record<string, string> => index % 3 === 2 ? {} : { [REQUEST_ID_HEADER]: `req-${index}`, [SOCKET_ID_HEADER]: `sock-${index}` });
        const seen = await Promise.all(headers.map((sent, index) => ask(sent, 5 * (headers.length - index))));
        assert.deepEqual(seen, headers.map((sent) => ({ requestId: sent[REQUEST_ID_HEADER] ?? null, socketId: sent[SOCKET_ID_HEADER] ?? null })));
    });

    it('ends with its request: the code that injected it keeps its own context', async () => {

        await ask({ [REQUEST_ID_HEADER]: 'req-1', [SOCKET_ID_HEADER]: 'sock-1' });
        assert.deepEqual([currentRequestId(), currentSocketId()], [null, null]);

        await runWithRequestId('script-1', async () => {

            assert.deepEqual(await ask({ [REQUEST_ID_HEADER]: 'req-2' }), { requestId: 'req-2', socketId: null });
            assert.deepEqual(await ask({}), { requestId: null, socketId: null }, 'a request of its own, without the ids');
            assert.equal(currentRequestId(), 'script-1');
        });

        // Work the request started and that runs after its response no longer acts for it
        assert.equal((await server.inject({ url: '/later', headers: { [REQUEST_ID_HEADER]: 'req-3', [SOCKET_ID_HEADER]: 'sock-3' } })).payload, 'later');
        assert.deepEqual(await later, { requestId: null, socketId: null });
    });

    it('lets scripts set either id and keep the other, nested or inside a request', async () => {

        assert.deepEqual([currentRequestId(), currentSocketId()], [null, null]);
        const nested = runWithRequestId('a', () => runWithSocketId('s', () => [currentRequestId(), currentSocketId(), runWithRequestId(null, () => [currentRequestId(), currentSocketId()])]));
        assert.deepEqual(nested, ['a', 's', [null, 's']]);
        assert.equal(await runWithSocketId('s', async () => {

            await sleep(1);
            return currentSocketId();
        }), 's');
        assert.deepEqual([currentRequestId(), currentSocketId()], [null, null]);

        const res = await server.inject({ url: '/job', headers: { [REQUEST_ID_HEADER]: 'req-3', [SOCKET_ID_HEADER]: 'sock-3' } });
        assert.deepEqual(res.result, { requestId: 'job-1', socketId: 'sock-3' });
    });
});
