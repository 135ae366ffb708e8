// <turbo-socket-stream-source signed-stream-name="…" epoch="…" seq="…">: a Turbo stream source fed
// by socket.io.
//
// Every element on a page shares one socket (namespace /turbo) through a StreamClient, which keeps
// per-stream order, drops duplicates and resumes after reconnects from the position the page was
// rendered at (the epoch and seq attributes). Messages are handed to the stock Turbo client through
// connectStreamSource: this file never touches the DOM it updates. When the missed messages are
// gone, the page is refreshed with Turbo's own refresh action, so it is never silently stale.

import { connectStreamSource, disconnectStreamSource } from './turbo.es2017-esm.js';
import { io } from './socket.io.esm.min.js';
import { StreamClient } from './stream-client.js';

const ELEMENT = 'turbo-socket-stream-source';
const REFRESH = '<turbo-stream action="refresh"></turbo-stream>';
const SOCKET_ID_HEADER = 'X-Turbo-Socket-Id';

let socket = null;

const client = new StreamClient(() => {

    const path = document.querySelector('meta[name="hapi-turbo-socket-path"]')?.content || '/socket.io';
    // WebSocket first, so a socket does not depend on sticky sessions when several processes serve
    // the page; long-polling only where WebSocket is blocked
    socket = io('/turbo', { path, transports: ['websocket', 'polling'], tryAllTransports: true });
    return socket;
});


// Turbo's own requests (forms, frames, visits) say which socket this page listens on, so a
// broadcast made `toOthers` while handling them skips this page, which updates itself from the
// response. Only to this origin: the id means nothing elsewhere and would cost a CORS preflight.
document.addEventListener('turbo:before-fetch-request', (event) => {

    const { url, fetchOptions } = event.detail;
    if (socket?.connected && socket.id && new URL(url, location.href).origin === location.origin) {
        fetchOptions.headers[SOCKET_ID_HEADER] = socket.id;
    }
});


class TurboSocketStreamSourceElement extends HTMLElement {

    // epoch and seq are observed only to tell whether they changed along with the name
    static observedAttributes = ['signed-stream-name', 'epoch', 'seq'];

    #subscribedAs = null;
    #connected = false;
    // Attribute changes made in one go (a morph, a script setting several), handled once after it
    #changed = null;
    // Whether epoch and seq were printed with the current name: false once the name changed alone
    #positionFits = true;

    connectedCallback() {

        this.#connected = true;
        connectStreamSource(this);
        this.#subscribe();
    }

    disconnectedCallback() {

        this.#connected = false;
        disconnectStreamSource(this);
        this.#unsubscribe();
        this.removeAttribute('connected');
    }

    attributeChangedCallback(name, oldValue, newValue) {

        if (oldValue === newValue) {
            return;
        }

        if (!this.#changed) {
            this.#changed = new Set();
            queueMicrotask(() => this.#applyChanges());
        }

        this.#changed.add(name);
    }

    // A new name moves the element to that stream. Its epoch and seq are used only when they changed
    // with it (a morph or a render of the new stream sets all three): left as they were, they say
    // where the page stood on the old stream, which would make the server answer with a gap and the
    // page refresh itself, so the element starts from now instead. (While the element is being
    // parsed, connectedCallback has subscribed before this runs.)
    #applyChanges() {

        const changed = this.#changed;
        this.#changed = null;
        const renamed = changed.has('signed-stream-name');
        if (changed.has('epoch') || changed.has('seq')) {
            this.#positionFits = true;
        }
        else if (renamed) {
            this.#positionFits = false;
        }

        if (!this.#connected || !renamed || this.#subscribedAs === this.getAttribute('signed-stream-name')) {
            return;
        }

        this.#unsubscribe();
        this.setConnected(false);
        this.#subscribe();
    }

    /** Where the page stood on this stream when the server rendered it. */
    get position() {

        if (!this.#positionFits) {
            return null;
        }

        const seq = Number(this.getAttribute('seq'));
        const epoch = this.getAttribute('epoch');
        return epoch && Number.isSafeInteger(seq) && seq >= 0 ? { epoch, seq } : null;
    }

    #subscribe() {

        const signed = this.getAttribute('signed-stream-name');
        if (signed) {
            this.#subscribedAs = signed;
            client.add(signed, this);
        }
    }

    #unsubscribe() {

        if (this.#subscribedAs) {
            client.remove(this.#subscribedAs, this);
            this.#subscribedAs = null;
        }
    }

    receive(html, meta) {

        // Turbo gets a delivery as one string; tests and tools see each message, with its own seq
        meta?.parts.forEach((part, index) => part && this.dispatchEvent(new CustomEvent('turbo-stream-source:message', {
            bubbles: true,
            detail: { stream: meta.stream, epoch: meta.epoch, seq: meta.from + index, html: part }
        })));
        this.dispatchEvent(new MessageEvent('message', { data: html }));
    }

    refresh(reason) {

        this.dispatchEvent(new CustomEvent('turbo-stream-source:refresh', { bubbles: true, detail: { reason } }));
        this.receive(REFRESH);
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


// A page refresh that morphs brings every attribute in line with the new page, which knows nothing
// of this element's state: `connected` and `error` are the element's own, so they are kept.
document.addEventListener('turbo:before-morph-attribute', (event) => {

    if (event.target.localName === ELEMENT && ['connected', 'error'].includes(event.detail.attributeName)) {
        event.preventDefault();
    }
});


if (!customElements.get(ELEMENT)) {
    customElements.define(ELEMENT, TurboSocketStreamSourceElement);
}
