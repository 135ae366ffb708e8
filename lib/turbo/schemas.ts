import type { RouteOptionsAccess } from '@hapi/hapi';
import Joi from 'joi';

import { REFRESH_DEFAULTS, type RefreshOptions } from './refresh.ts';
import { REPLAY_DEFAULTS, type ReplayOptions } from './replay.ts';
import type { StreamSecret } from './signing.ts';
import type { SocketLimits } from './transports/socket-io.ts';

// Every option the plugin takes: its type and documentation (HapiTurboOptions), its validation and
// defaults (pluginOptions, typed against the interface: tsc fails when a key is in one and not the
// other), and what validation returns (ValidatedOptions, derived from the interface)

/** Options of `server.register({ plugin: HapiTurbo, options })`; see docs/protocol.md and the README. */
export interface HapiTurboOptions {
    /**
     * Signs stream names: a string or a Buffer (the key's bytes, e.g. `Buffer.from(process.env.KEY, 'hex')`),
     * at least 32 bytes. A list rotates keys (sign with the first, verify with all). Required unless NODE_ENV=test.
     */
    secret?: StreamSecret | StreamSecret[];
    /** Lets `static model = 'Message'` name a model of this instance. */
    sequelize?: import('sequelize').Sequelize;
    /** Stream classes by app: `{ chat: [RoomStream, MessageStream] }` or `{ chat: await import('./streams.ts') }`. */
    streams?: import('./registry.ts').StreamDeclarations;
    /** Where to discover `<app>/streams.ts` when `streams` is not given (default: `<cwd>/lib`). */
    streamsPath?: string;
    /** Install the Sequelize hooks of ModelStreams (default true); false in processes that only broadcast by name. */
    hooks?: boolean;
    /** `'socket.io'` (default) or `'memory'` (in-process, for tests and scripts). */
    transport?: 'socket.io' | 'memory';
    /** socket.io's HTTP path (default `/socket.io`). */
    path?: string;
    /** Where the browser assets are served (default `/_turbo`). */
    assetsPath?: string;
    /** How a socket finds its user: an auth strategy name or route auth config; false for none. */
    auth?: false | string | RouteOptionsAccess;
    /** Origins whose pages may open a socket: '*', a list of origins, or (default) the server's own. */
    origins?: '*' | string[];
    /**
     * `true` (the default, adaptive): a broadcast to an idle stream leaves at once, and broadcasts
     * arriving while that frame is still being written leave together in the next one. `{ window }`:
     * broadcasts to one stream within one event-loop turn (`window: 0`) or within `window` ms leave
     * as one frame. `false` sends each broadcast as its own frame.
     */
    batch?: boolean | { window?: number };
    /**
     * Redis URL (`redis://…`): socket.io rooms go through the Redis Streams adapter, and sequence
     * counters and replay buffers live in Redis, so several processes serve the same streams and any
     * of them, or a script, can broadcast (docs/scaling.md).
     */
    redis?: string | { url: string };
    /** The replay buffer that lets reconnecting pages catch up (docs/guarantees.md). */
    replay?: Partial<ReplayOptions>;
    /** How refresh broadcasts (`static broadcastsRefreshes`) are coalesced: `{ debounce: 500, mode: 'debounce' | 'throttle' }`. */
    refresh?: Partial<RefreshOptions>;
    /** Per-socket limits against broken and hostile clients (docs/guarantees.md). */
    limits?: Partial<SocketLimits>;
}


// A string (its UTF-8 bytes) or the key's bytes in a Buffer, as a Rails app's derived default key;
// a string is never read as hex or base64
const secret = Joi.any().custom((value: unknown, helpers) => {

    if (typeof value !== 'string' && !Buffer.isBuffer(value)) {
        return helpers.error('secret.type');
    }

    return Buffer.byteLength(value) >= 32 ? value : helpers.error('secret.length');
}).messages({
    'secret.type': '{{#label}} must be a string or a Buffer',
    'secret.length': '{{#label}} must be at least 32 bytes long'
});

