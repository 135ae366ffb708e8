import assert from 'node:assert/strict';
import { pbkdf2Sync } from 'node:crypto';
import { describe, it } from 'node:test';

import Hapi from '@hapi/hapi';

import HapiTurbo, { TurboStream } from '../../lib/turbo/index.ts';
import { signStreamName, verifyStreamName } from '../../lib/turbo/signing.ts';
import { collect, createFixture, eventually } from '../support/fixture.ts';

const VECTOR = 'InJvb20vMTk4OSI=--5f0b0aa1029922e0a716b93e843127b2e26732560a8fcc33d3dc09395f5d86a9';

// A Rails app's default verifier key: PBKDF2 of its secret_key_base with the salt
// "turbo/signed_stream_verifier_key", 1000 iterations, 64 bytes, SHA-256 (Rails 7+ defaults). This
// key and the signature below were computed with the openssl command line, not with Node:
//   openssl kdf -keylen 64 -kdfopt digest:SHA256 -kdfopt pass:<RAILS_SECRET_KEY_BASE> \
//       -kdfopt salt:turbo/signed_stream_verifier_key -kdfopt iter:1000 PBKDF2
//   printf %s "$payload" | openssl dgst -sha256 -mac HMAC -macopt hexkey:<key>
const RAILS_SECRET_KEY_BASE = 'rails-secret-key-base-for-the-hapi-turbo-specs';
const RAILS_KEY_HEX = '18471b3869b4c55ef3d2c2fff7dc6ec31461303b32263224a3692c4a59ade3c08d108deed1dae7c1ec69054c1dd0ab675d4f22b9da93f81a34bf98ae8b8ddd64';
// turbo_stream_from room, :messages in that app, room being gid://app/Room/1
const RAILS_NAME = 'Z2lkOi8vYXBwL1Jvb20vMQ:messages';
const RAILS_SIGNED = 'IloybGtPaTh2WVhCd0wxSnZiMjB2TVE6bWVzc2FnZXMi--1b09e74cc4126d7f0cf684c35ce14d9afccf2f600fe8063cbf37f8b1edcae738';


describe('signStreamName()', () => {

    it('matches the turbo-rails test vector', () => {

        assert.equal(signStreamName('room/1989', 's3crit'), VECTOR);
    });

    it('is deterministic and depends on the secret', () => {

        assert.equal(signStreamName('chat:RoomStream[1]', 'a'.repeat(32)), signStreamName('chat:RoomStream[1]', 'a'.repeat(32)));
        assert.notEqual(signStreamName('chat:RoomStream[1]', 'a'.repeat(32)), signStreamName('chat:RoomStream[1]', 'b'.repeat(32)));
    });
});


describe('verifyStreamName()', () => {

    it('returns the name of a valid signature', () => {

        assert.equal(verifyStreamName(VECTOR, 's3crit'), 'room/1989');
        assert.equal(verifyStreamName(signStreamName('ünïcode "quoted"', 's3crit'), 's3crit'), 'ünïcode "quoted"');
    });

    it('returns null for a tampered payload', () => {

        const payload = Buffer.from(JSON.stringify('room/1990')).toString('base64');
        assert.equal(verifyStreamName(`${payload}--${VECTOR.split('--')[1]}`, 's3crit'), null);
    });

    it('returns null for a tampered signature', () => {

        const flipped = VECTOR.slice(0, -1) + (VECTOR.endsWith('9') ? '8' : '9');
        assert.equal(verifyStreamName(flipped, 's3crit'), null);
        assert.equal(verifyStreamName(VECTOR.slice(0, -2), 's3crit'), null, 'truncated');
        assert.equal(verifyStreamName(VECTOR.toUpperCase(), 's3crit'), null);
    });

    it('returns null, without throwing, for a signature of the right length in characters but not in bytes', () => {

        // 64 characters that are 128 (é), 192 (€) or 256 (😀 counts 2) bytes in UTF-8, lone surrogates, NUL
        const [payload, signature] = VECTOR.split('--') as [string, string];
        for (const forged of ['é'.repeat(64), '€'.repeat(64), '😀'.repeat(32), '\ud800'.repeat(64), '\udfff'.repeat(64), signature.slice(0, 63) + 'é', '\u0000'.repeat(64), signature.slice(0, 62) + '\u00e9\u0301']) {
            assert.equal(forged.length >= 63, true);
            assert.doesNotThrow(() => verifyStreamName(`${payload}--${forged}`, ['s3crit', 'other']));
            assert.equal(verifyStreamName(`${payload}--${forged}`, 's3crit'), null, JSON.stringify(forged));
            assert.equal(verifyStreamName(`YQ==--${forged}`, 's3crit'), null, JSON.stringify(forged));
        }
    });

    it('returns null for the wrong secret', () => {

        assert.equal(verifyStreamName(VECTOR, 'another secret'), null);
    });

    it('accepts any of several secrets (key rotation)', () => {

        assert.equal(verifyStreamName(VECTOR, ['new-key', 's3crit']), 'room/1989');
        assert.equal(verifyStreamName(VECTOR, ['new-key', 'newer-key']), null);
    });

    it('returns null for anything that is not a signed string', () => {

        for (const value of [undefined, null, 42, {}, [], '', '--', 'abc', `${'A'.repeat(9000)}--${'0'.repeat(64)}`, '!!!--' + '0'.repeat(64)]) {
            assert.equal(verifyStreamName(value, 's3crit'), null, JSON.stringify(value));
        }
    });

    it('returns null when the signed JSON is not a string', () => {

        const payload = Buffer.from(JSON.stringify({ room: 1 })).toString('base64');
        const signed = signStreamName('x', 's3crit').replace(/^[^-]+/, payload);
        assert.equal(verifyStreamName(signed, 's3crit'), null);
    });
});


