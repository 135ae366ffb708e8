import { fileURLToPath } from 'node:url';

import Hapi from '@hapi/hapi';
import Inert from '@hapi/inert';
import Vision from '@hapi/vision';
import Handlebars from 'handlebars';
import type { Sequelize } from 'sequelize';

import HapiTurbo, { suppressingBroadcasts } from 'hapi-turbo';
import { registerVisitors } from './auth.ts';
import { registerCsrf } from './csrf.ts';
import { oneAtATime, openDatabase } from './database.ts';
import { errorPage } from './error-pages.ts';
import { payloadFailAction } from './forms.ts';
import { initModels } from './models.ts';
import { routes } from './routes.ts';
import { loadSecret } from './secret.ts';
import { formatTime } from './time.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DATA = fileURLToPath(new URL('../../data/', import.meta.url));

export interface ChatServerOptions {
    /** "sqlite:<path>", "sqlite::memory:" or "postgres://…"; default data/chat.sqlite in the project. */
    databaseUrl?: string;
    port?: number | string;
    host?: string;
    /** Signs stream names (at least 32 bytes); default a development key kept in data/secret. */
    secret?: string;
    /** 'memory' keeps broadcasts in the process (scripts, tests). */
    transport?: 'socket.io' | 'memory';
    /** Mark the CSRF cookie Secure; on by default in production, where the app sits behind HTTPS. */
    secureCookies?: boolean;
    /** Add "Demo Room" when there are no rooms (default true). */
    seed?: boolean;
    /** "redis://…": run as one of several processes sharing rooms and broadcasts (docs/scaling.md). */
    redisUrl?: string;
}

const PAYLOAD_MAX_BYTES = 64 * 1024;


const seedDemo = async function (sequelize: Sequelize, { Room, Message }: ReturnType<typeof initModels>): Promise<void> {

    if (await Room.count()) {
        return;
    }

    // Demo rows are nobody's news: even with hapi-turbo's hooks installed, they broadcast nothing
    await suppressingBroadcasts(() => sequelize.transaction(async (transaction) => {

        const room = await Room.create({ name: 'Demo Room' }, { transaction });
        await Message.create({ roomId: room.id, text: 'demo message' }, { transaction });
    }));
};


/** The chat app: pages, forms and live updates over a sqlite or PostgreSQL database. Call `server.start()` to serve. */
export const createServer = async function (options: ChatServerOptions = {}) {

    const sequelize = await openDatabase(options.databaseUrl ?? `sqlite:${DATA}chat.sqlite`);
    const models = initModels(sequelize);
    await oneAtATime(sequelize, async () => {

        await sequelize.sync();
        if (options.seed !== false) {
            await seedDemo(sequelize, models);             // Before hapi-turbo is registered: nobody is listening yet
        }
    });

    const server = Hapi.server({
        port: options.port ?? 3000,
        host: options.host ?? 'localhost',
        routes: {
            payload: { maxBytes: PAYLOAD_MAX_BYTES, failAction: payloadFailAction },
            security: { hsts: false, referrer: 'same-origin' },
            // A stray cookie from another app on the same host must not break every page
            state: { parse: true, failAction: 'log' }
        }
    });

    await server.register([Vision, Inert]);
    const views = server.views({
        engines: { html: Handlebars.create() },
        relativeTo: ROOT,
        path: 'views',
        partialsPath: 'views',
        layout: true,
        layoutPath: 'views'
    });

    views.registerHelper('time', formatTime);

    await registerCsrf(server, { secureCookies: options.secureCookies ?? process.env.NODE_ENV === 'production' });
    registerVisitors(server, { secret: options.secret ?? await loadSecret(`${DATA}secret`), secureCookies: options.secureCookies ?? process.env.NODE_ENV === 'production' });

    await server.register({
        plugin: HapiTurbo,
        options: {
            secret: options.secret ?? await loadSecret(`${DATA}secret`),
            sequelize,
            transport: options.transport,
            redis: options.redisUrl,
            streams: { chat: await import('./streams.ts') }
        }
    });

    server.ext('onPreResponse', errorPage);
    server.route(routes);

    return { server, sequelize, ...models };
};
