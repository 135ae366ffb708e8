import type { StreamRegistry } from './registry.ts';
import { verifyStreamName, type StreamSecret } from './signing.ts';

export type SubscribeError = 'invalid-signature' | 'forbidden' | 'bad-request';
export type SubscribeAnswer = { ok: true; stream: string } | { ok: false; error: SubscribeError };

export const MAX_SIGNED_NAME = 4096;


export interface AuthorizerOptions {
    secrets: readonly StreamSecret[];
    registry: StreamRegistry;
    log: (tags: string[], data: object) => void;
}


/** Reads `{ signedStreamName }` from a client frame; anything else is a bad request. */
export const signedNameOf = function (payload: unknown): string | null {

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
export const createAuthorizer = function (options: AuthorizerOptions) {

    return async function authorize(payload: unknown, user: unknown): Promise<SubscribeAnswer> {

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
                    { ok: false, error: 'forbidden' } :
                    { ok: true, stream: name };
            }

            if (await stream.userPassesTest(user) !== true) {
                return { ok: false, error: 'forbidden' };
            }
        }
        catch (error) {
            options.log(['hapi-turbo', 'subscribe', 'error'], { stream: name, message: (error as Error).message, error });
            return { ok: false, error: 'forbidden' };
        }

        return { ok: true, stream: name };
    };
};

export type Authorizer = ReturnType<typeof createAuthorizer>;
