// The client side of the hapi-turbo protocol (docs/protocol.md), without the DOM: the browser element
// uses it, and so do the Node soak tests, so both run the same ordering, dedupe and resume logic.
//
// Per stream it remembers the last position applied (epoch and seq). Messages are applied only in
// seq order: older ones are duplicates and dropped; a jump means something was missed, and the
// client subscribes again from its position so the server replays the rest. After a reconnect every
// stream resumes from its position. When the server answers that the gap cannot be closed (buffer
// overflowed, server restarted), the first member of the stream is told to refresh.
//
// The server knows a socket's user from its handshake. A page that got its credentials after the
// socket opened (a first visit that set a cookie, a sign-in, both through Turbo Drive, which keeps
// the socket) may print a stream this user may read that the socket's old identity may not: on
// `forbidden` the client opens a new connection, whose handshake carries the current cookies, and
// asks again; refused again, the subscription has failed.

const ACK_TIMEOUT_MS = 10_000;


const positionOf = (value) => value && typeof value.epoch === 'string' && Number.isSafeInteger(value.seq) ? { epoch: value.epoch, seq: value.seq } : null;


export class StreamClient {

    #connect;
    #socket = null;
    #bySigned = new Map();          // signed name -> entry
    #byStream = new Map();          // stream name -> entry, once acknowledged
    #renewing = false;

    /**
     * @param connect creates the socket.io socket on the /turbo namespace, on first use
     * @param options.reconnectDelay ms before reconnecting after the server closed the socket on purpose
     */
    constructor(connect, options = {}) {

        this.#connect = connect;
        this.reconnectDelay = options.reconnectDelay ?? (() => 1000 + Math.random() * 2000);
    }

    get socket() {

        if (!this.#socket) {
            this.#socket = this.#connect();
            this.#socket.on('connect', () => {

                for (const [signed, entry] of this.#bySigned) {
                    this.#subscribe(signed, entry);
                }
            });

            this.#socket.on('disconnect', (reason) => {

                for (const entry of this.#bySigned.values()) {
                    entry.subscribed = false;
                    entry.members.forEach((member) => member.setConnected(false));
                }

