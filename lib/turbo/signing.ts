import { createHmac, timingSafeEqual } from 'node:crypto';

// The signed form is the one turbo-rails' MessageVerifier produces, so names signed here verify in
// turbo-rails, AnyCable and their clients and vice versa:
//   base64(JSON.stringify(name)) + "--" + hex(HMAC-SHA256(secret, base64Part))

/**
 * A signing key: a string (its UTF-8 bytes are the key) or the key's bytes. A Rails app's default
 * key is 64 derived binary bytes, which no string stands for: pass those as a Buffer.
 */
export type StreamSecret = string | Buffer;

/** The longest signed name verified or subscribed to: a page prints it in an attribute and sends it in a frame. */
export const MAX_SIGNED_NAME = 4096;

const SEPARATOR = '--';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// Lower-case hex, as digest('hex') writes it. Checked before comparing: timingSafeEqual throws on
// buffers of different byte lengths, and 64 characters outside ASCII are more than 64 bytes.
const SIGNATURE = /^[0-9a-f]{64}$/;


const digest = function (secret: StreamSecret, payload: string): string {

    return createHmac('sha256', secret).update(payload).digest('hex');
};


export const signStreamName = function (name: string, secret: StreamSecret): string {

    const payload = Buffer.from(JSON.stringify(name), 'utf8').toString('base64');
    return payload + SEPARATOR + digest(secret, payload);
};


/**
 * Returns the stream name inside `signed` when one of `secrets` signed it, otherwise null.
 * Several secrets allow key rotation: sign with the first, keep accepting the older ones.
 */
export const verifyStreamName = function (signed: unknown, secrets: StreamSecret | readonly StreamSecret[]): string | null {

    if (typeof signed !== 'string' || signed.length > MAX_SIGNED_NAME) {
        return null;
    }

    const at = signed.lastIndexOf(SEPARATOR);
    if (at <= 0) {
        return null;
    }

    const payload = signed.slice(0, at);
    const signature = signed.slice(at + SEPARATOR.length);
    if (!SIGNATURE.test(signature) || !BASE64.test(payload)) {
        return null;
    }

    const given = Buffer.from(signature, 'latin1');
    let valid = false;
    for (const secret of typeof secrets === 'string' || Buffer.isBuffer(secrets) ? [secrets] : secrets) {
        // Every secret is compared, valid or not, so timing does not tell which key matched
        const expected = Buffer.from(digest(secret, payload), 'latin1');
        valid = (given.length === expected.length && timingSafeEqual(given, expected)) || valid;
    }

    if (!valid) {
        return null;
    }

    try {
        const name: unknown = JSON.parse(Buffer.from(payload, 'base64').toString('utf8'));
        return typeof name === 'string' ? name : null;
    }
    catch {
        return null;
    }
};
