import { randomBytes } from 'node:crypto';

/**
 * Where a stream stands: `seq` counts its messages from 1; `epoch` names the counter. A counter that
 * is created again (a new process, or an entry evicted from memory) gets a new epoch, so a client
 * holding positions of the old one knows it cannot resume and must refresh.
 */
export interface StreamPosition {
    readonly epoch: string;
    readonly seq: number;
}

export interface ReplayRecord extends StreamPosition {
    readonly stream: string;
    readonly html: string;
    /**
     * The socket a `toOthers` broadcast skips (the page that caused it, which updated itself). That
     * socket gets an empty placeholder for this seq instead, live and on replay, so it sees no gap.
     */
    readonly except?: string;
}

export interface AppendOptions {
    /** The socket to skip: see ReplayRecord.except. */
    except?: string | null;
    /** The time of the message, for maxAge (in-memory log; tests). */
    now?: number;
}

export interface ReplayOptions {
    /** Messages kept per stream. */
    size: number;
    /** How long a message stays replayable, in ms. */
    maxAge: number;
    /** Total characters of markup kept across all streams. */
    maxBytes: number;
    /** Streams whose counters are kept; the least recently used beyond it are forgotten. */
    maxStreams: number;
}

export const REPLAY_DEFAULTS: ReplayOptions = {
    size: 200,
    maxAge: 5 * 60_000,
    maxBytes: 32 * 1024 * 1024,
    maxStreams: 100_000
};

interface Entry {
    epoch: string;
    seq: number;
    records: (ReplayRecord & { at: number })[];
    bytes: number;
}

/** What a resuming client gets: the messages it missed, in order, or `gap` when they are gone. */
export type Resume = { records: readonly ReplayRecord[] } | { gap: true };

/**
 * Counters and replay buffers: in process memory (ReplayLog), or shared by every process through
 * Redis (RedisStreamLog in redis.ts).
 */
export interface StreamLog {
    readonly options: ReplayOptions;
    /** Where a stream stands, as far as this process knows without asking anyone. */
    position(stream: string): StreamPosition;
    /** Takes the next seq of `stream` and keeps the message for replay. */
    append(stream: string, html: string, options?: AppendOptions): ReplayRecord | Promise<ReplayRecord>;
    /** What a client that has seen `from` missed since. */
    resume(stream: string, from: StreamPosition): Resume | Promise<Resume>;
    /** Brings this process's knowledge of where the streams stand up to date (before a page renders). */
    refresh?(streams: readonly string[]): Promise<void>;
}


/**
 * Sequence counters and a bounded replay buffer per stream, in process memory. Memory is bounded
 * three ways: per stream (`size`), in time (`maxAge`) and in total (`maxBytes`, `maxStreams`), by
 * evicting from the streams that were published to least recently.
 */
export class ReplayLog implements StreamLog {

    readonly options: ReplayOptions;

    readonly #boot = randomBytes(4).toString('hex');
    #epochs = 0;
    #bytes = 0;
    readonly #entries = new Map<string, Entry>();              // Insertion order is recency of use

    constructor(options: Partial<ReplayOptions> = {}) {

        this.options = { ...REPLAY_DEFAULTS, ...options };
    }

    get bytes(): number {

        return this.#bytes;
    }

    get streams(): number {

        return this.#entries.size;
    }

    /** The current position of a stream; pages record it when they render a subscription. */
    position(stream: string): StreamPosition {

        const entry = this.#entry(stream);
        return { epoch: entry.epoch, seq: entry.seq };
    }

    /** Takes the next seq of `stream` and keeps the message for replay. */
    append(stream: string, html: string, { except, now = Date.now() }: AppendOptions = {}): ReplayRecord {

        const entry = this.#entry(stream);
        const record = { stream, epoch: entry.epoch, seq: entry.seq + 1, html, ...(except ? { except } : {}) };
        entry.seq = record.seq;
        entry.records.push({ ...record, at: now });
        entry.bytes += html.length;
        this.#bytes += html.length;

        this.#trim(entry, now);
        this.#enforceTotal(entry);
        return record;
    }

    /** What a client that has seen `from` on `stream` missed since. */
    resume(stream: string, from: StreamPosition, now = Date.now()): Resume {

        const entry = this.#entries.get(stream);
        if (!entry || entry.epoch !== from.epoch || from.seq > entry.seq) {
            return { gap: true };
        }

        this.#trim(entry, now);
        if (from.seq === entry.seq) {
            return { records: [] };
        }

        const first = entry.records[0];
        if (!first || first.seq > from.seq + 1) {
            return { gap: true };
        }

        return { records: entry.records.slice(from.seq + 1 - first.seq) };
    }

    #entry(stream: string): Entry {

        let entry = this.#entries.get(stream);
        if (entry) {
            this.#entries.delete(stream);                         // Move to the most recent end
        }
        else {
            entry = { epoch: `${this.#boot}.${(++this.#epochs).toString(36)}`, seq: 0, records: [], bytes: 0 };
            if (this.#entries.size >= this.options.maxStreams) {
                this.#forget(this.#entries.keys().next().value!);
            }
        }

        this.#entries.set(stream, entry);
        return entry;
    }

    #trim(entry: Entry, now: number): void {

        const oldest = now - this.options.maxAge;
        let drop = Math.max(0, entry.records.length - this.options.size);
        while (drop < entry.records.length && entry.records[drop]!.at < oldest) {
            ++drop;
        }

        this.#drop(entry, drop);
    }

    #enforceTotal(current: Entry): void {

        for (const entry of this.#entries.values()) {
            if (this.#bytes <= this.options.maxBytes) {
                return;
            }

            // Older streams give up their buffers first; the stream just published keeps its newest message
            const keep = entry === current ? 1 : 0;
            while (entry.records.length > keep && this.#bytes > this.options.maxBytes) {
                this.#drop(entry, 1);
            }
        }
    }

    #drop(entry: Entry, count: number): void {

        for (const record of entry.records.splice(0, count)) {
            entry.bytes -= record.html.length;
            this.#bytes -= record.html.length;
        }
    }

    #forget(stream: string): void {

        const entry = this.#entries.get(stream)!;
        this.#bytes -= entry.bytes;
        this.#entries.delete(stream);
    }
}
