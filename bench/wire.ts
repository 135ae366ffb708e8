import { randomBytes } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';

import { io as ioConnect, type Socket as IoSocket } from 'socket.io-client';

import { type ConnState, type Recorder } from './recorder.ts';
import { now } from './stats.ts';

// The load clients' side of the wire (reference §5.2). A client is a TCP socket that did the
// WebSocket handshake by hand and reads frames straight off the stream: a 2-10 byte header, then
// the payload, handed to the recorder as a slice of the chunk it arrived in. No `ws` (its receiver
// is a stream with a parser object, a message event and a Buffer per message), no JSON.parse, no
// per-socket timers; every frame of a chunk is stamped with the chunk's arrival time. Socket.IO v5
// over Engine.IO v4 is spoken by hand on top. What the server sends is known: unfragmented text
// frames, no compression.

export interface Conn extends ConnState {
    close(): Promise<void>;
    readonly open: boolean;
}

const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;
const HEADER_END = Buffer.from('\r\n\r\n');


/** A client frame: masked, as the protocol requires; with a zero key the payload is copied as is. */
const clientFrame = function (opcode: number, payload: Buffer): Buffer {

    const length = payload.length;
    const head = length < 126 ? 6 : length < 65536 ? 8 : 14;
    const frame = Buffer.alloc(head + length);
    frame[0] = 0x80 | opcode;
    if (length < 126) {
        frame[1] = 0x80 | length;
    }
    else if (length < 65536) {
        frame[1] = 0x80 | 126;
        frame.writeUInt16BE(length, 2);
    }
    else {
        frame[1] = 0x80 | 127;
        frame.writeBigUInt64BE(BigInt(length), 2);
    }

    payload.copy(frame, head);
    return frame;
};


/**
 * One WebSocket connection: `onMessage(payload, t1, ws)` gets every text frame's payload, valid until
 * it returns. Resolves once the server answered the upgrade with 101.
 */
export class RawWebSocket {

    readonly socket: Socket;
    readonly onMessage: (payload: Buffer, t1: number, ws: RawWebSocket) => void;
    #upgraded = false;
    #closed = false;
    #rest: Buffer | null = null;

    constructor(port: number, onMessage: (payload: Buffer, t1: number, ws: RawWebSocket) => void) {

        this.onMessage = onMessage;
        this.socket = tcpConnect({ host: '127.0.0.1', port, noDelay: true });
        this.socket.on('close', () => {

            this.#closed = true;
        });
    }

    get open(): boolean {

        return this.#upgraded && !this.#closed;
    }

