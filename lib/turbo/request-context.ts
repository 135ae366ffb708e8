import { AsyncLocalStorage } from 'node:async_hooks';

import type { Request, ResponseToolkit, Server } from '@hapi/hapi';

// What a broadcast needs to know of the HTTP request that caused it: Turbo's request id, so the tab
// that made a change does not refresh itself (Turbo skips a refresh carrying one of its own ids).
// As in turbo-rails' Turbo::RequestIdTracking, but scoped with AsyncLocalStorage instead of a
// thread-local: model hooks, after-commit callbacks and debounced refreshes see it.

export const REQUEST_ID_HEADER = 'x-turbo-request-id';

/** Sent by the hapi-turbo element with Turbo's fetches: the socket.io id of the page, so `toOthers` broadcasts skip it. */
export const SOCKET_ID_HEADER = 'x-turbo-socket-id';

// Turbo sends a UUID; anything else is ignored rather than echoed to every subscriber
const REQUEST_ID = /^[\w.:-]{1,128}$/;

// socket.io ids are 20 characters of base64url; a generous bound, as the id is only ever compared
const SOCKET_ID = /^[\w-]{1,64}$/;

interface RequestContext {
    requestId: string | null;
    socketId: string | null;
}

const storage = new AsyncLocalStorage<RequestContext>();
const contexts = new WeakMap<Request, RequestContext>();

// Whether the storage has been used. Until then no request needs a context of its own (every one
// would read null), and AsyncLocalStorage is not switched on: once it is, async_hooks track every
// promise of the process for good.
let inUse = false;


/** The `X-Turbo-Request-Id` of the HTTP request being handled, or null (no request, or no header). */
export const currentRequestId = function (): string | null {

    return storage.getStore()?.requestId ?? null;
};


/** Runs `fn` as if it handled a request with that Turbo request id (scripts, jobs, tests). */
export const runWithRequestId = function <T>(requestId: string | null, fn: () => T): T {

    inUse = true;
    return storage.run({ requestId, socketId: storage.getStore()?.socketId ?? null }, fn);
};


/** The `X-Turbo-Socket-Id` of the HTTP request being handled: the socket of the page that sent it, or null. */
export const currentSocketId = function (): string | null {

    return storage.getStore()?.socketId ?? null;
};


/** Runs `fn` as if it handled a request sent by the page whose socket is `socketId` (scripts, tests). */
export const runWithSocketId = function <T>(socketId: string | null, fn: () => T): T {

    inUse = true;
    return storage.run({ requestId: storage.getStore()?.requestId ?? null, socketId }, fn);
};


const requestIdOf = function (request: Request): string | null {

    const header = request.headers[REQUEST_ID_HEADER];
    return typeof header === 'string' && REQUEST_ID.test(header) ? header : null;
};


const socketIdOf = function (request: Request): string | null {

    const header = request.headers[SOCKET_ID_HEADER];
    return typeof header === 'string' && SOCKET_ID.test(header) ? header : null;
};


/**
 * Gives every request of `server` its context. hapi has no "around" extension, so the context is
 * entered in onRequest and carried by the promises the lifecycle creates from there on. Every request
 * enters a fresh one, even without the header, so nothing lingers from an earlier request. When a
 * request was injected, onRequest runs synchronously in the caller's own async context, which keeps
 * the store: the context is therefore emptied once the response is sent. Until some request carries
 * one of the headers (or a script runs with an id), there is nothing to keep and nothing is entered.
 */
export const installRequestContext = function (server: Server): void {

    server.ext('onRequest', (request: Request, h: ResponseToolkit) => {

        const context: RequestContext = { requestId: requestIdOf(request), socketId: socketIdOf(request) };
        if (!inUse && context.requestId === null && context.socketId === null) {
            return h.continue;
        }

        inUse = true;
        contexts.set(request, context);
        storage.enterWith(context);
        return h.continue;
    });

    server.ext('onPostResponse', (request: Request, h: ResponseToolkit) => {

        const context = contexts.get(request);
        if (context) {
            context.requestId = null;
            context.socketId = null;
        }

        return h.continue;
    });
};
