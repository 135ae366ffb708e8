import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { captureBroadcasts } from '../../lib/turbo/testing.ts';
import { crumbOf, startChat, TURBO_ACCEPT, visibleText, type Chat } from '../chat/chat-fixture.ts';

// Hostile and broken requests against the chat app's forms: every one is answered with a 4xx that
// says what is wrong, changes nothing in the database, broadcasts nothing and leaves the app serving.

const FORM = 'application/x-www-form-urlencoded';
const NOT_A_FORM = `Forms must be sent as ${FORM}.`;

interface Target {
    label: string;
    url: (ids: { room: number; message: number }) => string;
    field: string;
    /** What the form says when the field is left empty. */
    empty: string;
}

const TARGETS: Target[] = [
    { label: 'create room', url: () => '/', field: 'name', empty: 'Room name cannot be empty.' },
    { label: 'send message', url: ({ room }) => `/${room}/message_create`, field: 'text', empty: 'Message cannot be empty.' },
    { label: 'edit message', url: ({ message }) => `/message/${message}/edit`, field: 'text', empty: 'Message cannot be empty.' },
    { label: 'broadcast', url: () => '/broadcast', field: 'text', empty: 'Text cannot be empty.' }
];

interface Body {
    label: string;
    payload: (field: string) => string | Buffer | Readable | undefined;
    /** Content-Type, when one is sent. */
    type?: string;
    headers?: Record<string, string>;
    status: number;
    message: (target: Target) => string | RegExp;
}

const bytes = (field: string, ...raw: number[]) => Buffer.concat([Buffer.from(`${field}=`), Buffer.from(raw)]);

const BODIES: Body[] = [
    { label: 'an empty form', payload: () => '', type: FORM, status: 422, message: (target) => target.empty },
    { label: 'an empty body without a content type', payload: () => undefined, status: 415, message: () => NOT_A_FORM },
    { label: 'a 10 MB form', payload: (field) => `${field}=${'x'.repeat(10 * 1024 * 1024)}`, type: FORM, status: 413, message: () => /greater than maximum allowed: 65536/ },
    { label: 'a 10 MB form without a length (chunked)', payload: (field) => Readable.from([`${field}=`, ...Array.from({ length: 160 }, () => 'x'.repeat(64 * 1024))]), type: FORM, status: 413, message: () => /greater than maximum allowed: 65536/ },
    { label: '%-escapes that are not UTF-8', payload: (field) => `${field}=%FF%FE`, type: FORM, status: 400, message: (target) => `The ${target.field} field must be valid UTF-8.` },
    { label: 'raw bytes that are not UTF-8', payload: (field) => bytes(field, 0x68, 0xff, 0xfe, 0x69), type: FORM, status: 400, message: (target) => `The ${target.field} field must be valid UTF-8.` },
    { label: 'an encoded surrogate (CESU-8)', payload: (field) => `${field}=a%ED%A0%80b`, type: FORM, status: 400, message: (target) => `The ${target.field} field must be valid UTF-8.` },
    { label: 'Latin-1 bytes declared as such', payload: (field) => bytes(field, 0x63, 0x61, 0x66, 0xe9), type: `${FORM}; charset=ISO-8859-1`, status: 400, message: (target) => `The ${target.field} field must be valid UTF-8.` },
    { label: 'a JSON body', payload: (field) => JSON.stringify({ [field]: 'from json' }), type: 'application/json', status: 415, message: () => NOT_A_FORM },
    { label: 'malformed JSON', payload: (field) => `{"${field}": `, type: 'application/json', status: 400, message: () => 'Invalid request payload JSON format' },
    { label: 'a multipart body', payload: (field) => `--XyZ\r\ncontent-disposition: form-data; name="${field}"\r\n\r\nfrom multipart\r\n--XyZ--\r\n`, type: 'multipart/form-data; boundary=XyZ', status: 415, message: () => NOT_A_FORM },
    { label: 'a text/plain body', payload: (field) => `${field}=from text`, type: 'text/plain', status: 415, message: () => NOT_A_FORM },
    { label: 'a body claiming gzip that is not', payload: (field) => `${field}=not gzip`, type: FORM, headers: { 'content-encoding': 'gzip' }, status: 400, message: () => 'Invalid compressed payload' }
];