    static connect(port: number, path: string, onMessage: (payload: Buffer, t1: number, ws: RawWebSocket) => void): Promise<RawWebSocket> {

        const ws = new RawWebSocket(port, onMessage);
        return new Promise((resolve, reject) => {

            const fail = (error: Error) => {

                ws.socket.destroy();
                reject(error);
            };

            ws.socket.once('error', fail);
            ws.socket.once('close', () => fail(new Error('closed during the handshake')));
            ws.socket.once('connect', () => {

                const key = randomBytes(16).toString('base64');
                ws.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
                    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
            });

            let head = Buffer.alloc(0);
            const onHead = (chunk: Buffer) => {

                head = Buffer.concat([head, chunk]);
                const end = head.indexOf(HEADER_END);
                if (end === -1) {
                    return;
                }

                ws.socket.off('data', onHead);
                ws.socket.removeAllListeners('error');
                ws.socket.removeAllListeners('close');
                ws.socket.on('close', () => {

                    ws.#closed = true;
                });
                ws.socket.on('error', () => undefined);            // Followed by close
                if (!head.subarray(0, 13).toString('latin1').startsWith('HTTP/1.1 101')) {
                    fail(new Error(`upgrade refused: ${head.subarray(0, head.indexOf('\r\n')).toString()}`));
                    return;
                }

                ws.#upgraded = true;
                ws.socket.on('data', (data: Buffer) => ws.#data(data));
                resolve(ws);
                if (end + 4 < head.length) {
                    ws.#data(head.subarray(end + 4));
                }
            };

            ws.socket.on('data', onHead);
        });
    }

    send(text: string): void {

        if (this.open) {
            this.socket.write(clientFrame(OP_TEXT, Buffer.from(text)));
        }
    }

    /** The closing handshake, so the server closes TCP first and TIME_WAIT lands on its side. */
    close(): Promise<void> {

        if (this.#closed) {
            return Promise.resolve();
        }

        return new Promise((resolve) => {

            const timer = setTimeout(() => this.socket.destroy(), 2000);
            this.socket.once('close', () => {

                clearTimeout(timer);
                resolve();
            });
            if (this.#upgraded) {
                this.socket.write(clientFrame(OP_CLOSE, Buffer.alloc(0)));
            }
            else {
                this.socket.destroy();
            }
        });
    }

    #data(chunk: Buffer): void {

        const t1 = now();
        const buf = this.#rest ? Buffer.concat([this.#rest, chunk]) : chunk;
        let at = 0;
        while (buf.length - at >= 2) {
            let length = buf[at + 1]! & 0x7f;
            let head = 2;
            if (length === 126) {
                if (buf.length - at < 4) {
                    break;
                }

                length = buf.readUInt16BE(at + 2);
                head = 4;
            }
            else if (length === 127) {
                if (buf.length - at < 10) {
                    break;
                }

                length = Number(buf.readBigUInt64BE(at + 2));
                head = 10;
            }

            if (buf.length - at < head + length) {
                break;
            }

            const opcode = buf[at]! & 0x0f;
            const payload = buf.subarray(at + head, at + head + length);
            at += head + length;
            if (opcode === OP_TEXT) {
                this.onMessage(payload, t1, this);
            }
            else if (opcode === OP_PING) {
                this.socket.write(clientFrame(OP_PONG, payload));
            }
            else if (opcode === OP_CLOSE) {
                this.socket.end();
            }
        }

        this.#rest = at < buf.length ? Buffer.from(buf.subarray(at)) : null;
    }
}


/**
 * A socket.io client in ~30 lines: open, join /turbo, subscribe with an ack, answer pings, hand
 * every event frame to the recorder. Resolves once the subscription is acknowledged.
 */
export const openSocketIo = function (port: number, signed: string, recorder: Recorder, path = '/socket.io', namespace = '/turbo'): Promise<Conn> {

    const prefix = `4${namespace},`.length;                 // Where an ack's id starts after "43"
    let ws: RawWebSocket | null = null;
    const conn: Conn = { gen: -1, lastId: -1, lastSeq: -1, close: () => ws?.close() ?? Promise.resolve(), get open() {

        return ws?.open ?? false;
    } };

    return new Promise<Conn>((resolve, reject) => {

        const fail = (error: Error) => {

            ws?.socket.destroy();
            reject(error);
        };

        const onMessage = (data: Buffer, t1: number, socket: RawWebSocket) => {

            ws = socket;
            const type = data[0];
            if (type === 0x34) {                              // '4' engine.io message
                const packet = data[1];
                if (packet === 0x32) {                        // '2' socket.io EVENT
                    recorder.frame(conn, data, t1);
                }
                else if (packet === 0x30) {                   // '0' CONNECT answered: the namespace is ours
                    ws!.send(`42${namespace},1["subscribe",{"signedStreamName":${JSON.stringify(signed)}}]`);
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
                ws!.send('3');
            }
            else if (type === 0x30) {                         // '0' open: join the namespace
                ws!.send(`40${namespace},`);
            }
        };

        RawWebSocket.connect(port, `${path}/?EIO=4&transport=websocket`, onMessage).then((socket) => {

            ws = socket;
            socket.socket.once('close', () => reject(new Error('closed before subscribing')));
        }, reject);
    });
};


/** A plain WebSocket client of the raw floor server: every frame is a broadcast. */
export const openRawWs = async function (port: number, recorder: Recorder): Promise<Conn> {

    const conn: Conn = { gen: -1, lastId: -1, lastSeq: -1, close: () => ws.close(), get open() {

        return ws.open;
    } };
    const ws = await RawWebSocket.connect(port, '/', (data, t1) => recorder.frame(conn, data, t1));
    return conn;
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
