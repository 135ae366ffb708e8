import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { signStreamName, verifyStreamName } from '../../lib/turbo/signing.ts';

const VECTOR = 'InJvb20vMTk4OSI=--5f0b0aa1029922e0a716b93e843127b2e26732560a8fcc33d3dc09395f5d86a9';


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
