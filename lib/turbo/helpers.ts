import Handlebars from 'handlebars';

import { escapeHtml } from './escape.ts';
import { isBlankStreamable, plainStream, type PlainStream } from './plain-stream.ts';

export const ELEMENT = 'turbo-socket-stream-source';

export interface HelperContext {
    /** The signed name of the stream `streamable` resolves to, and where that stream stands now. */
    subscription(streamable: unknown): { signed: string; epoch: string; seq: number };
    /** The component a template names and its first state (components.ts). */
    component?(streamable: unknown, args: readonly unknown[], hash: Record<string, unknown>): { stream: unknown; domId: string; html: string };
    assetsPath: string;
    socketPath: string;
}

type HelperOptions = { hash?: Record<string, unknown>; data?: { root?: unknown } };

// Where {{turbo_refreshes_with}} leaves its choice for {{turbo_head}}: on the page's context, which
// vision renders first and then hands, with the page in it, to the layout
const REFRESHES = Symbol('hapi-turbo.refreshes');
const REFRESH_METHODS = new Set(['morph', 'replace']);
const REFRESH_SCROLLS = new Set(['preserve', 'reset']);


const flatten = function (args: unknown[]): unknown[] {

    return args.flatMap((arg) => Array.isArray(arg) ? flatten(arg) : [arg]);
};


// {{turbo_refreshes_with method="morph" scroll="preserve"}} in a page: how Turbo applies the
// refreshes that page receives, printed as meta tags by {{turbo_head}} in the layout (as
// turbo-rails' turbo_refreshes_with)
const turbo_refreshes_with = function (options?: HelperOptions): string {

    const { method = 'replace', scroll = 'reset' } = options?.hash ?? {};
    if (!REFRESH_METHODS.has(method as string) || !REFRESH_SCROLLS.has(scroll as string)) {
        throw new Error('turbo_refreshes_with takes method="morph"|"replace" and scroll="preserve"|"reset"');
    }

    const root = options?.data?.root;
    if (root !== null && typeof root === 'object') {
        (root as Record<symbol, unknown>)[REFRESHES] = { method, scroll };
    }

    return '';
};


// {{turbo_head}}: the meta tags, then the module scripts, served under `assetsPath`
const headHelper = (context: Pick<HelperContext, 'assetsPath' | 'socketPath'>) => function turbo_head(options?: HelperOptions): Handlebars.SafeString {

    const assets = escapeHtml(context.assetsPath);
    const root = options?.data?.root;
    const refreshes = root !== null && typeof root === 'object' ? (root as Record<symbol, { method: string; scroll: string } | undefined>)[REFRESHES] : undefined;
    return new Handlebars.SafeString([
        ...refreshes ? [
            `<meta name="turbo-refresh-method" content="${escapeHtml(refreshes.method)}">`,
            `<meta name="turbo-refresh-scroll" content="${escapeHtml(refreshes.scroll)}">`
        ] : [],
        `<meta name="hapi-turbo-socket-path" content="${escapeHtml(context.socketPath)}">`,
        // scripts=false: the app bundles hapi-turbo/client itself, with its own copy of Turbo
        ...options?.hash?.scripts === false ? [] : [
            `<script type="module" src="${assets}/turbo.es2017-esm.js"></script>`,
            `<script type="module" src="${assets}/socket.io.esm.min.js"></script>`,
            `<script type="module" src="${assets}/hapi-turbo.js"></script>`
        ]
    ].join('\n'));
};


/**
 * Template helpers:
 * - {{turbo_subscribe room "chat:RoomListStream" ...}}: one stream source element per stream;
 * - {{turbo_plain_stream room "messages"}}: one plain stream named by several parts, for turbo_subscribe;
 * - {{turbo_component "chat:AlertComponent"}}: a component's subscription and first state;
 * - {{turbo_refreshes_with method="morph" scroll="preserve"}}: how the page applies refreshes;
 * - {{turbo_head}}: the module scripts for Turbo, the socket.io client and the element; with
 *   `scripts=false` only the meta tags, for pages whose bundle imports hapi-turbo/client.
 */
export const createHelpers = function (context: HelperContext) {

    // The position lets the element ask for whatever is broadcast between this render and its
    // subscription, so nothing falls in between
    const sourceElement = function (streamable: unknown): string {

        // An unknown position (no epoch) is left out: the element then starts from its subscription
        const { signed, epoch, seq } = context.subscription(streamable);
        const position = epoch ? ` epoch="${escapeHtml(epoch)}" seq="${seq}"` : '';
        return `<${ELEMENT} signed-stream-name="${escapeHtml(signed)}"${position}></${ELEMENT}>`;
    };

    const turbo_subscribe = function (...args: unknown[]): Handlebars.SafeString {

        // The last argument is Handlebars' options. Blank ones are skipped, as turbo-rails does, but
        // a page that asks for no stream at all has a bug worth an error.
        const streamables = flatten(args.slice(0, -1) as unknown[]).filter((item) => !isBlankStreamable(item));
        if (!streamables.length) {
            throw new Error('turbo_subscribe needs one or more streams that are not blank: a row, a Stream, an "<app>:<Class>" name or a plain name');
        }

        return new Handlebars.SafeString(streamables.map(sourceElement).join(''));
    };

    // {{turbo_component "app:Name" arg… key=value…}} or {{turbo_component component}}: the component's
    // subscription, then its first state inside the wrapper its broadcasts update
    const turbo_component = function (...args: unknown[]): Handlebars.SafeString {

        const options = args.at(-1) as HelperOptions;
        const [streamable, ...constructorArgs] = args.slice(0, -1);
        if (!context.component || streamable === undefined || streamable === null || streamable === '') {
            throw new Error('turbo_component needs a component: an instance, or an "<app>:<Class>" name and its arguments');
        }

        const { stream, domId, html } = context.component(streamable, constructorArgs, options.hash ?? {});
        return new Handlebars.SafeString(`${sourceElement(stream)}<div id="${escapeHtml(domId)}" class="turbo-component">${html}</div>`);
    };

    // {{turbo_subscribe (turbo_plain_stream room "messages")}}: one stream named by its parts joined
    // with ":", as turbo-rails' `turbo_stream_from room, :messages`; never taken for a class name
    const turbo_plain_stream = function (...args: unknown[]): PlainStream {

        return plainStream(...args.slice(0, -1));
    };

    return { turbo_subscribe, turbo_component, turbo_refreshes_with, turbo_head: headHelper(context), turbo_plain_stream };
};
