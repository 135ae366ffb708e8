// <turbo-socket-stream-source signed-stream-name="…">: a Turbo stream source fed by socket.io.
//
// Every element on a page shares one socket (namespace /turbo). Subscriptions are counted per
// stream, so two elements on the same stream subscribe once and removing one keeps the other fed.
// Messages are handed to the stock Turbo client through connectStreamSource: this file never
// touches the DOM it updates. After a reconnect every live stream is subscribed again.

import { connectStreamSource, disconnectStreamSource } from './turbo.es2017-esm.js';
import { io } from './socket.io.esm.min.js';

const ELEMENT = 'turbo-socket-stream-source';
const ACK_TIMEOUT_MS = 10_000;


class Connection {

    #socket = null;
    #bySigned = new Map();          // signed name -> { elements: Set, stream: name once acknowledged }
    #byStream = new Map();          // stream name -> the same entry

    get socket() {

        if (!this.#socket) {
            const path = document.querySelector('meta[name="hapi-turbo-socket-path"]')?.content || '/socket.io';
            this.#socket = io('/turbo', { path });
            this.#socket.on('connect', () => {

                for (const signed of this.#bySigned.keys()) {
                    this.#subscribe(signed);
                }
            });

            this.#socket.on('disconnect', (reason) => {

                for (const entry of this.#bySigned.values()) {
                    entry.elements.forEach((element) => element.setConnected(false));
                }

                // socket.io reconnects by itself after network failures but not when the server
                // closed the socket on purpose; the page must not go deaf, so retry after a pause
                if (reason === 'io server disconnect') {
                    setTimeout(() => this.#socket.connect(), 1000 + Math.random() * 2000);
                }
            });

            this.#socket.on('turbo-stream', (html, meta) => {

                // One element per stream hands the message to Turbo: the page applies it once
                // however many elements share the stream
                const entry = typeof html === 'string' && meta ? this.#byStream.get(meta.stream) : undefined;
                entry?.elements.values().next().value?.receive(html, meta);
            });
        }

        return this.#socket;
    }

    add(element, signed) {

        let entry = this.#bySigned.get(signed);
        if (!entry) {
            entry = { elements: new Set(), stream: null };
            this.#bySigned.set(signed, entry);
        }

        entry.elements.add(element);
        if (entry.elements.size === 1) {
            if (this.socket.connected) {
                this.#subscribe(signed);
            }
        }
        else if (entry.stream && this.socket.connected) {
            element.setConnected(true);
        }
    }

    remove(element, signed) {

        const entry = this.#bySigned.get(signed);
        if (!entry?.elements.delete(element) || entry.elements.size) {
            return;
        }

        this.#bySigned.delete(signed);
        if (entry.stream) {
            this.#byStream.delete(entry.stream);
        }

        if (this.socket.connected) {
            this.socket.emit('unsubscribe', { signedStreamName: signed }, () => {});
        }
    }

    #subscribe(signed) {

        this.socket.timeout(ACK_TIMEOUT_MS).emit('subscribe', { signedStreamName: signed }, (timeout, answer) => {

            const entry = this.#bySigned.get(signed);
            if (!entry) {
                return;                                     // Every element left while we waited
            }

            if (timeout || !answer?.ok) {
                const reason = timeout ? 'timeout' : answer?.error ?? 'bad-request';
                entry.elements.forEach((element) => element.setFailed(reason));
                return;
            }

            entry.stream = answer.stream;
            this.#byStream.set(answer.stream, entry);
            entry.elements.forEach((element) => element.setConnected(true));
        });
    }
}


const connection = new Connection();


class TurboSocketStreamSourceElement extends HTMLElement {

    static observedAttributes = ['signed-stream-name'];

    #subscribedAs = null;

    connectedCallback() {

        connectStreamSource(this);
        this.#subscribe();
    }

    disconnectedCallback() {

        disconnectStreamSource(this);
        this.#unsubscribe();
        this.removeAttribute('connected');
    }

    attributeChangedCallback() {

        if (this.isConnected && this.#subscribedAs !== this.getAttribute('signed-stream-name')) {
            this.#unsubscribe();
            this.#subscribe();
        }
    }

    #subscribe() {

        const signed = this.getAttribute('signed-stream-name');
        if (signed) {
            this.#subscribedAs = signed;
            connection.add(this, signed);
        }
    }

    #unsubscribe() {

        if (this.#subscribedAs) {
            connection.remove(this, this.#subscribedAs);
            this.#subscribedAs = null;
        }
    }

    receive(html) {

        this.dispatchEvent(new MessageEvent('message', { data: html }));
    }

    setConnected(connected) {

        if (connected === this.hasAttribute('connected')) {
            return;
        }

        this.toggleAttribute('connected', connected);
        if (connected) {
            this.removeAttribute('error');
        }

        this.dispatchEvent(new CustomEvent(`turbo-stream-source:${connected ? 'connected' : 'disconnected'}`, { bubbles: true }));
    }

    setFailed(reason) {

        this.removeAttribute('connected');
        this.setAttribute('error', reason);
        this.dispatchEvent(new CustomEvent('turbo-stream-source:error', { bubbles: true, detail: { reason } }));
        console.warn(`${ELEMENT}: subscription refused (${reason})`);
    }
}


if (!customElements.get(ELEMENT)) {
    customElements.define(ELEMENT, TurboSocketStreamSourceElement);
}
