import Boom from '@hapi/boom';
import type { Lifecycle, Request, ResponseToolkit } from '@hapi/hapi';


/**
 * Errors are answered with an HTML page rather than hapi's JSON: browsers and Turbo show it as it
 * is. Server errors keep their details in the log, not on the page.
 */
export const errorPage: Lifecycle.Method = function (request: Request, h: ResponseToolkit) {

    const response = request.response;
    if (!Boom.isBoom(response)) {
        return h.continue;
    }

    const { statusCode, payload, headers } = response.output;
    const message = statusCode >= 500 ? 'Something went wrong on our side. Please try again.' : payload.message;
    const page = h.view('chat/error', { title: payload.error, statusCode, error: payload.error, message }).code(statusCode);
    for (const [name, value] of Object.entries(headers)) {
        if (value !== undefined) {
            page.header(name, String(value));
        }
    }

    return page;
};
