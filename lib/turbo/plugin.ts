import { createRequire } from 'node:module';
import { join } from 'node:path';

import type { Plugin, Request, ResponseObject, ResponseToolkit, Server } from '@hapi/hapi';
import Inert from '@hapi/inert';
import type {} from '@hapi/vision';
import type { Server as SocketIoServer } from 'socket.io';

import { ROOT, routeAssets } from './assets.ts';
import type { BroadcastObserver, BroadcastStats, Transport } from './broadcaster.ts';
import { componentResolver, partialRenderer, type ViewsManager } from './components.ts';
import { TURBO_STREAM_TYPE } from './fragment.ts';
import { createHelpers } from './helpers.ts';
import { IdentityBridge } from './identity.ts';
import { wireModelStreams } from './model-stream.ts';
import type { StreamRegistry } from './registry.ts';
import { cachedTemplates, type FragmentInput, type VisionManager } from './renderer.ts';
import type { StreamPosition } from './replay.ts';
import { installRequestContext } from './request-context.ts';
import { TurboRuntime } from './runtime.ts';
import { applyOptions, type HapiTurboOptions } from './schemas.ts';
import { toViewContext } from './view-context.ts';

export type { HapiTurboOptions };

const pkg = createRequire(import.meta.url)(join(ROOT, 'package.json')) as { name: string; version: string };

/** `server.turbo` */
export interface TurboApi {
    /** Renders the fragments once and sends them, as one message, to every stream named (blank ones skipped). */
    broadcast(streamables: unknown, ...fragments: FragmentInput[]): Promise<void>;
    /** The same, skipping the page whose request is being handled (its X-Turbo-Socket-Id): it gets an empty placeholder. */
    broadcastToOthers(streamables: unknown, ...fragments: FragmentInput[]): Promise<void>;
    /** Renders fragments to <turbo-stream> markup (the same path broadcasts take). */
    render(...fragments: FragmentInput[]): Promise<string>;
    sign(name: string): string;
    verify(signed: unknown): string | null;
    /** The stream name of a row, a Stream, an "<app>:<Class>" name or a plain name. */
    streamName(streamable: unknown): string;
    signedStreamName(streamable: unknown): string;
    /** Where a stream stands: the epoch of its counter and the seq of its last message, as this process knows it. */
    position(streamable: unknown): StreamPosition;
    /** The same, asked of the shared log when there is one (Redis). */
    fetchPosition(streamable: unknown): Promise<StreamPosition>;
    observe(observer: BroadcastObserver): () => void;
    /** Sends debounced refreshes now and resolves once every broadcast started so far has been published. */
    drain(): Promise<void>;
    readonly stats: Readonly<BroadcastStats>;
    readonly transport: Transport;
    /** The socket.io server, when that is the transport. */
    readonly io: SocketIoServer | null;
    readonly registry: StreamRegistry;
}

declare module '@hapi/hapi' {
    interface Server {
        turbo: TurboApi;
    }

    interface ResponseToolkit {
        /** Replies with the fragments as `text/vnd.turbo-stream.html`. */
        turboStream(...fragments: FragmentInput[]): Promise<ResponseObject>;
    }

    interface Request {
        /** The client said it accepts Turbo Stream responses (Turbo does so on form submissions). */
        acceptsTurboStream: boolean;
    }
}



const acceptsTurboStream = function (request: Request): boolean {

    const accept = String(request.headers.accept ?? '');
    return accept.split(',').some((type) => type.split(';')[0]!.trim() === TURBO_STREAM_TYPE);
};


// server.turbo: the runtime, in the words of streamables (rows, Streams, names) and fragment lists
const turboApi = function (runtime: TurboRuntime): TurboApi {

    return {
        broadcast: (streamables, ...fragments) => runtime.broadcastTo(streamables, fragments),
        broadcastToOthers: (streamables, ...fragments) => runtime.broadcastTo(streamables, fragments, { toOthers: true }),
        render: (...fragments) => runtime.render(fragments),
        sign: (name) => runtime.sign(name),
        verify: (value) => runtime.verify(value),
        streamName: (streamable) => runtime.streamName(streamable),
        signedStreamName: (streamable) => runtime.signedStreamName(streamable),
        position: (streamable) => runtime.position(streamable),
        fetchPosition: (streamable) => runtime.fetchPosition(streamable),
        observe: (observer) => runtime.observe(observer),
        drain: () => runtime.drain(),
        stats: runtime.stats,
        transport: runtime.transport,
        io: runtime.io,
        registry: runtime.registry
    };
};


// Vision's helpers need its manager, which exists once the app configured views
const registerHelpers = function (server: Server, runtime: TurboRuntime, options: { assetsPath: string; path: string }): void {

    const manager = server.getViewsManager();
    if (!manager) {
        throw new Error('hapi-turbo needs a views manager: call server.views({ engines: { html: Handlebars }, ... }) before starting');
    }

    const helpers = createHelpers({
        subscription: (streamable) => runtime.subscription(streamable),
        component: componentResolver(runtime.registry, partialRenderer(manager as ViewsManager)),
        assetsPath: options.assetsPath,
        socketPath: options.path
    });
    for (const [name, helper] of Object.entries(helpers)) {
        manager.registerHelper(name, helper);
    }
};


const register = async function (server: Server, rawOptions: HapiTurboOptions): Promise<void> {

    const options = applyOptions(rawOptions);
    await server.register(Inert);                                       // once: a no-op when the app has it

    const log = (tags: string[], data: object) => server.log(tags, data);
    const identity = new IdentityBridge(server, `${options.assetsPath}/identity`, options.auth);
    const renderTemplate = cachedTemplates(() => server.getViewsManager() as unknown as VisionManager | null, (template, context) => server.render(template, context, { layout: false } as never));
    const runtime = await TurboRuntime.create(options, { listener: server.listener, log, renderTemplate, identify: identity.identify });
    installRequestContext(server);

    runtime.bind();
    if (options.hooks) {
        wireModelStreams(runtime.registry.modelStreams);
    }

    const api = turboApi(runtime);
    server.decorate('server', 'turbo', api);
    server.decorate('toolkit', 'turboStream', async function (this: ResponseToolkit, ...fragments: FragmentInput[]) {

        return this.response(await api.render(...fragments)).type(TURBO_STREAM_TYPE);
    });

    server.decorate('request', 'acceptsTurboStream', acceptsTurboStream, { apply: true });
    routeAssets(server, options.assetsPath);

    // Pages get the same model-instance handling as broadcasts (see view-context.ts). With a shared
    // log, the positions of the streams a page may subscribe to are fetched before it renders.
    server.ext('onPreResponse', async (request, h) => {

        const response = request.response as { variety?: string; source?: { context?: object } };
        if (response.variety === 'view' && response.source?.context) {
            response.source.context = toViewContext(response.source.context);
            await runtime.prefetchPositions(response.source.context).catch((error: Error) => {

                log(['hapi-turbo', 'redis', 'error'], { message: error.message });
            });
        }

        return h.continue;
    });

    server.ext('onPreStart', () => {

        registerHelpers(server, runtime, options);
        runtime.start();                                                // binds the stream classes again after a stop
        identity.install();
    });

    server.ext('onPreStop', () => runtime.stop());
    server.ext('onPostStop', () => runtime.close());
};


export const plugin: Plugin<HapiTurboOptions> = {
    name: pkg.name,
    version: pkg.version,
    requirements: { hapi: '>=21' },
    dependencies: { '@hapi/vision': '>=7' },
    once: true,
    register
};