describe('hostile HTTP requests to the chat app', () => {

    let chat: Chat;
    let crumb: string;
    let ids: { room: number; message: number };

    beforeEach(async () => {

        chat = await startChat();
        crumb = await crumbOf(chat.server);
        const message = (await chat.Message.findOne())!;
        ids = { room: message.roomId, message: message.id };
    });

    afterEach(async () => {

        await chat.close();
    });

    /** Every row, as a comparable value. */
    const snapshot = async () => ({
        rooms: (await chat.Room.findAll({ order: [['id', 'ASC']], raw: true })).map(({ id, name }) => ({ id, name })),
        messages: (await chat.Message.findAll({ order: [['id', 'ASC']], raw: true })).map(({ id, text }) => ({ id, text }))
    });

    const post = function (url: string, payload: unknown, headers: Record<string, string | undefined>) {

        const sent = Object.fromEntries(Object.entries({ cookie: `crumb=${crumb}`, 'x-csrf-token': crumb, accept: TURBO_ACCEPT, ...headers }).filter(([, value]) => value !== undefined)) as Record<string, string>;
        return chat.server.inject({ method: 'POST', url, payload: payload as string, headers: sent });
    };

    /** Sends the request and checks: the status, the message shown, no row changed, no broadcast, the app still serves. */
    const refused = async function (send: () => ReturnType<typeof post>, status: number, message: string | RegExp) {

        const before = await snapshot();
        let res: Awaited<ReturnType<typeof post>> | undefined;
        const broadcasts = await captureBroadcasts(async () => {

            res = await send();
        });

        assert.equal(res!.statusCode, status, res!.payload.slice(0, 500));
        assert.match(String(res!.headers['content-type']), /^text\/html/);
        const text = visibleText(res!.payload);
        if (typeof message === 'string') {
            assert.equal(text.includes(message), true, `"${message}" not in: ${text.slice(0, 300)}`);
        }
        else {
            assert.match(text, message);
        }

        assert.deepEqual(await snapshot(), before);
        assert.equal(broadcasts.length, 0);
        assert.equal((await chat.server.inject('/')).statusCode, 200);
    };

    for (const target of TARGETS) {
        describe(target.label, () => {

            for (const body of BODIES) {
                it(`refuses ${body.label} with ${body.status}`, async () => {

                    const url = target.url(ids);
                    await refused(() => post(url, body.payload(target.field), { 'content-type': body.type, ...body.headers }), body.status, body.message(target));
                });
            }

            it('refuses a missing or wrong CSRF token with 403', async () => {

                const url = target.url(ids);
                const form = `${target.field}=forged`;
                await refused(() => post(url, form, { 'content-type': FORM, cookie: undefined, 'x-csrf-token': undefined }), 403, '403 Forbidden');
                await refused(() => post(url, form, { 'content-type': FORM, 'x-csrf-token': undefined }), 403, '403 Forbidden');
                await refused(() => post(url, form, { 'content-type': FORM, 'x-csrf-token': `${crumb}x` }), 403, '403 Forbidden');
                await refused(() => post(url, form, { 'content-type': FORM, cookie: undefined }), 403, '403 Forbidden');
            });

            it('still takes a well-formed form sent the same way', async () => {

                // The same request with valid input goes through, so the refusals above are about the input
                const res = await post(target.url(ids), `${target.field}=caf%C3%A9%20%F0%9F%98%80`, { 'content-type': `${FORM}; charset=UTF-8` });
                assert.equal(res.statusCode < 400, true, res.payload.slice(0, 300));
            });
        });
    }

    it('answers 404 under the assets path for every name that is not an asset, Object.prototype\'s included', async () => {

        const names = [...Object.getOwnPropertyNames(Object.prototype), 'prototype', 'identity', 'hapi-turbo.js.map', '%5F%5Fproto%5F%5F', 'constructor%00'];
        assert.equal(names.includes('__proto__') && names.includes('constructor') && names.includes('toString'), true);
        for (const name of names) {
            const res = await chat.server.inject(`/_turbo/${name}`);
            assert.equal(res.statusCode, 404, `/_turbo/${name}: ${res.payload.slice(0, 200)}`);
        }

        assert.equal((await chat.server.inject('/_turbo/hapi-turbo.js')).statusCode, 200);
        assert.equal((await chat.server.inject('/')).statusCode, 200);
    });

    it('answers unknown and malformed ids with 404 and a message naming what was not found', async () => {

        for (const id of ['999', '0', '-1', '01', '1e3', 'abc', '9999999999999999', '1%00', '%F0%9F%98%80']) {
            await refused(() => post(`/${id}/message_create`, 'text=hi', { 'content-type': FORM }), 404, 'Room not found');
            await refused(() => post(`/message/${id}/edit`, 'text=hi', { 'content-type': FORM }), 404, 'Message not found');
            await refused(() => post(`/message/${id}/delete`, '', { 'content-type': FORM }), 404, 'Message not found');
            await refused(() => chat.server.inject(`/${id}/`), 404, 'Room not found');
        }
    });
});