describe('binary keys (a Rails app\'s default key)', () => {

    const key = Buffer.from(RAILS_KEY_HEX, 'hex');

    it('signs and verifies with a Buffer, byte-equal to the Rails app; no string form of the key verifies', () => {

        assert.deepEqual(pbkdf2Sync(RAILS_SECRET_KEY_BASE, 'turbo/signed_stream_verifier_key', 1000, 64, 'sha256'), key, 'the documented derivation');
        assert.equal(signStreamName(RAILS_NAME, key), RAILS_SIGNED);
        assert.equal(verifyStreamName(RAILS_SIGNED, key), RAILS_NAME);
        assert.equal(verifyStreamName(RAILS_SIGNED, ['x'.repeat(32), key]), RAILS_NAME, 'in a rotation list, with strings');
        for (const text of [RAILS_KEY_HEX, key.toString('base64'), key.toString('latin1'), key.toString('utf8'), RAILS_SECRET_KEY_BASE]) {
            assert.equal(verifyStreamName(RAILS_SIGNED, text), null);
        }
    });

    it('lets the plugin take the key as a Buffer: a page signed by the Rails app subscribes, and names signed here verify there', async () => {

        // As an app would read it: RAILS_TURBO_KEY=<hex> in the environment
        const environment = { RAILS_TURBO_KEY: RAILS_KEY_HEX };
        const fixture = await (await createFixture({ secret: Buffer.from(environment.RAILS_TURBO_KEY, 'hex') })).start();
        try {
            const { server } = fixture;
            assert.equal(server.turbo.signedStreamName(RAILS_NAME), RAILS_SIGNED);
            assert.equal(server.turbo.verify(RAILS_SIGNED), RAILS_NAME);

            const socket = await fixture.client();
            const received = collect(socket);
            assert.deepEqual(await fixture.subscribe(socket, RAILS_SIGNED), { ok: true, stream: RAILS_NAME });
            assert.deepEqual(await fixture.subscribe(socket, signStreamName(RAILS_NAME, RAILS_KEY_HEX)), { ok: false, error: 'invalid-signature' });
            await server.turbo.broadcast(RAILS_NAME, TurboStream.append({ id: 'messages' }, { text: 'from hapi' }));
            await eventually(() => assert.equal(received.length, 1));
            assert.equal(received[0]!.stream, RAILS_NAME);
        }
        finally {
            await fixture.close();
        }
    });

    it('refuses a key shorter than 32 bytes, and anything but a string or a Buffer', async () => {

        for (const [secret, message] of [
            [Buffer.alloc(31), /"secret" must be at least 32 bytes long/],
            [[Buffer.alloc(64, 1), Buffer.alloc(8)], /"secret\[1\]" must be at least 32 bytes long/],
            [42, /"secret" must be a string or a Buffer/]
        ] as const) {
            await assert.rejects(Hapi.server().register({ plugin: HapiTurbo, options: { secret: secret as never, streams: {}, transport: 'memory' } }), message);
        }
    });
});
