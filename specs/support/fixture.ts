import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Hapi from '@hapi/hapi';
import Vision, { type ServerViewsConfiguration } from '@hapi/vision';
import Handlebars from 'handlebars';
import { DataTypes, Model, type InferAttributes, type InferCreationAttributes, type CreationOptional, type ForeignKey, type NonAttribute } from 'sequelize';
import { io as connect, type Socket } from 'socket.io-client';

import HapiTurbo, { ModelStream, Stream, TurboStream, type HapiTurboOptions, type RefreshTargets } from '../../lib/turbo/index.ts';
import { testDatabase } from './postgres.ts';

export const VIEWS = fileURLToPath(new URL('./views/', import.meta.url));
export const SECRET = 'a-test-secret-that-is-long-enough-to-sign';


/**
 * A small app on a real sqlite file, or on a fresh PostgreSQL database when TEST_DATABASE_URL is set:
 * topics and their posts, each post broadcast to its topic's stream. Every call builds fresh model
 * and stream classes, so tests never share hooks.
 */
export interface FixtureOptions extends Partial<HapiTurboOptions> {
    /** Replaces PostStream.onSave. */
    onSave?: (post: Model & { id: number; topicId: number; body: string }, created: boolean) => unknown;
    /** Declares a second ModelStream for posts, which appends to the plain stream "audit". */
    audit?: boolean;
    /** `static broadcastsRefreshes` of TopicStream and PostStream (none by default). */
    broadcastsRefreshes?: { topic?: RefreshTargets; post?: RefreshTargets };
}


export const createFixture = async function (options: FixtureOptions = {}) {

    const dir = await mkdtemp(join(tmpdir(), 'hapi-turbo-'));
    const database = await testDatabase(join(dir, 'test.sqlite'));
    const sequelize = database.open();

    class Topic extends Model<InferAttributes<Topic>, InferCreationAttributes<Topic>> {
        declare id: CreationOptional<number>;
        declare title: string;
        declare readonly stream: NonAttribute<TopicStream>;
    }

    class Post extends Model<InferAttributes<Post>, InferCreationAttributes<Post>> {
        declare id: CreationOptional<number>;
        declare body: string;
        declare topicId: ForeignKey<number>;
        declare readonly stream: NonAttribute<PostStream>;
    }

    Topic.init({ id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true }, title: DataTypes.STRING }, { sequelize, modelName: 'Topic' });
    Post.init({ id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true }, body: DataTypes.STRING }, { sequelize, modelName: 'Post' });
    Topic.hasMany(Post, { as: 'posts', foreignKey: 'topicId' });
    Post.belongsTo(Topic, { as: 'topic', foreignKey: 'topicId' });
    await sequelize.sync();

    class TopicStream extends ModelStream<Topic> {
        static override model = Topic;
        static override broadcastsRefreshes = options.broadcastsRefreshes?.topic;
    }

    class PostStream extends ModelStream<Post> {
        static override model = Post;
        static override broadcastsRefreshes = options.broadcastsRefreshes?.post;

        override async onSave(post: Post, created: boolean) {

            if (options.onSave) {
                return await options.onSave(post, created);
            }

            const topic = new TopicStream(post.topicId);
            if (created) {
                await topic.append('blog/post', { post }, { id: 'posts' });
            }
            else {
                await topic.replace('blog/post', { post }, { id: `post-${post.id}` });
            }
        }

        override async onDelete(post: Post) {

            await new TopicStream(post.topicId).remove({ id: `post-${post.id}` });
        }
    }

    class NoticeStream extends Stream {
        override userPassesTest(user: unknown) {

            return (user as { admin?: boolean } | null)?.admin === true;
        }
    }

    class PostAuditStream extends ModelStream<Post> {
        static override model = Post;

        override async onSave(post: Post, created: boolean) {

            await fixture.server.turbo.broadcast('audit', TurboStream.append({ id: 'audit' }, { text: `${created ? 'created' : 'updated'} post ${post.id}` }));
        }
    }

    const server = Hapi.server({ host: '127.0.0.1', port: 0 });
    await server.register(Vision);
    server.views({ engines: { html: Handlebars.create() }, path: VIEWS, partialsPath: VIEWS, isCached: true });

    const { onSave: _, audit, broadcastsRefreshes: _refreshes, ...pluginOptions } = options;
    const streams = { blog: audit ? [TopicStream, PostStream, NoticeStream, PostAuditStream] : [TopicStream, PostStream, NoticeStream] };
    await server.register({ plugin: HapiTurbo, options: { secret: SECRET, sequelize, streams, ...pluginOptions } });

    const sockets: Socket[] = [];
    const fixture = {
        server, sequelize, Topic, Post, TopicStream, PostStream, NoticeStream,
        async start() {

            await server.start();
            return fixture;
        },
        /** A real socket.io client on the /turbo namespace, connected. */
        async client(extra: { headers?: Record<string, string>; path?: string; transports?: ('websocket' | 'polling')[] } = {}): Promise<Socket> {

            const socket = connect(`http://127.0.0.1:${server.info.port}/turbo`, { transports: extra.transports ?? ['websocket'], reconnection: false, forceNew: true, extraHeaders: extra.headers, path: extra.path });
            sockets.push(socket);
            await new Promise<void>((resolve, reject) => {

                socket.once('connect', () => resolve());
                socket.once('connect_error', reject);
            });

            return socket;
        },
        /** Subscribes and returns the ack without its position (`epoch`, `seq`), which `position()` gives. */
        async subscribe(socket: Socket, signedStreamName: unknown, since?: { epoch: string; seq: number }): Promise<{ ok: boolean; error?: string; stream?: string; gap?: boolean }> {

            const { epoch: _epoch, seq: _seq, ...answer } = await socket.timeout(5000).emitWithAck('subscribe', since ? { signedStreamName, since } : { signedStreamName });
            return answer;
        },
        async close() {

            sockets.forEach((socket) => socket.disconnect());
            await server.stop({ timeout: 1000 });
            await sequelize.close();
            await database.drop();
            await rm(dir, { recursive: true, force: true });
        }
    };

    return fixture;
};

