import { createHmac } from 'node:crypto';

import { MAX_SIGNED_NAME, signStreamName } from '../../lib/turbo/signing.ts';
import { SECRET } from './fixture.ts';

// A seeded generator of hostile socket.io frames for the subscribe protocol (specs/hostile): each
// frame comes with the answer the server must give, so a run is reproducible from its seed.

/** A key the servers under test never use. */
export const OTHER_KEY = 'a-key-this-server-has-never-heard-of-at-all';
/** The servers' frame limit (limits.maxFrameBytes by default). */
export const FRAME_LIMIT = 16 * 1024;


export type Rng = () => number;

// mulberry32: small, fast and good enough to spread cases
export const prng = function (seed: number): Rng {

    let state = seed >>> 0;
    return function next() {

        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
};


const int = (rng: Rng, min: number, max: number) => min + Math.floor(rng() * (max - min + 1));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[int(rng, 0, items.length - 1)]!;

const ALPHABETS = [
    'abcdefghijklmnopqrstuvwxyz',
    '0123456789abcdef',
    'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=',
    '-=_.:[]{}"\\/ ',
    '\u0000\u0001\n\t\r\u2028\u202e',
    'éü€中😀',
    '\ud800\udfff'                                          // lone surrogates
];


const randomString = function (rng: Rng, length: number, alphabet = pick(rng, ALPHABETS)): string {

    const chars = [...alphabet];
    let text = '';
    while (text.length < length) {
        text += pick(rng, chars);
    }

    return text.slice(0, length);
};


export const randomBuffer = (rng: Rng, length: number) => Buffer.from(Array.from({ length }, () => int(rng, 0, 255)));


/** Arrays or objects nested `depth` deep around `inner`. */
const nested = function (rng: Rng, depth: number, inner: unknown): unknown {

    const arrays = rng() < 0.5;
    let value = inner;
    for (let i = 0; i < depth; ++i) {
        value = arrays ? [value] : { a: value };
    }

    return value;
};


const junk = function (rng: Rng): unknown {

    switch (int(rng, 0, 7)) {
        case 0: return pick(rng, [0, -1, 1e308, -0.5, Number.MAX_SAFE_INTEGER + 2]);
        case 1: return randomString(rng, int(rng, 0, 64));
        case 2: return pick(rng, [null, true, false]);
        case 3: return Array.from({ length: int(rng, 0, 8) }, () => randomString(rng, 4));
        case 4: return randomBuffer(rng, int(rng, 0, 64));
        case 5: return nested(rng, int(rng, 1, 1000), randomString(rng, 3));
        case 6: return JSON.parse('{"__proto__": {"signedStreamName": "x", "polluted": true}, "constructor": {"prototype": {"polluted": true}}}');
        default: return { toString: 'not a function', valueOf: 1, length: -1 };
    }
};


const signRaw = function (json: string, key: string): string {

    const payload = Buffer.from(json, 'utf8').toString('base64');
    return `${payload}--${createHmac('sha256', key).update(payload).digest('hex')}`;
};


/** One character changed to another one. */
const flip = function (rng: Rng, text: string): string {

    const at = int(rng, 0, text.length - 1);
    const replacement = pick(rng, [...'abcdef0123456789XYZ+/=-'].filter((char) => char !== text[at]));
    return text.slice(0, at) + replacement + text.slice(at + 1);
};


export type Outcome = 'ok' | 'bad-request' | 'invalid-signature' | 'forbidden';

const MISSING = Symbol('missing');

interface NameCase {
    kind: string;
    value: unknown;
    subscribe: Outcome;
    unsubscribe: Outcome;
}

export interface SignedNames {
    /** Names the server signed and lets anyone subscribe to. */
    valid: string[];
    /** Names the server signed whose userPassesTest refuses an anonymous socket. */
    forbidden: string[];
}


// Characters of one UTF-16 unit that are 2 or 3 bytes in UTF-8, and lone surrogates (3 bytes once
// replaced): a signature of 64 of them has the right length in characters and the wrong one in bytes
const WIDE = ['é', 'ü', '€', '中', '\u00a0', '\u2028', '\ud800', '\udbff', '\udc00', '\udfff'];


/** 64 characters, at least one of them not ASCII: sometimes a valid signature with a few swapped. */
const wideSignature = function (rng: Rng, signature: string): string {

    const chars = rng() < 0.5 ? [...signature] : [...randomString(rng, 64, '0123456789abcdef')];
    const swaps = pick(rng, [1, 2, int(rng, 3, 64)]);
    for (let i = 0; i < swaps; ++i) {
        chars[int(rng, 0, 63)] = pick(rng, WIDE);
    }

    if (chars.every((char) => char.charCodeAt(0) < 0x80)) {
        chars[0] = 'é';
    }

    return chars.join('');
};


const malformed = (kind: string, value: unknown): NameCase => ({ kind, value, subscribe: 'bad-request', unsubscribe: 'bad-request' });
const unsigned = (kind: string, value: unknown): NameCase => ({ kind, value, subscribe: 'invalid-signature', unsubscribe: 'invalid-signature' });


const fuzzName = function (rng: Rng, names: SignedNames): NameCase {

    const valid = pick(rng, names.valid);
    const signature = valid.slice(valid.lastIndexOf('--') + 2);
    const payload = valid.slice(0, valid.lastIndexOf('--'));
    switch (int(rng, 0, 17)) {
        case 0: return malformed('name missing', MISSING);
        case 1: return malformed('name of a wrong type', pick(rng, [42, -1, 1e308, null, true, [], [valid], {}, { signedStreamName: valid }, Buffer.from(valid)]));
        case 2: return malformed('empty name', '');
        case 3: return malformed('name too long', randomString(rng, int(rng, MAX_SIGNED_NAME + 1, FRAME_LIMIT - 512), ALPHABETS[2]));
        case 4: return unsigned('random name', randomString(rng, int(rng, 1, MAX_SIGNED_NAME)));
        case 5: return unsigned('invalid base64', `${randomString(rng, int(rng, 1, 300), '!*()%&@ ~')}--${signature}`);
        case 6: return unsigned('truncated signature', valid.slice(0, valid.length - int(rng, 1, 64)));
        case 7: return unsigned('flipped character', flip(rng, valid));
        case 8: return unsigned('wrong key', signStreamName(`fuzz/${int(rng, 0, 9)}`, OTHER_KEY));
        case 9: return unsigned('upper-case signature', valid.slice(0, valid.length - 64) + signature.toUpperCase());
        case 10: return unsigned('signed, not a string name', signRaw(pick(rng, ['42', '["a"]', '{"a":1}', 'null', 'not json', '"unterminated']), SECRET));
        case 11: return unsigned('junk around a valid name', pick(rng, [` ${valid}`, `${valid} `, `${valid}--${signature}`, valid.replace('--', '-'), `${valid}\u0000`]));
        case 12:
        case 13: return { kind: 'valid', value: valid, subscribe: 'ok', unsubscribe: 'ok' };
        case 15: return unsigned('64 characters, more bytes', `${pick(rng, [payload, 'YQ==', randomString(rng, int(rng, 1, 64), ALPHABETS[2])])}--${wideSignature(rng, signature)}`);
        case 16: return unsigned('multi-byte payload', `${pick(rng, [payload.slice(0, -1) + pick(rng, WIDE), randomString(rng, int(rng, 1, 64), pick(rng, ALPHABETS.slice(5))), payload + pick(rng, WIDE)])}--${signature}`);
        case 17: return unsigned('surrogates around a valid name', pick(rng, [`\ud800${valid}`, `${valid}\udfff`, valid.replace('--', '-\ud83d-'), `${valid.slice(0, -1)}\ud83d\ude00`.slice(0, valid.length)]));
        default: return { kind: 'forbidden', value: pick(rng, names.forbidden), subscribe: 'forbidden', unsubscribe: 'ok' };
    }
};


/** `since`: absent, well-formed (any epoch, any seq), or malformed (then the subscribe is a bad request). */
const fuzzSince = function (rng: Rng): { value: unknown; wellFormed: boolean } {

    const roll = int(rng, 0, 5);
    if (roll <= 2) {
        return { value: MISSING, wellFormed: true };
    }

    if (roll === 3) {
        return { value: { epoch: randomString(rng, int(rng, 0, 64), ALPHABETS[2]), seq: pick(rng, [0, 1, int(rng, 0, 1e6), Number.MAX_SAFE_INTEGER]) }, wellFormed: true };
    }

    const value = pick(rng, [
        null, 0, 'since', [], [1, 2], true, Buffer.from('since'), {},
        { epoch: 1, seq: 1 }, { epoch: ['e'], seq: 1 }, { seq: 1 }, { epoch: 'e' },
        { epoch: 'e', seq: -1 }, { epoch: 'e', seq: 1.5 }, { epoch: 'e', seq: 2 ** 53 }, { epoch: 'e', seq: 1e308 },
        { epoch: 'e', seq: '1' }, { epoch: 'e', seq: null }, { epoch: 'e', seq: Number.NaN }, { epoch: 'e', seq: [1] },
        { epoch: 'e'.repeat(65), seq: 1 }, { epoch: 'e'.repeat(int(rng, 66, 8000)), seq: 0 },
        JSON.parse('{"epoch": "e", "__proto__": {"seq": 1}}'),
        nested(rng, int(rng, 1, 1000), { epoch: 'e', seq: 1 })
    ]);
    return { value, wellFormed: false };
};


export interface Frame {
    event: string;
    args: unknown[];
    ack: boolean;
    /** What the ack must say; 'ignored' for events the server does not know. */
    expect: Outcome | 'ignored';
    kind: string;
}

const UNKNOWN_EVENTS = ['Subscribe', 'subscribe ', ' unsubscribe', 'SUBSCRIBE', 'turbo-stream', 'error', 'message', 'connection', 'join', 'leave', '__proto__', 'constructor', 'toString', 'hasOwnProperty', ''];


const fuzzFrame = function (rng: Rng, names: SignedNames): Frame {

    const roll = rng();
    const ack = rng() < 0.85;
    if (roll < 0.15) {
        const event = rng() < 0.5 ? pick(rng, UNKNOWN_EVENTS) : randomString(rng, int(rng, 1, 40));
        return { event, args: [rng() < 0.5 ? { signedStreamName: pick(rng, names.valid) } : junk(rng)], ack, expect: 'ignored', kind: 'unknown event' };
    }

    const event = roll < 0.6 ? 'subscribe' : 'unsubscribe';
    if (rng() < 0.2) {
        // Not an object at all: no argument, a scalar, an array, bytes, a bare name
        const args = pick(rng, [
            [], [undefined], [null], [int(rng, -1e9, 1e9)], [Number.NaN], [true], [randomString(rng, int(rng, 0, FRAME_LIMIT / 4))],
            [pick(rng, names.valid)], [[{ signedStreamName: pick(rng, names.valid) }]], [nested(rng, int(rng, 1, 1000), 'deep')],
            [randomBuffer(rng, int(rng, 0, 8 * 1024))], [nested(rng, int(rng, 1, 500), randomBuffer(rng, 16))]
        ]);
        return { event, args, ack, expect: 'bad-request', kind: 'not an object' };
    }

    const name = fuzzName(rng, names);
    const since = fuzzSince(rng);
    const payload: Record<string, unknown> = {};
    if (name.value !== MISSING) {
        payload.signedStreamName = name.value;
    }

    if (since.value !== MISSING) {
        payload.since = since.value;
    }

    if (rng() < 0.3) {
        payload[pick(rng, ['extra', 'stream', 'user', 'admin', 'ok'])] = junk(rng);
    }

    // Arguments after the payload are ignored
    const args = rng() < 0.1 ? [payload, junk(rng)] : [payload];
    const expect = event === 'unsubscribe' ? name.unsubscribe : since.wellFormed ? name.subscribe : 'bad-request';
    return { event, args, ack, expect, kind: since.wellFormed ? name.kind : 'malformed since' };
};


/** Roughly the bytes of the frame socket.io will send (binary attachments travel in frames of their own). */
const frameBytes = function (frame: Frame): number {

    const text = JSON.stringify([frame.event, ...frame.args], (_key, value: unknown) => {

        return (value as { type?: unknown } | null)?.type === 'Buffer' ? { _placeholder: true, num: 99 } : value;
    });
    return Buffer.byteLength(text ?? '', 'utf8') + '42/turbo,99999'.length;
};


export const fuzzFrames = function* (rng: Rng, names: SignedNames, count: number): Generator<Frame> {

    for (let made = 0; made < count;) {
        const frame = fuzzFrame(rng, names);
        if (frameBytes(frame) < FRAME_LIMIT - 256) {                       // Oversized frames have a test of their own
            ++made;
            yield frame;
        }
    }
};