                // socket.io reconnects by itself after network failures but not when the server
                // closed the socket on purpose; a page must not go deaf, so retry after a pause
                if (reason === 'io server disconnect') {
                    setTimeout(() => this.#socket.connect(), this.reconnectDelay());
                }
            });

            this.#socket.on('turbo-stream', (html, meta) => this.#received(html, meta));
        }

        return this.#socket;
    }

    /**
     * Adds a member (an element) to the stream `signed`. `member.position` is where the page stood
     * when it was rendered; `receive(html, meta)`, `setConnected(boolean)`, `setFailed(reason)` and
     * `refresh(reason)` are called back.
     */
    add(signed, member) {

        let entry = this.#bySigned.get(signed);
        if (!entry) {
            entry = { members: new Set(), stream: null, position: null, subscribed: false, resyncing: false, identityRenewed: false };
            this.#bySigned.set(signed, entry);
        }

        entry.members.add(member);
        const position = positionOf(member.position);
        if (position && (!entry.position || (entry.position.epoch === position.epoch && entry.position.seq < position.seq))) {
            entry.position = position;                              // A newer render already shows what came before
        }

        if (entry.members.size === 1) {
            if (this.socket.connected) {
                this.#subscribe(signed, entry);
            }
        }
        else if (entry.subscribed) {
            member.setConnected(true);
        }
    }

    remove(signed, member) {

        const entry = this.#bySigned.get(signed);
        if (!entry?.members.delete(member) || entry.members.size) {
            return;
        }

        this.#bySigned.delete(signed);
        if (entry.stream && this.#byStream.get(entry.stream) === entry) {
            this.#byStream.delete(entry.stream);
        }

        if (this.socket.connected) {
            this.socket.emit('unsubscribe', { signedStreamName: signed }, () => {});
        }
    }

    #subscribe(signed, entry) {

        const payload = entry.position ? { signedStreamName: signed, since: entry.position } : { signedStreamName: signed };
        this.socket.timeout(ACK_TIMEOUT_MS).emit('subscribe', payload, (timeout, answer) => {

            entry.resyncing = false;
            if (this.#bySigned.get(signed) !== entry) {
                return;                                             // Every member left while we waited
            }

            if (timeout) {
                // Disconnected meanwhile: the connect handler subscribes again. Still connected: the
                // server did not answer in time, so say so and try again
                if (this.socket.connected) {
                    entry.members.forEach((member) => member.setFailed('timeout'));
                    setTimeout(() => this.#bySigned.get(signed) === entry && this.socket.connected && this.#subscribe(signed, entry), this.reconnectDelay());
                }

                return;
            }

            if (answer?.error === 'forbidden' && !entry.identityRenewed) {
                entry.identityRenewed = true;                       // Once: a stream refused twice stays refused
                this.#renewIdentity();
                return;
            }

            if (!answer?.ok) {
                entry.members.forEach((member) => member.setFailed(answer?.error ?? 'bad-request'));
                return;
            }

            entry.stream = answer.stream;
            this.#byStream.set(answer.stream, entry);
            if (answer.gap) {
                this.#refresh(entry, 'gap');
                entry.position = positionOf(answer);
            }
            else if (!entry.position) {
                entry.position = positionOf(answer);
            }

            entry.subscribed = true;
            entry.members.forEach((member) => member.setConnected(true));
        });
    }

    // One message: (html, meta). Several consecutive ones: (html[], meta) with meta.count, meta.seq
    // being the last one's. Only what comes after the entry's position is applied, in one go.
    #received(html, meta) {

        const count = Array.isArray(html) ? html.length : 1;
        const valid = meta && Number.isSafeInteger(meta.seq) && (Array.isArray(html) ? count > 0 && meta.count === count && html.every((part) => typeof part === 'string') : typeof html === 'string');
        const entry = valid ? this.#byStream.get(meta.stream) : undefined;
        if (!entry) {
            return;
        }

        const position = entry.position;
        if (position && position.epoch !== meta.epoch) {
            this.#refresh(entry, 'epoch');                          // The counter restarted: positions do not compare
            entry.position = { epoch: meta.epoch, seq: meta.seq };
            return;
        }

        if (position && meta.seq <= position.seq) {
            return;                                                 // Seen already (a replay overlapping live delivery)
        }

        const first = meta.seq - count + 1;
        if (position && first > position.seq + 1) {
            // Something between was missed: ask again from where we are; the replay fills the hole
            if (!entry.resyncing) {
                entry.resyncing = true;
                const signed = [...this.#bySigned].find(([, candidate]) => candidate === entry)?.[0];
                if (signed && this.socket.connected) {
                    this.#subscribe(signed, entry);
                }
            }

            return;
        }

        const from = position ? Math.max(first, position.seq + 1) : first;
        const parts = Array.isArray(html) ? html.slice(from - first) : [html];
        const fresh = parts.join('');
        entry.position = { epoch: meta.epoch, seq: meta.seq };
        if (fresh === '') {
            return;                                                 // A placeholder: this page caused it (toOthers)
        }

        // One member per stream hands the message on: the page applies it once however many
        // elements share the stream
        entry.members.values().next().value?.receive(fresh, { stream: meta.stream, epoch: meta.epoch, seq: meta.seq, from, parts });
    }

    // A new engine connection, so a new handshake with the browser's current cookies; every stream
    // resubscribes from its position on connect, so nothing is missed meanwhile. Several refusals
    // in one turn share one reconnection.
    #renewIdentity() {

        if (this.#renewing) {
            return;
        }

        this.#renewing = true;
        queueMicrotask(() => {

            this.#renewing = false;
            this.#socket.disconnect();                              // The last socket of its manager: closes the connection
            this.#socket.connect();
        });
    }

    #refresh(entry, reason) {

        entry.members.values().next().value?.refresh(reason);
    }
}
