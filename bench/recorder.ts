import { percentile } from './stats.ts';

// What the load clients saw, kept as cheap as possible (reference §5.2): a frame is scanned as
// bytes for the markers each message carries (its broadcast id and its t0), then for the frame's
// `"seq":`; nothing is parsed as JSON or HTML. A batched frame (html array) simply holds several
// markers, in order.

/**
 * Where a message says which broadcast it is and when it started. The bench app's template writes
 * `data-b="…"` and `data-t0="…"` attributes; the chat's messages carry them in their text, which
 * the chat escapes as any text (so no `=` or quotes): `bench-id:… bench-t0:…`.
 */
export const MARKERS = {
    bench: { id: Buffer.from('data-b='), t0: Buffer.from('data-t0=') },
    chat: { id: Buffer.from('bench-id:'), t0: Buffer.from('bench-t0:') }
};

export type MarkerSet = keyof typeof MARKERS;

const MARK_SEQ = Buffer.from('"seq":');

const ZERO = 0x30;
const NINE = 0x39;
const DOT = 0x2e;

// Per-delivery latencies go to a histogram of 0.1 ms bins up to 60 s, so N=5000 × hundreds of
// broadcasts cost no allocation
const BIN_MS = 0.1;
const BINS = 600_000;


/** Per-connection ordering state; reset lazily when a new recording starts. */
export interface ConnState {
    gen: number;
    lastId: number;
    lastSeq: number;
}


const skipToDigit = function (buf: Buffer, at: number): number {

    while (at < buf.length && (buf[at]! < ZERO || buf[at]! > NINE)) {
        ++at;
    }

    return at;
};


// Integer then optional fraction, read from ASCII digits in place
const readNumber = function (buf: Buffer, at: number): [number, number] {

    let value = 0;
    while (at < buf.length && buf[at]! >= ZERO && buf[at]! <= NINE) {
        value = value * 10 + buf[at]! - ZERO;
        ++at;
    }

    if (buf[at] === DOT) {
        ++at;
        let scale = 0.1;
        while (at < buf.length && buf[at]! >= ZERO && buf[at]! <= NINE) {
            value += (buf[at]! - ZERO) * scale;
            scale /= 10;
            ++at;
        }
    }

    return [value, at];
};


export interface RecordingSummary {
    n: number;
    broadcasts: number;
    measured: number;
    delivered: number;
    /** Every delivery of the recording, warm-up included: what the server's CPU over the run paid for. */
    delivered_all: number;
    expected: number;
    /** Measured broadcasts that did not reach every subscriber. */
    incomplete: number;
    last_p50_ms: number | null;
    last_p99_ms: number | null;
    last_max_ms: number | null;
    first_p50_ms: number | null;
    first_p99_ms: number | null;
    delivery_p50_ms: number | null;
    delivery_p99_ms: number | null;
    min_ms: number | null;
    frames: number;
    stray: number;
    /** A message id not above the connection's previous one: duplicated or reordered. */
    disorder: number;
    /** A frame whose seq was not above the connection's previous frame. */
    seq_errors: number;
    /** user + system CPU of the client process over the recording, % of one core */
    client_cpu: number;
    /** the system (kernel) part of it: loopback TCP receive work lands here */
    client_cpu_sys: number;
    wall_ms: number;
}


/**
 * What the clients of one process saw during one recording: per broadcast id its arrival count and
 * first and last latency; per connection the order of ids and seqs.
 */
export class Recorder {

    gen = 0;
    base = 0;
    count = 0;
    warmup = 0;
    arrivals = new Uint32Array(0);
    first = new Float64Array(0);
    last = new Float64Array(0);
    hist = new Uint32Array(BINS);
    frames = 0;
    stray = 0;
    disorder = 0;
    seqErrors = 0;
    total = 0;
    lastFrameAt = 0;
    minLatency = Infinity;
    #cpu = process.cpuUsage();
    #startedAt = performance.now();

    #markId = MARKERS.bench.id;
    #markT0 = MARKERS.bench.t0;

    /** Records ids base .. base+count-1; the first `warmup` of them do not enter the statistics. */
    start(base: number, count: number, warmup: number, markers: MarkerSet = 'bench'): void {

        ++this.gen;
        this.#markId = MARKERS[markers].id;
        this.#markT0 = MARKERS[markers].t0;
        this.base = base;
        this.count = count;
        this.warmup = warmup;
        this.arrivals = new Uint32Array(count);
        this.first = new Float64Array(count).fill(Infinity);
        this.last = new Float64Array(count).fill(-Infinity);
        this.hist.fill(0);
        this.frames = 0;
        this.stray = 0;
        this.disorder = 0;
        this.seqErrors = 0;
        this.total = 0;
        this.minLatency = Infinity;
        this.#cpu = process.cpuUsage();
        this.#startedAt = performance.now();
    }

