import { createHmac, randomUUID } from 'node:crypto';

import Boom from '@hapi/boom';
import type { Request, ResponseToolkit, Server } from '@hapi/hapi';

declare module '@hapi/hapi' {
    interface UserCredentials {
        /** The visitor's anonymous id. */
        id?: string;
    }
}

export interface Visitor {
    id: string;
}

const COOKIE = 'visitor';
const VISITOR_ID = /^[0-9a-f-]{36}$/;


// A key of its own for the cookie, derived from the app's secret, so stream names and cookies
// are never signed with the same key
const cookiePassword = (secret: string) => createHmac('sha256', secret).update('chat visitor cookie').digest('hex');


const visitorIn = function (value: unknown): Visitor | null {

    const id = (value as { id?: unknown } | null)?.id;
    return typeof id === 'string' && VISITOR_ID.test(id) ? { id } : null;
};


/**
 * Anonymous visitors: no sign-up, but each browser gets an identity of its own, kept in a signed
 * cookie, so that something can be one visitor's alone (the counter of the components page). The
 * `visitor` auth scheme reads the cookie and is the server's default strategy, in `try` mode: pages
 * do not need it, and hapi-turbo finds the visitor of each socket through it.
 */
export const registerVisitors = function (server: Server, options: { secret: string; secureCookies: boolean }): void {

    server.state(COOKIE, {
        encoding: 'base64json',
        sign: { password: cookiePassword(options.secret) },
        path: '/',
        ttl: 365 * 24 * 3600_000,
        isSecure: options.secureCookies,
        isHttpOnly: true,
        isSameSite: 'Lax',                  // Not Strict: a visitor coming from a link elsewhere is still the same visitor
        ignoreErrors: true,                 // A forged or mangled cookie counts as none
        clearInvalid: true
    });

    server.auth.scheme('visitor', () => ({
        authenticate: (request, h) => {

            const visitor = visitorIn(request.state[COOKIE]);
            return visitor ? h.authenticated({ credentials: { user: visitor } }) : h.unauthenticated(Boom.unauthorized(null, 'visitor'));
        }
    }));

    server.auth.strategy('visitor', 'visitor');
    server.auth.default({ strategy: 'visitor', mode: 'try' });
};


/** The visitor a request comes from; one met for the first time gets an identity, and its cookie with the response. */
export const visitorOf = function (request: Request, h: ResponseToolkit): Visitor {

    const known = visitorIn(request.auth.credentials?.user);
    if (known) {
        return known;
    }

    const visitor = { id: randomUUID() };
    h.state(COOKIE, visitor);
    return visitor;
};
