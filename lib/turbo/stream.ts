import { TurboStream, type Content, type ContentAction, type FragmentOptions, type RefreshFragmentOptions, type Target } from './fragment.ts';
import type { FragmentInput } from './renderer.ts';

/** How a message is sent, as opposed to what it says (FragmentOptions). */
export interface BroadcastOptions {
    /**
     * Skip the page whose request is being handled (its `X-Turbo-Socket-Id`): it already updated
     * itself from the HTTP response. Outside a request, or without the header, everyone gets it.
     */
    toOthers?: boolean;
}

/** Options of the Stream action methods: the fragment's attributes plus how to send it. */
export type StreamOptions = FragmentOptions & BroadcastOptions;

/** What a registered stream class broadcasts through: the runtime of the hapi server it was registered with (runtime.ts). */
export interface StreamRuntime {
    broadcast(streams: readonly (Stream | string)[], fragments: readonly FragmentInput[], options?: BroadcastOptions): Promise<void>;
    /** Runs model-hook code, waits for the broadcasts it started and logs what failed; never rejects. */
    runHook(body: () => unknown, about: Record<string, string>): Promise<void>;
    /** Schedules the refreshes a row's save or destroy asks for (`static broadcastsRefreshes`). */
    refreshRow(cls: Function, stream: Stream, instance: object): Promise<void>;
}

interface Binding {
    identity: string;
    runtime: StreamRuntime;
}

// Stream classes are declared in app modules and know nothing of servers; registration binds each
// class to the runtime of the server that registered it (the last one wins). The binding is the
// class's own property, not inherited: a subclass is a stream of its own.
const BINDING = Symbol('hapi-turbo binding');

const IDENTITY = /^[A-Za-z0-9_.-]+:[A-Za-z_$][\w$]*$/;


const ownBinding = function (cls: Function): Binding | undefined {

    return Object.hasOwn(cls, BINDING) ? (cls as unknown as Record<symbol, Binding | undefined>)[BINDING] : undefined;
};


export const bindStream = function (cls: Function, identity: string, runtime: StreamRuntime): void {

    if (!IDENTITY.test(identity)) {
        throw new TypeError(`invalid stream identity "${identity}": expected "<app>:<ClassName>"`);
    }

    Object.defineProperty(cls, BINDING, { value: { identity, runtime }, configurable: true, writable: true, enumerable: false });
};


export const unbindStream = function (cls: Function, runtime: StreamRuntime): void {

    if (ownBinding(cls)?.runtime === runtime) {
        delete (cls as unknown as Record<symbol, unknown>)[BINDING];
    }
};


export const runtimeOf = function (cls: Function): StreamRuntime | undefined {

    return ownBinding(cls)?.runtime;
};


const bindingOf = function (cls: Function): Binding {

    const binding = ownBinding(cls);
    if (!binding) {
        throw new Error(`${cls.name} is not registered with hapi-turbo: export it from lib/<app>/streams.ts or list it in the plugin's "streams" option`);
    }

    return binding;
};


/** The name of a resolved stream: a Stream's, or a plain stream's own. */
export const nameOf = (stream: Stream | string): string => typeof stream === 'string' ? stream : stream.name;


export type ContentArgs =
    | [template: string, context: object, target: Target, options?: StreamOptions]
    | [content: Content, target: Target, options?: StreamOptions];


// The fragment gets its own options; `toOthers` is about sending, not markup
const splitOptions = function (options: StreamOptions | undefined): [FragmentOptions | undefined, BroadcastOptions] {

    if (!options) {
        return [undefined, {}];
    }

    const { toOthers, ...fragmentOptions } = options;
    return [fragmentOptions, { toOthers }];
};


const fromContentArgs = function (args: ContentArgs): [Target, Content, FragmentOptions | undefined, BroadcastOptions] {

    if (typeof args[0] === 'string') {
        const [template, context, target, options] = args as [string, object, Target, StreamOptions?];
        return [target, { template, context }, ...splitOptions(options)];
    }

    const [content, target, options] = args as [Content, Target, StreamOptions?];
    return [target, content, ...splitOptions(options)];
};