    /** One text frame as bytes, stamped on arrival (`t1`) before any parsing. */
    frame(conn: ConnState, buf: Buffer, t1: number): void {

        ++this.frames;
        this.lastFrameAt = t1;
        if (conn.gen !== this.gen) {
            conn.gen = this.gen;
            conn.lastId = -1;
            conn.lastSeq = -1;
        }

        const markId = this.#markId;
        const markT0 = this.#markT0;
        let inRange = false;
        let at = buf.indexOf(markId);
        while (at !== -1) {
            const [id, afterId] = readNumber(buf, skipToDigit(buf, at + markId.length));
            const t0At = buf.indexOf(markT0, afterId);
            if (t0At === -1) {
                break;
            }

            const [t0, afterT0] = readNumber(buf, skipToDigit(buf, t0At + markT0.length));
            inRange = this.#deliver(conn, id, t0, t1) || inRange;
            at = buf.indexOf(markId, afterT0);
        }

        const seqAt = buf.lastIndexOf(MARK_SEQ);
        if (inRange && seqAt !== -1) {
            const [seq] = readNumber(buf, seqAt + MARK_SEQ.length);
            if (seq <= conn.lastSeq) {
                ++this.seqErrors;
            }

            conn.lastSeq = seq;
        }
    }

    #deliver(conn: ConnState, id: number, t0: number, t1: number): boolean {

        const index = id - this.base;
        if (index < 0 || index >= this.count) {
            ++this.stray;                                       // Late frames of an earlier recording
            return false;
        }

        // Counted, and still recorded: requests that overlap may commit in another order than
        // they were sent, which is no loss (a duplicate shows as more arrivals than subscribers)
        if (id <= conn.lastId) {
            ++this.disorder;
        }
        else {
            conn.lastId = id;
        }

        const latency = t1 - t0;
        this.arrivals[index] = this.arrivals[index]! + 1;
        ++this.total;
        if (latency < this.first[index]!) {
            this.first[index] = latency;
        }

        if (latency > this.last[index]!) {
            this.last[index] = latency;
        }

        if (index >= this.warmup) {
            this.minLatency = Math.min(this.minLatency, latency);
            const bin = Math.min(BINS - 1, Math.max(0, Math.floor(latency / BIN_MS)));
            this.hist[bin] = this.hist[bin]! + 1;
        }

        return true;
    }

    #histPercentile(p: number): number | null {

        let total = 0;
        for (let i = 0; i < BINS; ++i) {
            total += this.hist[i]!;
        }

        if (!total) {
            return null;
        }

        const rank = Math.max(1, Math.ceil(p / 100 * total));
        let seen = 0;
        for (let i = 0; i < BINS; ++i) {
            seen += this.hist[i]!;
            if (seen >= rank) {
                return (i + 0.5) * BIN_MS;
            }
        }

        return null;
    }

    summary(n: number): RecordingSummary {

        const cpu = process.cpuUsage(this.#cpu);
        const wall = performance.now() - this.#startedAt;
        const lastLatencies: number[] = [];
        const firstLatencies: number[] = [];
        let delivered = 0;
        let incomplete = 0;
        for (let i = this.warmup; i < this.count; ++i) {
            delivered += this.arrivals[i]!;
            if (this.arrivals[i]! >= n) {
                lastLatencies.push(this.last[i]!);
            }
            else {
                ++incomplete;
            }

            if (this.arrivals[i]! > 0) {
                firstLatencies.push(this.first[i]!);
            }
        }

        const measured = this.count - this.warmup;
        return {
            n,
            broadcasts: this.count,
            measured,
            delivered,
            delivered_all: this.total,
            expected: measured * n,
            incomplete,
            last_p50_ms: percentile(lastLatencies, 50),
            last_p99_ms: percentile(lastLatencies, 99),
            last_max_ms: lastLatencies.length ? Math.max(...lastLatencies) : null,
            first_p50_ms: percentile(firstLatencies, 50),
            first_p99_ms: percentile(firstLatencies, 99),
            delivery_p50_ms: this.#histPercentile(50),
            delivery_p99_ms: this.#histPercentile(99),
            min_ms: Number.isFinite(this.minLatency) ? this.minLatency : null,
            frames: this.frames,
            stray: this.stray,
            disorder: this.disorder,
            seq_errors: this.seqErrors,
            client_cpu: (cpu.user + cpu.system) / 1000 / wall * 100,
            client_cpu_sys: cpu.system / 1000 / wall * 100,
            wall_ms: wall
        };
    }
}
