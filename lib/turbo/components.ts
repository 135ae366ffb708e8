import { createHash } from 'node:crypto';
import { extname } from 'node:path';

import type { StreamRegistry } from './registry.ts';
import { Stream, type BroadcastOptions } from './stream.ts';
import { toViewContext } from './view-context.ts';

// Components, as turbo-django's BroadcastComponent and UserBroadcastComponent: a stream that owns a
// piece of page. `{{turbo_component "app:Name" arg…}}` prints its first state inside a wrapper and
// subscribes the page; `component.render(context)` broadcasts the new state into every wrapper.

export type ComponentContext = Record<string, unknown>;

const DOM_ID_PREFIX = 'turbo-component-';


/**
 * The id of the element that wraps a component in pages. turbo-django uses the stream name itself
 * ("app:Name"), which is not a valid CSS identifier and would repeat constructor arguments (a user
 * id) in the markup; a hash of the name is stable across processes and restarts, and valid.
 */
export const componentDomId = function (streamName: string): string {

    return DOM_ID_PREFIX + createHash('sha256').update(streamName).digest('hex').slice(0, 16);
};


/**
 * A piece of page that every subscriber sees the same: `static template` names its view (also
 * reachable as a Handlebars partial, for the first render), `context()` gives the state every
 * render starts from. Subclass it in `lib/<app>/streams.ts` like any stream.
 */
export class BroadcastComponent extends Stream {

    // Own `abstract`: the registry skips this class itself, not its subclasses
    static readonly abstract = true;

    /** The template rendered into the wrapper: a view name such as "chat/components/alert". */
    static template = '';

    get template(): string {

        const template = (this.constructor as typeof BroadcastComponent).template;
        if (!template) {
            throw new Error(`${this.constructor.name} has no template: declare "static override template = '<view>'"`);
        }

        return template;
    }

    /** The id of its wrapper element in pages. */
    get domId(): string {

        return componentDomId(this.name);
    }

    /**
     * The state every render starts from; what `render(context)` and the helper's hash arguments
     * give is laid over it. May be async for `render()`; the first render, made while the page
     * template runs, needs it synchronous.
     */
    context(): ComponentContext | Promise<ComponentContext> {

        return {};
    }

    /** The CSS selector of its wrappers: a page may show a component more than once, each wrapper with the same id. */
    get selector(): string {

        return `#${this.domId}`;
    }

    /** Renders the template once with `context()` and `context`, and updates every wrapper in every page subscribed. */
    async render(context: ComponentContext = {}, options: BroadcastOptions = {}): Promise<void> {

        const state = { ...await this.context(), ...context };
        // `targets`, not `target`: Turbo finds a target by getElementById, which returns only the first
        await this.update(this.template, state, { selector: this.selector }, options);
    }
}


/**
 * A component per user: `new CounterComponent(user)` takes the user (or their id) and is a stream of
 * its own, `app:CounterComponent["<id>"]`. Only that user may subscribe to it: turbo-django's let in
 * any signed-in user (hotwire-django/turbo-django#58), leaving the signature as the only guard.
 */
export class UserBroadcastComponent extends BroadcastComponent {

    static override readonly abstract = true;

    readonly userId: string | number;

    constructor(user: unknown) {

        const userId = (new.target as typeof UserBroadcastComponent).userIdOf(user);
        if (userId === null) {
            throw new TypeError(`${new.target.name} needs a user: an id, or credentials with an id`);
        }

        super(userId);
        this.userId = userId;
    }

    /**
     * The id of a user as the socket handshake's hapi auth gives it (the credentials), or as a
     * constructor argument: a string or number itself, `credentials.id`, `credentials.user.id`, or
     * `credentials.user` when that is a string or number. Override it for other shapes.
     */
    static userIdOf(user: unknown): string | number | null {

        const idOf = (value: unknown) => (typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value)) ? value : null;
        if (user === null || typeof user !== 'object') {
            return idOf(user);
        }