const urlPath = Joi.string().pattern(/^\/[\w./-]*$/).pattern(/\/$/, { invert: true, name: 'no trailing slash' });


export const pluginOptions = Joi.object<HapiTurboOptions, true>({
    secret: Joi.alternatives().conditional(Joi.array(), { then: Joi.array().items(secret).min(1), otherwise: secret })
        .when('$test', { is: true, otherwise: Joi.required() }),
    sequelize: Joi.object().unknown(true),
    streams: Joi.object().pattern(/^[A-Za-z0-9_.-]+$/, Joi.alternatives(Joi.array().items(Joi.function()), Joi.object().unknown(true))),
    streamsPath: Joi.string(),
    hooks: Joi.boolean().default(true),
    transport: Joi.string().valid('socket.io', 'memory').default('socket.io'),
    path: urlPath.default('/socket.io'),
    assetsPath: urlPath.default('/_turbo'),
    auth: Joi.alternatives(Joi.boolean().valid(false), Joi.string(), Joi.object().unknown(true)),
    origins: Joi.alternatives(Joi.string().valid('*'), Joi.array().items(Joi.string().uri())),
    redis: Joi.alternatives(Joi.string().uri({ scheme: ['redis', 'rediss'] }), Joi.object({ url: Joi.string().uri({ scheme: ['redis', 'rediss'] }).required() })),
    batch: Joi.alternatives(Joi.boolean(), Joi.object({ window: Joi.number().integer().min(0).max(1000).default(0) })).default(true),
    replay: Joi.object({
        size: Joi.number().integer().min(0).default(REPLAY_DEFAULTS.size),
        maxAge: Joi.number().integer().min(0).default(REPLAY_DEFAULTS.maxAge),
        maxBytes: Joi.number().integer().min(0).default(REPLAY_DEFAULTS.maxBytes),
        maxStreams: Joi.number().integer().min(1).default(REPLAY_DEFAULTS.maxStreams)
    }).default(),
    refresh: Joi.object({
        debounce: Joi.number().integer().min(0).max(60_000).default(REFRESH_DEFAULTS.debounce),
        mode: Joi.string().valid('debounce', 'throttle').default(REFRESH_DEFAULTS.mode),
        maxWait: Joi.number().integer().min(0).max(600_000).default(REFRESH_DEFAULTS.maxWait)
    }).default(),
    limits: Joi.object({
        maxFrameBytes: Joi.number().integer().min(1024).max(1e7).default(16 * 1024),
        maxSubscriptions: Joi.number().integer().min(1).default(100),
        subscribeBurst: Joi.number().integer().min(1).default(50),
        subscribePerSecond: Joi.number().min(0.1).default(10),
        maxBufferedBytes: Joi.number().integer().min(64 * 1024).default(4 * 1024 * 1024),
        maxTotalBufferedBytes: Joi.number().integer().min(1024 * 1024).default(128 * 1024 * 1024),
        replayBytesPerSecond: Joi.number().integer().min(1024).default(1024 * 1024)
    }).default()
}).oxor('streams', 'streamsPath');


// The keys the schema gives a default: always present once validated
type Defaulted = 'hooks' | 'transport' | 'path' | 'assetsPath' | 'batch' | 'replay' | 'refresh' | 'limits';

/** The options as the schema returns them: defaults filled in, a window given to `batch: { }`. */
export type ValidatedOptions = Omit<HapiTurboOptions, Defaulted> & Required<Pick<HapiTurboOptions, 'hooks' | 'transport' | 'path' | 'assetsPath'>> & {
    batch: boolean | { window: number };
    replay: ReplayOptions;
    refresh: RefreshOptions;
    limits: SocketLimits;
};


export const applyOptions = function (options: unknown): ValidatedOptions {

    const { value, error } = pluginOptions.validate(options ?? {}, { context: { test: process.env.NODE_ENV === 'test' } });
    if (error) {
        throw new Error(`Invalid hapi-turbo options: ${error.message}`);
    }

    return value as ValidatedOptions;
};