export type Fixture = Awaited<ReturnType<typeof createFixture>>;


/** A server with views and the plugin on the memory transport, without a database; `views` replaces the views settings. */
export const turboServer = async function (options: Partial<HapiTurboOptions> = {}, views: ServerViewsConfiguration = { engines: { html: Handlebars.create() }, path: VIEWS }) {

    const server = Hapi.server();
    await server.register(Vision);
    server.views(views);
    await server.register({ plugin: HapiTurbo, options: { secret: SECRET, streams: {}, transport: 'memory', ...options } });
    return server;
};


/** Collects the messages a client receives, one entry per message, batches taken apart. */
export const collect = function (socket: Socket) {

    const received: { html: string; stream: string; epoch: string; seq: number }[] = [];
    socket.on('turbo-stream', (html: string | string[], meta: { stream: string; epoch: string; seq: number; count?: number }) => {

        // A batch carries consecutive messages: meta.seq is the last one's
        const parts = Array.isArray(html) ? html : [html];
        parts.forEach((part, index) => received.push({ html: part, stream: meta.stream, epoch: meta.epoch, seq: meta.seq - parts.length + 1 + index }));
    });

    return received;
};


/**
 * Waits until `check` passes, polling; fails with the last error after `ms`. Give its assertions
 * explicit values (assert.equal): a bare failing assert.ok() makes node re-read the source file for
 * its message on every poll, which is very slow under tsx.
 */
export const eventually = async function (check: () => unknown, ms = 5000): Promise<void> {

    const until = Date.now() + ms;
    for (;;) {
        try {
            await check();
            return;
        }
        catch (error) {
            if (Date.now() > until) {
                throw error;
            }

            await new Promise((resolve) => setTimeout(resolve, 10));
        }
    }
};