        const { id, user: nested } = user as { id?: unknown; user?: unknown };
        return idOf(id) ?? (nested !== null && typeof nested === 'object' ? idOf((nested as { id?: unknown }).id) : idOf(nested));
    }

    override streamArgs(): readonly unknown[] {

        return [this.userId];
    }

    // Ids compare as text: 17 and "17" are one user whichever way the app's auth spells them
    override userPassesTest(user: unknown): boolean {

        const userId = (this.constructor as typeof UserBroadcastComponent).userIdOf(user);
        return userId !== null && String(userId) === String(this.userId);
    }
}


type Template = (context: object) => string;

interface HandlebarsEnvironment {
    partials?: Record<string, unknown>;
    compile?: (source: string) => Template;
}

/** The part of vision's manager a first render needs. */
export interface ViewsManager {
    getEngine?: (extension?: string) => { module?: HandlebarsEnvironment } | undefined;
}


/**
 * Renders a template synchronously, as a Handlebars partial of the views' engine. Template helpers
 * cannot wait, and vision's own rendering is asynchronous; vision registers every template under
 * `partialsPath` as a partial of the engine, so a component's template is found there by name.
 */
export const partialRenderer = function (manager: ViewsManager): (template: string, context: object) => string {

    const compiled = new Map<string, Template>();
    return (template, context) => {

        let environment: HandlebarsEnvironment | undefined;
        try {
            environment = manager.getEngine?.(extname(template).slice(1) || undefined)?.module;
        }
        catch {
            environment = undefined;                            // Several engines and no default
        }

        const partial = environment?.partials?.[template];
        if (typeof partial === 'function') {
            return (partial as Template)(context);
        }

        if (typeof partial !== 'string' || !environment?.compile) {
            throw new Error(`{{turbo_component}} renders a component's first state as a Handlebars partial, and "${template}" is none: add its folder to the partialsPath of server.views`);
        }

        // Keyed by source: vision reloads partials when templates are not cached
        let render = compiled.get(partial);
        if (!render) {
            if (compiled.size >= 1000) {
                compiled.clear();
            }

            render = environment.compile(partial);
            compiled.set(partial, render);
        }

        return render(context);
    };
};


export interface RenderedComponent {
    stream: BroadcastComponent;
    domId: string;
    html: string;
}


/**
 * What `{{turbo_component}}` needs: the component a template names (an instance, or "app:Name" and
 * its constructor arguments) and its first state, rendered with `context()` and the hash arguments.
 */
export const componentResolver = function (registry: StreamRegistry, renderPartial: (template: string, context: object) => string) {

    const find = function (streamable: unknown, args: readonly unknown[]): BroadcastComponent {

        if (streamable instanceof BroadcastComponent && !args.length) {
            return streamable;
        }

        if (typeof streamable === 'string') {
            const cls = registry.entries.find(([identity]) => identity === streamable)?.[1];
            if (cls && cls.prototype instanceof BroadcastComponent) {
                return new (cls as unknown as new (...args: unknown[]) => BroadcastComponent)(...args);
            }
        }

        const components = registry.entries.filter(([, cls]) => cls.prototype instanceof BroadcastComponent).map(([identity]) => identity);
        throw new Error(`turbo_component needs a component: an instance, or the name of a registered one (${components.join(', ') || 'none registered'}); got ${typeof streamable === 'string' ? `"${streamable}"` : typeof streamable}`);
    };

    return function (streamable: unknown, args: readonly unknown[], hash: ComponentContext): RenderedComponent {

        const component = find(streamable, args);
        const state = component.context();
        if (state instanceof Promise) {
            state.catch(() => undefined);
            throw new Error(`${component.constructor.name}.context() returned a promise: a page renders a component synchronously, so pass what it needs as hash arguments ({{turbo_component "…" count=count}})`);
        }

        const html = renderPartial(component.template, toViewContext({ ...state, ...hash }));
        return { stream: component, domId: component.domId, html };
    };
};
