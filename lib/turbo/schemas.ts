import Joi from 'joi';

import { REFRESH_DEFAULTS, type RefreshOptions } from './refresh.ts';
import { REPLAY_DEFAULTS, type ReplayOptions } from './replay.ts';
import type { StreamSecret } from './signing.ts';
import type { SocketLimits } from './transports/socket-io.ts';

// Every option the plugin takes, validated in one place

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


export const pluginOptions = Joi.object({
    // Signs stream names. Several rotate keys: new names are signed with the first, all verify.
    secret: Joi.alternatives().conditional(Joi.array(), { then: Joi.array().items(secret).min(1), otherwise: secret })
        .when('$test', { is: true, otherwise: Joi.required() }),
    sequelize: Joi.object().unknown(true),
    streams: Joi.object().pattern(/^[A-Za-z0-9_.-]+$/, Joi.alternatives(Joi.array().items(Joi.function()), Joi.object().unknown(true))),
    streamsPath: Joi.string(),
    // Install the Sequelize hooks of ModelStreams (off in processes that only broadcast by name)
    hooks: Joi.boolean().default(true),
    transport: Joi.string().valid('socket.io', 'memory').default('socket.io'),
    path: urlPath.default('/socket.io'),
    assetsPath: urlPath.default('/_turbo'),
    // How sockets find their user: a hapi auth strategy name or route auth config, false for none.
    // By default the server's default strategy is tried when it has one.
    auth: Joi.alternatives(Joi.boolean().valid(false), Joi.string(), Joi.object().unknown(true)),
    // Origins allowed to open a socket; by default only the server's own (the Host header)
    origins: Joi.alternatives(Joi.string().valid('*'), Joi.array().items(Joi.string().uri())),
    // Shares counters, replay buffers and socket.io rooms with every process using the same Redis
    redis: Joi.alternatives(Joi.string().uri({ scheme: ['redis', 'rediss'] }), Joi.object({ url: Joi.string().uri({ scheme: ['redis', 'rediss'] }).required() })),
    // true (adaptive): a broadcast to an idle stream leaves at once, those arriving while its frame is
    // being written share the next one. { window }: broadcasts to one stream in the same event-loop
    // turn (window 0) or within `window` ms leave as one frame. false: a frame per broadcast.
    batch: Joi.alternatives(Joi.boolean(), Joi.object({ window: Joi.number().integer().min(0).max(1000).default(0) })).default(true),
    replay: Joi.object({
        size: Joi.number().integer().min(0).default(REPLAY_DEFAULTS.size),
        maxAge: Joi.number().integer().min(0).default(REPLAY_DEFAULTS.maxAge),
        maxBytes: Joi.number().integer().min(0).default(REPLAY_DEFAULTS.maxBytes),
        maxStreams: Joi.number().integer().min(1).default(REPLAY_DEFAULTS.maxStreams)
    }).default(),
    // Refresh broadcasts (static broadcastsRefreshes): coalesced per stream and request id within `debounce` ms
    refresh: Joi.object({
        debounce: Joi.number().integer().min(0).max(60_000).default(REFRESH_DEFAULTS.debounce),
        mode: Joi.string().valid('debounce', 'throttle').default(REFRESH_DEFAULTS.mode),
        // Debounce under constant writes: a refresh still leaves at most `maxWait` ms after the first write
        maxWait: Joi.number().integer().min(0).max(600_000).default(REFRESH_DEFAULTS.maxWait)
    }).default(),
    limits: Joi.object({
        maxFrameBytes: Joi.number().integer().min(1024).max(1e7).default(16 * 1024),
        maxSubscriptions: Joi.number().integer().min(1).default(100),
        subscribeBurst: Joi.number().integer().min(1).default(50),
        subscribePerSecond: Joi.number().min(0.1).default(10),
        maxBufferedBytes: Joi.number().integer().min(64 * 1024).default(4 * 1024 * 1024),
        // The memory bound of all sockets' output together (docs/guarantees.md)
        maxTotalBufferedBytes: Joi.number().integer().min(1024 * 1024).default(128 * 1024 * 1024),
        replayBytesPerSecond: Joi.number().integer().min(1024).default(1024 * 1024)
    }).default()
}).oxor('streams', 'streamsPath');


export interface ValidatedOptions {
    secret?: StreamSecret | StreamSecret[];
    sequelize?: import('sequelize').Sequelize;
    streams?: import('./registry.ts').StreamDeclarations;
    streamsPath?: string;
    hooks: boolean;
    transport: 'socket.io' | 'memory';
    path: string;
    assetsPath: string;
    auth?: false | string | object;
    origins?: '*' | string[];
    batch: boolean | { window: number };
    redis?: string | { url: string };
    replay: ReplayOptions;
    refresh: RefreshOptions;
    limits: SocketLimits;
}


export const applyOptions = function (options: unknown): ValidatedOptions {

    const { value, error } = pluginOptions.validate(options ?? {}, { context: { test: process.env.NODE_ENV === 'test' } });
    if (error) {
        throw new Error(`Invalid hapi-turbo options: ${error.message}`);
    }

    return value as ValidatedOptions;
};
