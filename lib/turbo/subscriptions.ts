import type { StreamRegistry } from './registry.ts';
import type { ReplayRecord, Resume, StreamLog, StreamPosition } from './replay.ts';
import { MAX_SIGNED_NAME, verifyStreamName, type StreamSecret } from './signing.ts';

// The subscribe protocol (docs/protocol.md), whatever carries its frames: a client sends
// `subscribe` / `unsubscribe` with `{ signedStreamName, since? }` and gets one answer each. Here
// frames are validated, rate-limited, verified and authorized, and a resuming client is sent what
// it missed. A transport only moves frames and rooms (Subscriber) and never sees the secrets.

export type SubscribeError = 'invalid-signature' | 'forbidden' | 'bad-request';
export type SubscribeAnswer = { ok: true; stream: string } | { ok: false; error: SubscribeError };

// A refusal keeps the verified name, when there is one, for the log and to leave the stream; the
// client's answer carries the error only
type Decision = { ok: true; stream: string } | { ok: false; error: SubscribeError; name?: string };


interface AuthorizerOptions {
    secrets: readonly StreamSecret[];
    registry: StreamRegistry;
    log: (tags: string[], data: object) => void;
}


/** Reads `{ signedStreamName }` from a client frame; anything else is a bad request. */
const signedNameOf = function (payload: unknown): string | null {

    if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
        return null;
    }

    const signed = (payload as { signedStreamName?: unknown }).signedStreamName;
    if (typeof signed !== 'string' || signed.length === 0 || signed.length > MAX_SIGNED_NAME) {
        return null;
    }

    return signed;
};


/**
 * Decides a subscription: the name must carry a valid signature, and when it names a registered
 * stream class, the stream rebuilt from it must accept the user. Never throws.
 */
const createAuthorizer = function (options: AuthorizerOptions) {

    return async function authorize(payload: unknown, user: unknown): Promise<Decision> {

        const signed = signedNameOf(payload);
        if (signed === null) {
            return { ok: false, error: 'bad-request' };
        }

        const name = verifyStreamName(signed, options.secrets);
        if (name === null) {
            return { ok: false, error: 'invalid-signature' };
        }

        try {
            const stream = options.registry.fromName(name);
            if (stream === null) {
                // Signed by us but no class answers to it: a plain name (its signature is its
                // authorization, as in turbo-rails), unless it is shaped like one of our classes'
                // names (a class since removed: its pages must not fall back to an unchecked stream)
                return options.registry.ownsName(name) ?
                    { ok: false, error: 'forbidden', name } :
                    { ok: true, stream: name };
            }

            if (await stream.userPassesTest(user) !== true) {
                return { ok: false, error: 'forbidden', name };
            }
        }
        catch (error) {
            options.log(['hapi-turbo', 'subscribe', 'error'], { stream: name, message: (error as Error).message, error });
            return { ok: false, error: 'forbidden', name };
        }

        return { ok: true, stream: name };
    };
};

type Authorizer = ReturnType<typeof createAuthorizer>;


/** The limits the protocol enforces per client (the `limits` option). */
export interface SubscribeLimits {
    /** Streams one client may be subscribed to at once. */
    maxSubscriptions: number;
    /** Subscribe and unsubscribe frames a client may send in a burst, then per second. */
    subscribeBurst: number;
    subscribePerSecond: number;
}

/** One connected client, as a transport offers it to the protocol. */
export interface Subscriber {
    readonly id: string;
    readonly connected: boolean;
    join(stream: string): void | Promise<void>;
    leave(stream: string): void | Promise<void>;
    /** Sends replayed messages, in order, as one frame. */
    send(records: readonly ReplayRecord[]): void;
    /** Whether a replay of `records` fits this client's output budgets; counted against them when it does. */
    fits(records: readonly ReplayRecord[]): boolean;
}

/** What the protocol keeps per client. */
export interface Session {
    user: unknown;
    streams: Set<string>;
    tokens: number;
    refilledAt: number;
}

export type Answer = (answer: object) => void;

export interface SubscriptionProtocolOptions {
    secrets: readonly StreamSecret[];
    registry: StreamRegistry;
    /** The server's log, made not to throw by the runtime: frames are answered even when its listeners fail. */
    log: (tags: string[], data: object) => void;
    replay: StreamLog;
    /** Finds the user of a connecting client from its handshake (cookies, authorization header). */
    identify: (headers: Record<string, string | string[] | undefined>) => Promise<unknown>;
    limits: SubscribeLimits;
}

const MAX_EPOCH_LENGTH = 64;
const nothingMissed = (): Resume => ({ records: [] });


/** `since` of a subscribe frame: absent (undefined), a valid position, or null when malformed. */
const sinceOf = function (payload: unknown): StreamPosition | undefined | null {

    const since = (payload as { since?: unknown } | null)?.since;
    if (since === undefined) {
        return undefined;
    }

    const { epoch, seq } = (since ?? {}) as { epoch?: unknown; seq?: unknown };
    if (typeof epoch !== 'string' || epoch.length > MAX_EPOCH_LENGTH || !Number.isSafeInteger(seq) || (seq as number) < 0) {
        return null;
    }

    return { epoch, seq: seq as number };
};


export class SubscriptionProtocol {

