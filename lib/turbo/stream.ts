import { TurboStream, type AttributeValue, type Content, type FragmentOptions, type Target } from './fragment.ts';
import type { FragmentInput } from './renderer.ts';

/** What a registered stream class broadcasts through: the broadcaster of the hapi server it was registered with. */
export interface StreamRuntime {
    broadcast(streams: readonly (Stream | string)[], fragments: readonly FragmentInput[]): Promise<void>;
    /** Runs model-hook code, waits for the broadcasts it started and logs what failed; never rejects. */
    runHook(body: () => unknown, about: Record<string, string>): Promise<void>;
}

interface Binding {
    identity: string;
    runtime: StreamRuntime;
}

// Stream classes are declared in app modules and know nothing of servers; registration binds each
// class to the runtime of the server that registered it (the last one wins in a process).
const bindings = new WeakMap<Function, Binding>();

const IDENTITY = /^[A-Za-z0-9_.-]+:[A-Za-z_$][\w$]*$/;


export const bindStream = function (cls: Function, identity: string, runtime: StreamRuntime): void {

    if (!IDENTITY.test(identity)) {
        throw new TypeError(`invalid stream identity "${identity}": expected "<app>:<ClassName>"`);
    }

    bindings.set(cls, { identity, runtime });
};


export const unbindStream = function (cls: Function, runtime: StreamRuntime): void {

    if (bindings.get(cls)?.runtime === runtime) {
        bindings.delete(cls);
    }
};


export const runtimeOf = function (cls: Function): StreamRuntime | undefined {

    return bindings.get(cls)?.runtime;
};


const bindingOf = function (cls: Function): Binding {

    const binding = bindings.get(cls);
    if (!binding) {
        throw new Error(`${cls.name} is not registered with hapi-turbo: export it from lib/<app>/streams.ts or list it in the plugin's "streams" option`);
    }

    return binding;
};


export type ContentArgs =
    | [template: string, context: object, target: Target, options?: FragmentOptions]
    | [content: Content, target: Target, options?: FragmentOptions];


const fromContentArgs = function (args: ContentArgs): [Target, Content, FragmentOptions | undefined] {

    if (typeof args[0] === 'string') {
        const [template, context, target, options] = args as [string, object, Target, FragmentOptions?];
        return [target, { template, context }, options];
    }

    const [content, target, options] = args as [Content, Target, FragmentOptions?];
    return [target, content, options];
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

    static isRegistered(): boolean {

        return bindings.has(this);
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

    append(...args: ContentArgs): Promise<void> {

        const [target, content, options] = fromContentArgs(args);
        return this.stream(TurboStream.append(target, content, options));
    }

    prepend(...args: ContentArgs): Promise<void> {

        const [target, content, options] = fromContentArgs(args);
        return this.stream(TurboStream.prepend(target, content, options));
    }

    replace(...args: ContentArgs): Promise<void> {

        const [target, content, options] = fromContentArgs(args);
        return this.stream(TurboStream.replace(target, content, options));
    }

    update(...args: ContentArgs): Promise<void> {

        const [target, content, options] = fromContentArgs(args);
        return this.stream(TurboStream.update(target, content, options));
    }

    before(...args: ContentArgs): Promise<void> {

        const [target, content, options] = fromContentArgs(args);
        return this.stream(TurboStream.before(target, content, options));
    }

    after(...args: ContentArgs): Promise<void> {

        const [target, content, options] = fromContentArgs(args);
        return this.stream(TurboStream.after(target, content, options));
    }

    remove(target: Target): Promise<void> {

        return this.stream(TurboStream.remove(target));
    }

    refresh(options: { requestId?: string | null; attributes?: Record<string, AttributeValue> } = {}): Promise<void> {

        return this.stream(TurboStream.refresh(options));
    }

    /** A custom action, applied in the browser by a matching `StreamActions[name]`. */
    action(name: string, target?: Target, content?: Content, options?: FragmentOptions): Promise<void> {

        return this.stream(TurboStream.action(name, target, content, options));
    }

    /** Sends fragments built with `TurboStream` (or serialised markup) as one message, rendered once. */
    stream(...fragments: FragmentInput[]): Promise<void> {

        return bindingOf(this.constructor).runtime.broadcast([this], fragments);
    }
}
