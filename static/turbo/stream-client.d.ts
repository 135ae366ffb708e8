// Types for stream-client.js, which runs unbundled in browsers and is imported by Node tests.

export interface StreamPosition {
    epoch: string;
    seq: number;
}

export interface StreamMessageMeta extends StreamPosition {
    stream: string;
    /** The first seq in this delivery: one message, or several consecutive ones joined (`from`..`seq`). */
    from: number;
    /** Each message of the delivery on its own, seq `from` first; a placeholder (toOthers) is ''. */
    parts: string[];
}

export interface StreamMember {
    /** Where the page stood on the stream when it was rendered. */
    position?: StreamPosition | null;
    receive(html: string, meta: StreamMessageMeta): void;
    setConnected(connected: boolean): void;
    setFailed(reason: string): void;
    refresh(reason: 'gap' | 'epoch'): void;
}

export interface StreamSocket {
    connected: boolean;
    on(event: string, listener: (...args: never[]) => void): unknown;
    emit(event: string, ...args: unknown[]): unknown;
    timeout(ms: number): { emit(event: string, ...args: unknown[]): unknown };
    connect(): unknown;
}

export class StreamClient {
    constructor(connect: () => StreamSocket, options?: { reconnectDelay?: () => number });
    readonly socket: StreamSocket;
    add(signed: string, member: StreamMember): void;
    remove(signed: string, member: StreamMember): void;
}
