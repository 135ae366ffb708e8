import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Hapi from '@hapi/hapi';
import Vision from '@hapi/vision';
import Handlebars from 'handlebars';
import { DataTypes, Model, Sequelize, type CreationOptional, type InferAttributes, type InferCreationAttributes } from 'sequelize';

import HapiTurbo, { ModelStream, Stream, TurboStream, type HapiTurboOptions } from '../lib/turbo/index.ts';
import { now } from './stats.ts';

// The app every bench path runs against: one hapi server with the plugin, a sqlite file in WAL mode
// (so an fsync per commit does not hide the broadcast costs, reference §4.2), a Message model whose
// ModelStream appends each new row to its room's stream through a bench template. The template
// carries the broadcast's id (data-b) and its t0 (data-t0), stamped just before Message.create, so
// clients can compute save → arrival latency without any extra field on the wire.

export const VIEWS = fileURLToPath(new URL('./views/', import.meta.url));
export const SECRET = 'hapi-turbo-bench-secret-of-at-least-32-bytes';
export const ROOM = 1;
export const TEMPLATE = 'bench/message';
export const AUTHOR = 'bench';
// About the size of a chat line; with the markup the <turbo-stream> comes to ~430 bytes (reference: ~400)
export const TEXT = 'The quick brown fox jumps over the lazy dog while the load generator counts every frame it gets';

export type Batch = false | { window?: number };

export interface BenchAppOptions {
    /** The plugin's `batch` option; undefined leaves the library default. */
    batch?: Batch;
    /** Called when the ModelStream hook runs for a saved message (the DB write is done then). */
    onSave?: (message: { b: number; t0: number }) => void;
}

export interface QueryCounters {
    queries: number;
    /** Summed duration of those queries, as Sequelize runs them (binding, sqlite, result building). */
    dbMs: number;
}


/** Counts the queries `sequelize` runs and sums their durations into `counters`. */
export const countQueries = function (sequelize: Sequelize, counters: QueryCounters): void {

    const started = new WeakMap<object, number>();
    sequelize.addHook('beforeQuery', (_options, query) => {

        started.set(query, performance.now());
    });
    sequelize.addHook('afterQuery', (_options, query) => {

        ++counters.queries;
        counters.dbMs += performance.now() - (started.get(query) ?? performance.now());
    });
};


export const createBenchApp = async function (options: BenchAppOptions = {}) {

    const dir = await mkdtemp(join(tmpdir(), 'hapi-turbo-bench-'));
    const sequelize = new Sequelize({ dialect: 'sqlite', storage: join(dir, 'bench.sqlite'), logging: false });

    // Counting at the Sequelize level sees every query the library or a hook would add, whatever
    // the model: the invariant is that this count per broadcast does not grow with subscribers
    const counters: QueryCounters = { queries: 0, dbMs: 0 };
    countQueries(sequelize, counters);

    class Message extends Model<InferAttributes<Message>, InferCreationAttributes<Message>> {
        declare id: CreationOptional<number>;
        declare roomId: number;
        declare author: string;
        declare text: string;
        declare b: number;
        declare t0: number;
        declare createdAt: CreationOptional<Date>;
    }

    Message.init({
        id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
        roomId: { type: DataTypes.INTEGER, allowNull: false },
        author: { type: DataTypes.STRING(64), allowNull: false },
        text: { type: DataTypes.STRING(255), allowNull: false },
        b: { type: DataTypes.INTEGER, allowNull: false },
        t0: { type: DataTypes.DOUBLE, allowNull: false },
        createdAt: DataTypes.DATE
    }, { sequelize, modelName: 'Message', updatedAt: false });

    await sequelize.sync();
    await sequelize.query('PRAGMA journal_mode=WAL');
    await sequelize.query('PRAGMA synchronous=NORMAL');

    /** A room's feed: `new FeedStream(1)` is "bench:FeedStream[1]". */
    class FeedStream extends Stream {
    }

    class MessageStream extends ModelStream<Message> {
        static override model = Message;

        override async onSave(message: Message, created: boolean) {

            options.onSave?.(message);
            if (created) {
                await new FeedStream(message.roomId).append(TEMPLATE, { message }, { id: 'messages' });
            }
        }
    }

    const server = Hapi.server({ host: '127.0.0.1', port: 0 });
    await server.register(Vision);
    server.views({ engines: { html: Handlebars.create() }, path: VIEWS, isCached: true });

    // `batch` is passed only when asked for, so this file works with a library that predates it
    const pluginOptions: HapiTurboOptions = { secret: SECRET, sequelize, streams: { bench: [FeedStream, MessageStream] }, auth: false };
    if (options.batch !== undefined) {
        Object.assign(pluginOptions, { batch: options.batch });
    }

    await server.register({ plugin: HapiTurbo, options: pluginOptions });
    await server.start();

    const stream = new FeedStream(ROOM);
    const app = {
        server,
        sequelize,
        Message,
        counters,
        dir,
        streamName: stream.name,
        signed: server.turbo.signedStreamName(stream),

        /** Stamps t0 (unless given) just before Message.create: the full pipeline of one broadcast. */
        save(b: number, t0 = now()): Promise<Message> {

            return Message.create({ roomId: ROOM, author: AUTHOR, text: TEXT, b, t0 });
        },

        /**
         * The same markup, rendered once through the same template, with holes for the id and t0:
         * the floors send exactly what the pipeline sends, without the DB and the render.
         */
        async prerendered(): Promise<(b: number, t0: number) => string> {

            const message = { id: 'BENCHB', roomId: ROOM, author: AUTHOR, text: TEXT, b: 'BENCHB', t0: 'BENCHT' };
            const html = await server.turbo.render(TurboStream.append({ id: 'messages' }, { template: TEMPLATE, context: { message } }));
            const parts = html.split(/(BENCHB|BENCHT)/);
            return (b, t0) => {

                let out = '';
                for (const part of parts) {
                    out += part === 'BENCHB' ? b : part === 'BENCHT' ? t0 : part;
                }

                return out;
            };
        },

        async close(): Promise<void> {

            await server.stop({ timeout: 1000 });
            await sequelize.close();
            await rm(dir, { recursive: true, force: true });
        }
    };

    return app;
};

export type BenchApp = Awaited<ReturnType<typeof createBenchApp>>;