/**
 * A named channel of <turbo-stream> broadcasts. Its name is "<app>:<ClassName>", followed by the
 * JSON of its constructor arguments when it has any: `new RoomStream(4)` is `chat:RoomStream[4]`.
 * Browsers subscribe with {{turbo_subscribe}}; the server rebuilds the instance from the signed
 * name and asks `userPassesTest` before letting a socket in.
 */
export class Stream {

    readonly args: readonly unknown[];

    constructor(...args: unknown[]) {

        this.args = args;
    }

    /** "<app>:<ClassName>", known once the class is registered. */
    static get identity(): string {

        return bindingOf(this).identity;
    }

    /** The arguments that identify this instance; `new this.constructor(...streamArgs())` must rebuild it. */
    streamArgs(): readonly unknown[] {

        return this.args;
    }

    get name(): string {

        const identity = bindingOf(this.constructor).identity;
        const args = this.streamArgs();
        return args.length ? identity + JSON.stringify(args) : identity;
    }

    /** Decides whether `user` (from hapi auth on the socket handshake, or null) may subscribe. */
    userPassesTest(user: unknown): boolean | Promise<boolean> {

        void user;
        return true;
    }

    // The six content actions take (template, context, target, options?) or (content, target, options?),
    // content being { template, context }, { text } (escaped) or { html } (sent as it is); options are
    // the fragment's attributes and `toOthers`
    /** Adds the content after the target's last child. */
    append(...args: ContentArgs): Promise<void> { return this.#sendContent('append', args); }
    /** Adds the content before the target's first child. */
    prepend(...args: ContentArgs): Promise<void> { return this.#sendContent('prepend', args); }
    /** Puts the content in place of the target itself. */
    replace(...args: ContentArgs): Promise<void> { return this.#sendContent('replace', args); }
    /** Puts the content in place of what is inside the target. */
    update(...args: ContentArgs): Promise<void> { return this.#sendContent('update', args); }
    /** Puts the content just before the target, outside it. */
    before(...args: ContentArgs): Promise<void> { return this.#sendContent('before', args); }
    /** Puts the content just after the target, outside it. */
    after(...args: ContentArgs): Promise<void> { return this.#sendContent('after', args); }

    remove(target: Target, options: BroadcastOptions = {}): Promise<void> {

        return this.#send([TurboStream.remove(target)], options);
    }

    /** Refreshes every page on the stream but, by default, the tab whose request is being handled (see TurboStream.refresh). */
    refresh(options: RefreshFragmentOptions = {}): Promise<void> {

        return this.stream(TurboStream.refresh(options));
    }

    /** A custom action, applied in the browser by a matching `StreamActions[name]`. */
    action(name: string, target?: Target, content?: Content, options?: StreamOptions): Promise<void> {

        const [fragmentOptions, sending] = splitOptions(options);
        return this.#send([TurboStream.action(name, target, content, fragmentOptions)], sending);
    }

    /** Sends fragments built with `TurboStream` (or serialised markup) as one message, rendered once. */
    stream(...fragments: FragmentInput[]): Promise<void> {

        return this.#send(fragments, {});
    }

    /** `stream()` for every page but the one whose request this is (see BroadcastOptions.toOthers). */
    streamToOthers(...fragments: FragmentInput[]): Promise<void> {

        return this.#send(fragments, { toOthers: true });
    }

    #sendContent(action: ContentAction, args: ContentArgs): Promise<void> {

        const [target, content, options, sending] = fromContentArgs(args);
        return this.#send([TurboStream[action](target, content, options)], sending);
    }

    #send(fragments: FragmentInput[], options: BroadcastOptions): Promise<void> {

        return bindingOf(this.constructor).runtime.broadcast([this], fragments, options);
    }
}
