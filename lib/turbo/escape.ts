const ENTITIES: Record<string, string> = {
    '&': '&amp;',
    '<': '&lt;',
    '>': '&gt;',
    '"': '&quot;',
    '\'': '&#39;'
};


// Safe in text and in quoted attribute values; every attribute hapi-turbo writes is quoted
export const escapeHtml = function (value: unknown): string {

    return String(value ?? '').replace(/[&<>"']/g, (char) => ENTITIES[char]!);
};


/**
 * Marks a string as HTML the caller vouches for. Fragments insert it verbatim; every other string
 * is escaped.
 */
export class TrustedHtml {

    readonly html: string;

    constructor(html: string) {

        this.html = html;
    }

    toString(): string {

        return this.html;
    }
}
