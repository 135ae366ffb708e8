import { io as ioConnect, type Socket as IoSocket } from 'socket.io-client';
import WebSocket from 'ws';

import { now, percentile } from './stats.ts';

// The load clients' side of the wire, kept as cheap as possible (reference §5.2): plain `ws`
// sockets that speak Engine.IO v4 / Socket.IO v5 by hand, no per-socket timers, no JSON.parse of
// broadcasts. A frame is scanned as bytes for the bench markers the template writes: each
// message's `data-b` (broadcast id) and `data-t0` (save time), then the frame's `"seq":`. A batched
// frame (html array) simply holds several markers, in order.

const MARK_ID = Buffer.from('data-b=');
const MARK_T0 = Buffer.from('data-t0=');
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

    /** Records ids base .. base+count-1; the first `warmup` of them do not enter the statistics. */
    start(base: number, count: number, warmup: number): void {

        ++this.gen;
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

        let inRange = false;
        let at = buf.indexOf(MARK_ID);
        while (at !== -1) {
            const [id, afterId] = readNumber(buf, skipToDigit(buf, at + MARK_ID.length));
            const t0At = buf.indexOf(MARK_T0, afterId);
            if (t0At === -1) {
                break;
            }

            const [t0, afterT0] = readNumber(buf, skipToDigit(buf, t0At + MARK_T0.length));
            inRange = this.#deliver(conn, id, t0, t1) || inRange;
            at = buf.indexOf(MARK_ID, afterT0);
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

        if (id <= conn.lastId) {
            ++this.disorder;
            return true;
        }

        conn.lastId = id;
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


export interface Conn extends ConnState {
    close(): Promise<void>;
    readonly open: boolean;
}


const closeWs = function (ws: WebSocket): Promise<void> {

    if (ws.readyState === WebSocket.CLOSED) {
        return Promise.resolve();
    }

    return new Promise((resolve) => {

        // The closing handshake lets the server close TCP first, so TIME_WAIT lands on its side and
        // the client's ephemeral ports stay free for the next phase; terminate() if it stalls
        const timer = setTimeout(() => ws.terminate(), 2000);
        ws.once('close', () => {

            clearTimeout(timer);
            resolve();
        });
        ws.close();
    });
};


const WS_OPTIONS = { perMessageDeflate: false, skipUTF8Validation: true } as const;


/**
 * A socket.io client in ~30 lines: open, join /turbo, subscribe with an ack, answer pings, hand
 * every event frame to the recorder. Resolves once the subscription is acknowledged.
 */
export const openSocketIo = function (port: number, signed: string, recorder: Recorder, path = '/socket.io', namespace = '/turbo'): Promise<Conn> {

    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}/?EIO=4&transport=websocket`, WS_OPTIONS);
    const prefix = `4${namespace},`.length;                 // Where an ack's id starts after "43"
    const conn: Conn = { gen: -1, lastId: -1, lastSeq: -1, close: () => closeWs(ws), get open() {

        return ws.readyState === WebSocket.OPEN;
    } };

    return new Promise<Conn>((resolve, reject) => {

        const fail = (error: Error) => {

            ws.terminate();
            reject(error);
        };

        ws.on('message', (data: Buffer) => {

            const t1 = now();
            const type = data[0];
            if (type === 0x34) {                              // '4' engine.io message
                const packet = data[1];
                if (packet === 0x32) {                        // '2' socket.io EVENT
                    recorder.frame(conn, data, t1);
                }
                else if (packet === 0x30) {                   // '0' CONNECT answered: the namespace is ours
                    ws.send(`42${namespace},1["subscribe",{"signedStreamName":${JSON.stringify(signed)}}]`);
                }
                else if (packet === 0x33) {                   // '3' ACK of the subscribe
                    const ack = data.toString('utf8', prefix);
                    if (ack.includes('"ok":true')) {
                        resolve(conn);
                    }
                    else {
                        fail(new Error(`subscribe refused: ${ack}`));
                    }
                }
                else if (packet === 0x34) {                   // '4' CONNECT_ERROR
                    fail(new Error(`namespace refused: ${data.toString()}`));
                }
            }
            else if (type === 0x32) {                         // '2' ping → '3' pong
                ws.send('3');
            }
            else if (type === 0x30) {                         // '0' open: join the namespace
                ws.send(`40${namespace},`);
            }
        });
        ws.once('error', fail);
        ws.once('close', () => reject(new Error('closed before subscribing')));
    });
};


/** A plain ws client of the raw floor server: every frame is a broadcast. */
export const openRawWs = function (port: number, recorder: Recorder): Promise<Conn> {

    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, WS_OPTIONS);
    const conn: Conn = { gen: -1, lastId: -1, lastSeq: -1, close: () => closeWs(ws), get open() {

        return ws.readyState === WebSocket.OPEN;
    } };

    ws.on('message', (data: Buffer) => recorder.frame(conn, data, now()));
    return new Promise<Conn>((resolve, reject) => {

        ws.once('open', () => resolve(conn));
        ws.once('error', reject);
    });
};


/**
 * The real socket.io-client, for the cross-check run: its decode and event dispatch are what a
 * browser or Node consumer pays. Markers are read from the decoded html strings.
 */
export const openSocketIoClient = function (port: number, signed: string, recorder: Recorder): Promise<Conn> {

    const socket: IoSocket = ioConnect(`http://127.0.0.1:${port}/turbo`, { transports: ['websocket'], reconnection: false, forceNew: true });
    const conn: Conn = {
        gen: -1, lastId: -1, lastSeq: -1,
        get open() {

            return socket.connected;
        },
        close() {

            socket.disconnect();
            return Promise.resolve();
        }
    };

    socket.on('turbo-stream', (html: string | string[], meta: { seq: number }) => {

        const t1 = now();
        const markup = Array.isArray(html) ? html.join('') : html;
        recorder.frame(conn, Buffer.from(`${markup}"seq":${meta.seq}`), t1);
    });

    return new Promise<Conn>((resolve, reject) => {

        socket.once('connect_error', reject);
        socket.once('connect', async () => {

            try {
                const ack = await socket.timeout(10_000).emitWithAck('subscribe', { signedStreamName: signed }) as { ok: boolean; error?: string };
                if (!ack.ok) {
                    throw new Error(`subscribe refused: ${ack.error}`);
                }

                resolve(conn);
            }
            catch (error) {
                socket.disconnect();
                reject(error as Error);
            }
        });
    });
};
