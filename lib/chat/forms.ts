import Boom from '@hapi/boom';
import type { ResponseToolkit } from '@hapi/hapi';
import { ValidationError } from 'sequelize';


/** A text field of a form payload, trimmed; anything but a single string reads as empty. */
export const textField = function (payload: unknown, name: string): string {

    const value = payload !== null && typeof payload === 'object' ? (payload as Record<string, unknown>)[name] : undefined;
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