    readonly #options: SubscriptionProtocolOptions;
    readonly #authorize: Authorizer;

    constructor(options: SubscriptionProtocolOptions) {

        this.#options = options;
        this.#authorize = createAuthorizer(options);
    }

    /** A new client: who it is, from its handshake headers (anonymous when that fails). */
    async open(headers: Record<string, string | string[] | undefined>): Promise<Session> {

        const session: Session = { user: null, streams: new Set(), tokens: this.#options.limits.subscribeBurst, refilledAt: Date.now() };
        try {
            session.user = await this.#options.identify(headers);
        }
        catch (error) {
            this.#options.log(['hapi-turbo', 'auth', 'error'], { message: (error as Error).message });
        }

        return session;
    }

    async subscribe(session: Session, subscriber: Subscriber, payload: unknown, answer: Answer | undefined): Promise<void> {

        if (!this.#allow(session)) {
            answer?.({ ok: false, error: 'rate-limited' });
            return;
        }

        const since = sinceOf(payload);
        if (since === null) {
            answer?.({ ok: false, error: 'bad-request' });
            return;
        }

        const decision = await this.#authorize(payload, session.user);
        if (!decision.ok) {
            await this.#refused(session, subscriber, decision.error, decision.name);
            answer?.({ ok: false, error: decision.error });
            return;
        }

        if (!subscriber.connected) {
            answer?.(decision);
            return;
        }

        const stream = decision.stream;
        if (!session.streams.has(stream) && session.streams.size >= this.#options.limits.maxSubscriptions) {
            answer?.({ ok: false, error: 'too-many-subscriptions' });
            return;
        }

        // The client joins before the replay is read: a broadcast is either in the replay (published
        // before) or delivered through the room (after), never neither; one in both arrives twice
        // and the client drops the second. The answer goes first so the client knows the stream's
        // name when the replayed messages arrive. With the in-memory log all of it is one synchronous
        // step. A room that is joined asynchronously is joined once the promise settles.
        const joined = subscriber.join(stream);
        session.streams.add(stream);
        if (joined instanceof Promise) {
            await joined;
        }

        const resuming = this.#resume(subscriber, stream, since);
        const resume = resuming instanceof Promise ? await resuming : resuming;
        const position = this.#options.replay.position(stream);
        answer?.({ ok: true, stream, epoch: position.epoch, seq: position.seq, ...('gap' in resume ? { gap: true } : {}) });
        if ('records' in resume && resume.records.length) {
            subscriber.send(resume.records);
        }
    }

    async unsubscribe(session: Session, subscriber: Subscriber, payload: unknown, answer: Answer | undefined): Promise<void> {

        if (!this.#allow(session)) {
            answer?.({ ok: false, error: 'rate-limited' });
            return;
        }

        const signed = signedNameOf(payload);
        const name = signed === null ? null : verifyStreamName(signed, this.#options.secrets);
        if (name === null) {
            answer?.({ ok: false, error: signed === null ? 'bad-request' : 'invalid-signature' });
            return;
        }

        session.streams.delete(name);
        await subscriber.leave(name);
        answer?.({ ok: true, stream: name });
    }

    // Logged by name only when the signature holds: anything else is the client's invention. Access
    // is checked on every subscribe: refused now means out, even if it was let in before.
    async #refused(session: Session, subscriber: Subscriber, error: SubscribeError, name: string | null = null): Promise<void> {

        this.#options.log(['hapi-turbo', 'subscribe', 'debug'], { message: `subscription refused (${error})${name === null ? '' : `: ${name}`}`, socket: subscriber.id, error, ...(name === null ? {} : { stream: name }) });
        if (name !== null && session.streams.delete(name)) {
            await subscriber.leave(name);
        }
    }

    // What a client resuming from `since` missed; `gap` when that cannot be told or sent (it
    // refreshes). Synchronous with a synchronous log, so that joining, reading and answering stay one step.
    #resume(subscriber: Subscriber, stream: string, since: StreamPosition | undefined): Resume | Promise<Resume> {

        const log = this.#options.replay;
        if (!since) {
            // The answer must say where the stream stands
            return log.refresh ? log.refresh([stream]).then(nothingMissed, nothingMissed) : nothingMissed();
        }

        const resume = log.resume(stream, since);
        if (!(resume instanceof Promise)) {
            return this.#fitting(subscriber, resume);
        }

        return resume.then((records) => this.#fitting(subscriber, records), (error: Error) => {

            this.#options.log(['hapi-turbo', 'subscribe', 'error'], { stream, message: error.message });
            return { gap: true };                                           // Cannot tell what was missed: refresh
        });
    }

    #fitting(subscriber: Subscriber, resume: Resume): Resume {

        if ('records' in resume && resume.records.length && !subscriber.fits(resume.records)) {
            return { gap: true };                                           // The page refreshes instead
        }

        return resume;
    }

    // A token bucket per client: a burst, then a steady rate
    #allow(session: Session): boolean {

        const now = Date.now();
        const { subscribeBurst, subscribePerSecond } = this.#options.limits;
        session.tokens = Math.min(subscribeBurst, session.tokens + (now - session.refilledAt) * subscribePerSecond / 1000);
        session.refilledAt = now;
        if (session.tokens < 1) {
            return false;
        }

        --session.tokens;
        return true;
    }
}
