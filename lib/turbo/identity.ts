import type { RouteOptionsAccess, Server } from '@hapi/hapi';

import type { ValidatedOptions } from './schemas.ts';

export type Identify = (headers: Record<string, string | string[] | undefined>) => Promise<unknown>;

// Only these handshake headers carry who the user is; hapi's auth reads them as for any request
const FORWARDED = ['cookie', 'authorization'] as const;


// The route sockets are identified through: hapi runs the app's own auth for the handshake headers
const identityAuth = function (server: Server, option: ValidatedOptions['auth']): RouteOptionsAccess | false {

    if (option === false) {
        return false;
    }

    if (typeof option === 'string') {
        return { strategy: option, mode: 'try' };
    }

    if (option) {
        return option as RouteOptionsAccess;
    }

    return server.auth.settings.default ? { mode: 'try' } : false;
};


/**
 * How a socket finds its user: its handshake's cookie and authorization headers are injected into an
 * internal route that runs the app's own hapi auth, and the route answers the credentials. The route
 * is added when the server starts (the app's auth strategies and default are known by then); until
 * then, or with `auth: false`, every socket is anonymous.
 */
export class IdentityBridge {

    readonly #server: Server;
    readonly #path: string;
    readonly #option: ValidatedOptions['auth'];
    #routed = false;

    constructor(server: Server, path: string, option: ValidatedOptions['auth']) {

        this.#server = server;
        this.#path = path;
        this.#option = option;
    }

    /** Adds the internal route, once, when the server's auth asks for one (onPreStart). */
    install(): void {

        const auth = identityAuth(this.#server, this.#option);
        if (!auth || this.#routed) {
            return;
        }

        this.#server.route({
            method: 'GET',
            path: this.#path,
            options: { isInternal: true, auth },
            // A failed authentication may still carry credentials (@hapi/basic passes the ones its validate
            // found for a wrong password, for apps in 'try' mode to log who tried): that socket is anonymous
            handler: (request) => ({ credentials: request.auth.isAuthenticated ? request.auth.credentials : null })
        });

        this.#routed = true;
    }

    identify: Identify = async (headers) => {

        if (!this.#routed) {
            return null;
        }

        const forwarded: Record<string, string> = {};
        for (const name of FORWARDED) {
            const value = headers[name];
            if (typeof value === 'string') {
                forwarded[name] = value;
            }
        }

        const res = await this.#server.inject({ method: 'GET', url: this.#path, headers: forwarded, allowInternals: true });
        return (res.result as { credentials?: unknown } | null)?.credentials ?? null;
    };
}
