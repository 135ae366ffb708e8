import Crumb from '@hapi/crumb';
import type { Server } from '@hapi/hapi';

declare module '@hapi/hapi' {
    interface PluginSpecificConfiguration {
        /** false: the route neither sets nor checks the CSRF cookie (static files). */
        crumb?: false | { key?: string; source?: 'payload' | 'query'; restful?: boolean };
    }
}


/**
 * CSRF protection with @hapi/crumb in restful mode: every GET page sets the `crumb` cookie (once per
 * browser) and prints its value in <meta name="csrf-token">, which Turbo sends back as X-CSRF-Token
 * on every form submission; POST, PUT, PATCH and DELETE without the matching header get 403.
 * No token is ever rendered inside a form, so markup sent to everyone in a broadcast holds none.
 */
export const registerCsrf = async function (server: Server, options: { secureCookies: boolean }): Promise<void> {

    await server.register({
        plugin: Crumb,
        options: {
            restful: true,
            skip: (request) => request.route.settings.plugins?.crumb === false,
            cookieOptions: {
                path: '/',
                isSecure: options.secureCookies,
                isHttpOnly: true,                   // Pages read the value from the meta tag, never from the cookie
                isSameSite: 'Strict',
                ignoreErrors: true                  // A mangled cookie is replaced, not answered with 400
            }
        }
    });
};
