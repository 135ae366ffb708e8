import Handlebars from 'handlebars';

import { escapeHtml } from './escape.ts';

export const ELEMENT = 'turbo-socket-stream-source';

export interface HelperContext {
    /** The signed name of the stream `streamable` resolves to, and where that stream stands now. */
    subscription(streamable: unknown): { signed: string; epoch: string; seq: number };
    assetsPath: string;
    socketPath: string;
}

type HelperOptions = { hash?: Record<string, unknown> };


const flatten = function (args: unknown[]): unknown[] {

    return args.flatMap((arg) => Array.isArray(arg) ? flatten(arg) : [arg]);
};


/**
 * Template helpers:
 * - {{turbo_subscribe room "chat:RoomListStream" ...}}: one stream source element per stream;
 * - {{turbo_head}}: the module scripts for Turbo, the socket.io client and the element.
 */
export const createHelpers = function (context: HelperContext) {

    const turbo_subscribe = function (...args: unknown[]): Handlebars.SafeString {

        const streamables = flatten(args.slice(0, -1) as unknown[]);        // The last argument is Handlebars' options
        if (!streamables.length || streamables.some((item) => item === undefined || item === null || item === '')) {
            throw new Error('turbo_subscribe needs one or more streams: a row, a Stream or an "<app>:<Class>" name');
        }

        // The position lets the element ask for whatever is broadcast between this render and its
        // subscription, so nothing falls in between
        return new Handlebars.SafeString(streamables.map((streamable) => {

            // An unknown position (no epoch) is left out: the element then starts from its subscription
            const { signed, epoch, seq } = context.subscription(streamable);
            const position = epoch ? ` epoch="${escapeHtml(epoch)}" seq="${seq}"` : '';
            return `<${ELEMENT} signed-stream-name="${escapeHtml(signed)}"${position}></${ELEMENT}>`;
        }).join(''));
    };

    const turbo_head = function (options?: HelperOptions): Handlebars.SafeString {

        void options;
        const assets = escapeHtml(context.assetsPath);
        return new Handlebars.SafeString([
            `<meta name="hapi-turbo-socket-path" content="${escapeHtml(context.socketPath)}">`,
            `<script type="module" src="${assets}/turbo.es2017-esm.js"></script>`,
            `<script type="module" src="${assets}/socket.io.esm.min.js"></script>`,
            `<script type="module" src="${assets}/hapi-turbo.js"></script>`
        ].join('\n'));
    };

    return { turbo_subscribe, turbo_head };
};
