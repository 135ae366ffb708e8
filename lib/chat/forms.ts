import Boom from '@hapi/boom';
import type { Lifecycle, Request, ResponseToolkit, RouteOptionsPreObject } from '@hapi/hapi';
import { ValidationError } from 'sequelize';

import { TEXT_MAX_LENGTH } from './models.ts';

const FORM = 'application/x-www-form-urlencoded';
const NOT_A_FORM = `Forms must be sent as ${FORM}.`;


/**
 * The payload of a form post. Browsers and Turbo send forms urlencoded; any other body (JSON, plain
 * text, none at all) is refused with 415 rather than read as if it were one.
 */
const formPayload = function (request: Request): unknown {

    if (request.mime !== FORM) {
        throw Boom.unsupportedMediaType(NOT_A_FORM);
    }

    return request.payload;
};


/** Route payload failAction: the bodies hapi will not parse (multipart) get the same 415 as the others. */
export const payloadFailAction: Lifecycle.Method = function (request, h, error) {

    if (Boom.isBoom(error) && error.output.statusCode === 415) {
        throw Boom.unsupportedMediaType(NOT_A_FORM);
    }

    throw error ?? Boom.badRequest();
};


/**
 * A text field of a posted form, trimmed; anything but a single string reads as empty. Bytes and
 * %-escapes that are not UTF-8 reach here as U+FFFD: that text is refused (400), not stored mangled.
 * (A U+FFFD sent as valid UTF-8 cannot be told apart, and is refused too.)
 */
export const textField = function (request: Request, name: string): string {

    const payload = formPayload(request);
    const value = payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>)[name] : undefined;
    if (typeof value === 'string' && value.includes('\uFFFD')) {
        throw Boom.badRequest(`The ${name} field must be valid UTF-8.`);
    }

    return typeof value === 'string' ? value.trim() : '';
};


/** Ids in paths are positive integers; anything else names nothing, so it is a 404. */
export const idParam = function (value: unknown, what: string): number {

    if (typeof value !== 'string' || !/^[1-9]\d{0,14}$/.test(value)) {
        throw Boom.notFound(`${what} not found`);
    }

    return Number(value);
};


/** The messages of a failed save; any error other than validation goes on to the error page. */
export const validationMessages = function (error: unknown): string[] {

    if (!(error instanceof ValidationError)) {
        throw error;
    }

    return error.errors.map((item) => item.message);
};


/** The form again, its messages shown, as 422: inside a turbo-frame Turbo renders it in place. */
export const invalidForm = function (h: ResponseToolkit, template: string, context: object, errors: string[]) {

    return h.view(template, { ...context, errors }, { layout: false }).code(422);
};


/**
 * A route prerequisite for a form whose one text field is sent, not saved (a broadcast, an alert): the
 * text as `request.pre.text`, or, if the models would refuse it, the form again with their message.
 */
export const shortText = function (template: string): RouteOptionsPreObject {

    const method: Lifecycle.Method = function (request, h) {

        const text = textField(request, 'text');
        const length = [...text].length;
        if (length && length <= TEXT_MAX_LENGTH) {
            return text;
        }

        const error = length ? `Text must be at most ${TEXT_MAX_LENGTH} characters long.` : 'Text cannot be empty.';
        return invalidForm(h, template, { text }, [error]).takeover();
    };

    return { method, assign: 'text' };
};
