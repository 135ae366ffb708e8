import { randomBytes } from 'node:crypto';

import Hapi from '@hapi/hapi';
import Vision, { type ServerViewsConfiguration } from '@hapi/vision';

import { plugin, type HapiTurboOptions, type TurboApi } from './plugin.ts';

export interface StandaloneBroadcasterOptions {
    /** The Redis the web servers use (their `redis` option). */
    redis: string;
    /** The same views configuration as the web servers, so templates render the same. */
    views: ServerViewsConfiguration;
    /** The same stream classes (or `streamsPath`) as the web servers. */
    streams?: HapiTurboOptions['streams'];
    streamsPath?: string;
    /** Installs the model hooks in this process too (writes made here broadcast); without it streams are only named. */
    sequelize?: HapiTurboOptions['sequelize'];
    replay?: HapiTurboOptions['replay'];
    /** Handlebars helpers the templates use, registered on the views manager. */
    helpers?: Record<string, (...args: never[]) => unknown>;
}

export interface StandaloneBroadcaster {
    /** `server.turbo` of a server that renders and publishes but never listens. */
    turbo: TurboApi;
    broadcast: TurboApi['broadcast'];
    close(): Promise<void>;
}


/**
 * Broadcasting from a worker, a queue consumer or a script: renders with the app's templates and
 * stream classes and publishes through Redis, so browsers connected to any web process receive it.
 * Model hooks fire here too when `sequelize` is given. Call `close()` when done.
 */
export const createBroadcaster = async function (options: StandaloneBroadcasterOptions): Promise<StandaloneBroadcaster> {

    const server = Hapi.server();
    await server.register(Vision);
    const manager = server.views(options.views);
    for (const [name, helper] of Object.entries(options.helpers ?? {})) {
        manager.registerHelper(name, helper as never);
    }

    await server.register({
        plugin,
        options: {
            // Nothing is signed here; the secret only matters to the web servers
            secret: randomBytes(32).toString('hex'),
            redis: options.redis,
            batch: false,
            hooks: Boolean(options.sequelize),
            ...(options.streams ? { streams: options.streams } : {}),
            ...(options.streamsPath ? { streamsPath: options.streamsPath } : {}),
            ...(options.sequelize ? { sequelize: options.sequelize } : {}),
            ...(options.replay ? { replay: options.replay } : {})
        }
    });

    await server.initialize();
    return {
        turbo: server.turbo,
        broadcast: (...args) => server.turbo.broadcast(...args),
        close: async () => {

            await server.turbo.drain();
            await server.stop();
        }
    };
};
