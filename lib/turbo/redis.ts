import { randomBytes } from 'node:crypto';

import type { createClient } from 'redis';

import { REPLAY_DEFAULTS, type AppendOptions, type ReplayOptions, type ReplayRecord, type Resume, type StreamLog, type StreamPosition } from './replay.ts';

export type RedisClient = ReturnType<typeof createClient>;

// Keys, per stream: its counter, the epoch of that counter, and a capped Redis stream of its
// messages whose entry ids are `0-<seq>`, so a range read by seq is exact.
const PREFIX = 'hapi-turbo:';
const COUNTER_TTL_MS = 7 * 24 * 3600_000;

// Takes the next seq and stores the message in one step, so seqs and log entries never disagree
// whichever process appends. A counter created anew (first use, or expired) gets a new epoch.
const APPEND = `
local epoch = redis.call('GET', KEYS[2])
if not epoch or redis.call('EXISTS', KEYS[1]) == 0 then
    epoch = ARGV[4]
    redis.call('SET', KEYS[2], epoch)
    redis.call('DEL', KEYS[3])
end
local seq = redis.call('INCR', KEYS[1])
local now = redis.call('TIME')
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[2], '0-' .. seq, 'h', ARGV[1], 't', now[1] * 1000 + math.floor(now[2] / 1000), 'x', ARGV[6])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return { epoch, seq }
`;

const POSITION = `
local epoch = redis.call('GET', KEYS[2])
if not epoch or redis.call('EXISTS', KEYS[1]) == 0 then
    epoch = ARGV[1]
    redis.call('SET', KEYS[1], 0, 'PX', ARGV[2])
    redis.call('SET', KEYS[2], epoch, 'PX', ARGV[2])
end
return { epoch, tonumber(redis.call('GET', KEYS[1])) }
`;

// The packages of the `redis` option. They are optional peers: only apps that use the option install
// them, so they are loaded on first use.
const REDIS_PACKAGES = ['redis', '@socket.io/redis-streams-adapter'] as const;

const importPackage = async function <T>(name: typeof REDIS_PACKAGES[number], load: () => Promise<T>): Promise<T> {

    try {
        return await load();
    }
    catch (error) {
        const { code, message } = error as { code?: string; message?: string };
        if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && message?.includes(`'${name}'`)) {
            throw new Error(`hapi-turbo's redis option needs the packages ${REDIS_PACKAGES.join(' and ')}, and ${name} is not installed: npm install ${REDIS_PACKAGES.join(' ')}`, { cause: error });
        }

        throw error;
    }
};


/** The Redis client and the socket.io Redis Streams adapter, imported when the `redis` option is used. */
export const loadRedis = async function () {

    const [redis, adapter] = await Promise.all([
        importPackage('redis', () => import('redis')),
        importPackage('@socket.io/redis-streams-adapter', () => import('@socket.io/redis-streams-adapter'))
    ]);

    return { createClient: redis.createClient, createAdapter: adapter.createAdapter };
};


const keys = (stream: string) => [`${PREFIX}seq:${stream}`, `${PREFIX}epoch:${stream}`, `${PREFIX}log:${stream}`];
const newEpoch = () => randomBytes(6).toString('hex');


/**
 * Counters and replay buffers shared by every process through Redis: seqs stay monotonic per stream
 * whichever process broadcasts, and a client resuming on another process catches up from the same
 * buffer. Positions a page renders come from a local cache, refreshed before each page view.
 */
export class RedisStreamLog implements StreamLog {

    readonly options: ReplayOptions;
    readonly client: RedisClient;

    readonly #known = new Map<string, StreamPosition>();

    constructor(client: RedisClient, options: Partial<ReplayOptions> = {}) {

        this.client = client;
        this.options = { ...REPLAY_DEFAULTS, ...options };
    }

    position(stream: string): StreamPosition {

        return this.#known.get(stream) ?? { epoch: '', seq: 0 };
    }

    async refresh(streams: readonly string[]): Promise<void> {

        await Promise.all([...new Set(streams)].map(async (stream) => {

            const [epoch, seq] = await this.client.eval(POSITION, { keys: keys(stream).slice(0, 2), arguments: [newEpoch(), String(COUNTER_TTL_MS)] }) as [string, number];
            this.#remember(stream, { epoch, seq });
        }));
    }

    async append(stream: string, html: string, { except }: AppendOptions = {}): Promise<ReplayRecord> {

        const [epoch, seq] = await this.client.eval(APPEND, {
            keys: keys(stream),
            arguments: [html, String(this.options.size), String(this.options.maxAge), newEpoch(), String(COUNTER_TTL_MS), except ?? '']
        }) as [string, number];

        this.#remember(stream, { epoch, seq });
        return { stream, epoch, seq, html, ...(except ? { except } : {}) };
    }

    async resume(stream: string, from: StreamPosition): Promise<Resume> {

        const [seqKey, epochKey, logKey] = keys(stream);
        const [epoch, current] = await Promise.all([this.client.get(epochKey!), this.client.get(seqKey!)]);
        const seq = Number(current ?? 0);
        if (epoch === null || epoch !== from.epoch || from.seq > seq) {
            return { gap: true };
        }

        this.#remember(stream, { epoch, seq });
        if (from.seq === seq) {
            return { records: [] };
        }

        const entries = await this.client.xRange(logKey!, `0-${from.seq + 1}`, '+');
        const oldest = Date.now() - this.options.maxAge;
        const records = entries
            .filter((entry) => Number(entry.message.t) >= oldest)
            .map((entry) => ({ stream, epoch, seq: Number(entry.id.split('-')[1]), html: entry.message.h!, ...(entry.message.x ? { except: entry.message.x } : {}) }));

        if (!records.length || records[0]!.seq !== from.seq + 1) {
            return { gap: true };
        }

        return { records };
    }

    // The cache only moves forward within an epoch, however replies interleave
    #remember(stream: string, position: StreamPosition): void {

        const known = this.#known.get(stream);
        if (known && known.epoch === position.epoch && known.seq >= position.seq) {
            return;
        }

        this.#known.delete(stream);
        this.#known.set(stream, position);
        if (this.#known.size > this.options.maxStreams) {
            this.#known.delete(this.#known.keys().next().value!);
        }
    }
}


/**
 * A connected client that keeps reconnecting. With `failFast`, commands fail at once while Redis is
 * unreachable (no offline queue), so a broadcast during an outage is logged as failed instead of
 * waiting; without it they wait for Redis to come back (the socket.io adapter's reader needs that,
 * or it would spin).
 */
export const connectRedis = async function (url: string, log: (tags: string[], data: object) => void, options: { failFast: boolean }): Promise<RedisClient> {

    const { createClient } = await loadRedis();
    const client = createClient({ url, disableOfflineQueue: options.failFast, socket: { reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2000) } });
    let down = false;
    client.on('error', (error: Error) => {

        if (!down) {
            down = true;
            log(['hapi-turbo', 'redis', 'error'], { message: `Redis unreachable: ${error.message}` });
        }
    });

    client.on('ready', () => {

        if (down) {
            down = false;
            log(['hapi-turbo', 'redis'], { message: 'Redis reachable again' });
        }
    });

    await client.connect();
    return client;
};
