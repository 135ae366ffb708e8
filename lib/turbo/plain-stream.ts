// Names that are not stream classes. turbo-rails takes any string as a stream name, and joins the
// parts of `turbo_stream_from room, :messages` with ":" into one name; a Rails app sharing streams
// with this one uses such names. A bare string is plain unless it has the shape of a registered
// app's class name (registry.ts); plainStream() says so explicitly and joins parts the Rails way.

/** A stream with no class behind it, named by its parts joined with ":". Resolved by the registry. */
export class PlainStream {

    readonly parts: readonly unknown[];

    constructor(parts: readonly unknown[]) {

        this.parts = Object.freeze([...parts]);
    }
}


/**
 * What turbo-rails ignores as a streamable: null, undefined, false, a string of only white space,
 * an empty list. Broadcasts skip them; `{{turbo_subscribe}}` skips them but needs one that is not.
 */
export const isBlankStreamable = function (value: unknown): boolean {

    return value === null || value === undefined || value === false ||
        (typeof value === 'string' && value.trim() === '') ||
        (Array.isArray(value) && value.every(isBlankStreamable));
};


/**
 * A plain stream: `plainStream('channel:messages')`, or several parts joined with ":" as turbo-rails
 * does, `plainStream(room, 'messages')` → `"chat:RoomStream[4]:messages"`. Parts are strings, numbers,
 * rows, Streams or other plain streams; a row or a Stream stands for its stream's name.
 */
export const plainStream = function (...parts: unknown[]): PlainStream {

    if (!parts.length || parts.some(isBlankStreamable)) {
        throw new TypeError(`plainStream() needs one or more parts, none blank; got ${parts.length ? parts.map((part) => JSON.stringify(part) ?? String(part)).join(', ') : 'none'}`);
    }

    return new PlainStream(parts);
};
