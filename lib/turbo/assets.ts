import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import Boom from '@hapi/boom';
import type { Server } from '@hapi/hapi';

// Found through the package's own name, so the same code works from lib/turbo/ and from dist/
const require = createRequire(import.meta.url);
export const ROOT = dirname(require.resolve('hapi-turbo/package.json'));

const STATIC = join(ROOT, 'static', 'turbo');


// The browser files pages load from `<assetsPath>/<name>`. A Map: names come from the URL, and a
// plain object would also answer to __proto__, constructor…
const assetFiles = function (): Map<string, string> {

    const turbo = join(dirname(require.resolve('@hotwired/turbo/package.json')), 'dist');
    const socketIo = join(dirname(require.resolve('socket.io-client/package.json')), 'dist');
    return new Map([
        ['hapi-turbo.js', join(STATIC, 'hapi-turbo.js')],
        ['stream-client.js', join(STATIC, 'stream-client.js')],
        ['turbo.es2017-esm.js', join(turbo, 'turbo.es2017-esm.js')],
        ['socket.io.esm.min.js', join(socketIo, 'socket.io.esm.min.js')],
        ['socket.io.esm.min.js.map', join(socketIo, 'socket.io.esm.min.js.map')]
    ]);
};


/** Serves the asset table under `assetsPath` (needs @hapi/inert). */
export const routeAssets = function (server: Server, assetsPath: string): void {

    const files = assetFiles();
    server.route({
        method: 'GET',
        path: `${assetsPath}/{file}`,
        options: { auth: false },
        handler: (request, h) => {

            const file = files.get(request.params.file as string);
            if (!file) {
                throw Boom.notFound();
            }

            return h.file(file, { confine: false });
        }
    });
};
