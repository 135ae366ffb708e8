import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import Boom from '@hapi/boom';
import type { Server } from '@hapi/hapi';

import { ROOT } from '../../lib/turbo/assets.ts';
import { turboServer } from '../support/fixture.ts';

// The browser files the plugin serves: what each one is, how it is cached, and what is not served.
// hostile/http.spec.ts asks the chat app for every Object.prototype name and more.

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));

// Every asset, and the file it must be, byte for byte
const ASSETS: Record<string, { type: string; file: string }> = {
    'hapi-turbo.js': { type: 'text/javascript', file: join(ROOT, 'static/turbo/hapi-turbo.js') },
    'stream-client.js': { type: 'text/javascript', file: join(ROOT, 'static/turbo/stream-client.js') },
    'turbo.es2017-esm.js': { type: 'text/javascript', file: join(packageDir('@hotwired/turbo'), 'dist/turbo.es2017-esm.js') },
    'socket.io.esm.min.js': { type: 'text/javascript', file: join(packageDir('socket.io-client'), 'dist/socket.io.esm.min.js') },
    'socket.io.esm.min.js.map': { type: 'application/json', file: join(packageDir('socket.io-client'), 'dist/socket.io.esm.min.js.map') }
};


describe('assets', () => {

    let server: Server;

    before(async () => {

        server = await turboServer();
        await server.initialize();
    });

    after(async () => {

        await server.stop();
    });

    it('finds the package root by the package\'s own name', async () => {

        assert.equal(JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).name, 'hapi-turbo');
    });

    for (const [name, { type, file }] of Object.entries(ASSETS)) {
        it(`serves ${name} as ${type}, revalidated by its ETag`, async () => {

            const res = await server.inject(`/_turbo/${name}`);
            assert.equal(res.statusCode, 200);
            assert.equal(res.headers['content-type'], `${type}; charset=utf-8`);
            assert.deepEqual(res.rawPayload, await readFile(file));

            // Cached by the browser, asked again on each page: an upgrade of the package is seen at once
            assert.equal(res.headers['cache-control'], 'no-cache');
            assert.match(String(res.headers.etag), /^"[0-9a-f]{40}"$/);
            assert.ok(res.headers['last-modified']);
            const again = await server.inject({ url: `/_turbo/${name}`, headers: { 'if-none-match': String(res.headers.etag) } });
            assert.deepEqual([again.statusCode, again.payload], [304, '']);
        });
    }

    it('serves every file the assets import or point to, so pages need nothing else', async () => {

        const wanted = new Set<string>();
        for (const name of Object.keys(ASSETS).filter((asset) => asset.endsWith('.js'))) {
            const source = (await server.inject(`/_turbo/${name}`)).payload;
            for (const match of source.matchAll(/\b(?:from|import)\s*\(?\s*['"]\.\/([^'"]+)['"]|sourceMappingURL=(\S+)/g)) {
                wanted.add(match[1] ?? match[2]!);
            }
        }

        assert.deepEqual([...wanted].sort(), ['socket.io.esm.min.js', 'socket.io.esm.min.js.map', 'stream-client.js', 'turbo.es2017-esm.js']);
        for (const name of wanted) {
            assert.equal((await server.inject(`/_turbo/${name}`)).statusCode, 200, name);
        }
    });

    it('answers 404 for any other name, Object.prototype\'s and paths out of the folder included', async () => {

        for (const name of ['__proto__', 'constructor', 'hasOwnProperty', 'toString', 'turbo.js', 'stream-client.d.ts', '..%2Fpackage.json', '%2E%2E%2Fpackage.json']) {
            const res = await server.inject(`/_turbo/${name}`);
            assert.equal(res.statusCode, 404, name);
        }
    });

    it('serves under the assetsPath option, to pages that are not signed in, whatever the server\'s default auth', async () => {

        const guarded = await turboServer({ assetsPath: '/static/live' });
        guarded.auth.scheme('nobody', () => ({ authenticate: () => Boom.unauthorized('signed in only') }));
        guarded.auth.strategy('nobody', 'nobody');
        guarded.auth.default('nobody');
        guarded.route({ method: 'GET', path: '/private', handler: () => 'private' });
        await guarded.initialize();

        assert.equal((await guarded.inject('/private')).statusCode, 401);
        assert.equal((await guarded.inject('/static/live/hapi-turbo.js')).statusCode, 200);
        assert.equal((await guarded.inject('/_turbo/hapi-turbo.js')).statusCode, 404, 'nothing under the default path');
        await guarded.stop();
    });
});
