import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { REFRESH_DEFAULTS } from '../../lib/turbo/refresh.ts';
import { REPLAY_DEFAULTS } from '../../lib/turbo/replay.ts';
import { applyOptions } from '../../lib/turbo/schemas.ts';

// The plugin's options: defaults, and a clear error for what cannot work. Runs with NODE_ENV=test
// unset for the secret's requirement.

const SECRET = 'x'.repeat(32);


const withEnv = function <T>(value: string | undefined, fn: () => T): T {

    const saved = process.env.NODE_ENV;
    if (value === undefined) {
        delete process.env.NODE_ENV;
    }
    else {
        process.env.NODE_ENV = value;
    }

    try {
        return fn();
    }
    finally {
        process.env.NODE_ENV = saved;
    }
};


describe('applyOptions()', () => {

    it('fills in every default', () => {

        const options = applyOptions({ secret: SECRET });
        assert.equal(options.hooks, true);
        assert.equal(options.transport, 'socket.io');
        assert.equal(options.path, '/socket.io');
        assert.equal(options.assetsPath, '/_turbo');
        assert.equal(options.batch, true);
        assert.deepEqual(options.replay, { ...REPLAY_DEFAULTS });
        assert.deepEqual(options.refresh, { ...REFRESH_DEFAULTS });
        assert.equal(options.limits.maxFrameBytes, 16 * 1024);
        assert.equal(options.limits.maxSubscriptions, 100);
    });

    it('gives batch: {} a window of 0', () => {

        assert.deepEqual(applyOptions({ secret: SECRET, batch: {} }).batch, { window: 0 });
    });

    it('requires a secret of at least 32 bytes outside tests, and takes a list or a Buffer', () => {

        withEnv('production', () => {

            assert.throws(() => applyOptions({}), /Invalid hapi-turbo options: "secret" is required/);
            assert.throws(() => applyOptions({ secret: 'short' }), /must be at least 32 bytes long/);
            assert.throws(() => applyOptions({ secret: 42 }), /must be a string or a Buffer/);
            assert.equal(applyOptions({ secret: Buffer.alloc(32) }).secret instanceof Buffer, true);
            assert.equal((applyOptions({ secret: [SECRET, 'y'.repeat(40)] }).secret as string[]).length, 2);
        });

        withEnv('test', () => assert.equal(applyOptions({}).secret, undefined));
    });

    it('refuses streams and streamsPath together, unknown keys, and paths with a trailing slash', () => {

        assert.throws(() => applyOptions({ secret: SECRET, streams: {}, streamsPath: '/x' }), /Invalid hapi-turbo options/);
        assert.throws(() => applyOptions({ secret: SECRET, sockets: true }), /"sockets" is not allowed/);
        assert.throws(() => applyOptions({ secret: SECRET, path: '/socket.io/' }), /Invalid hapi-turbo options/);
        assert.throws(() => applyOptions({ secret: SECRET, transport: 'ws' }), /"transport" must be one of/);
    });

    it('takes a Redis URL as a string or { url } and refuses other schemes', () => {

        assert.equal(applyOptions({ secret: SECRET, redis: 'redis://127.0.0.1:6379' }).redis, 'redis://127.0.0.1:6379');
        assert.deepEqual(applyOptions({ secret: SECRET, redis: { url: 'rediss://h:6380' } }).redis, { url: 'rediss://h:6380' });
        assert.throws(() => applyOptions({ secret: SECRET, redis: 'http://h' }), /Invalid hapi-turbo options/);
    });
});
