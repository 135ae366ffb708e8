import { Model } from 'sequelize';

// Handlebars refuses to read properties that are not an object's own, and Sequelize keeps model
// attributes behind prototype getters: a template given a model instance prints empty fields. Rather
// than switch that protection off, contexts are copied with each model instance turned into a plain
// object of its values. The copy keeps a hidden link to its instance so helpers such as
// {{turbo_subscribe room}} still know which row they were given.

const INSTANCE = Symbol('hapi-turbo.instance');
const MAX_DEPTH = 12;


// Duck-typed as well, so rows from another copy of sequelize in node_modules are recognised
const isModelInstance = function (value: unknown): value is Model {

    if (value instanceof Model) {
        return true;
    }

    const candidate = value as { dataValues?: unknown; get?: unknown; constructor?: { getAttributes?: unknown } } | null;
    return typeof candidate === 'object' && candidate !== null && typeof candidate.dataValues === 'object' &&
        typeof candidate.get === 'function' && typeof candidate.constructor?.getAttributes === 'function';
};


export const instanceOf = function (value: unknown): Model | undefined {

    if (isModelInstance(value)) {
        return value;
    }

    if (value !== null && typeof value === 'object') {
        return (value as Record<symbol, Model | undefined>)[INSTANCE];
    }

    return undefined;
};


const isPlainObject = function (value: object): boolean {

    const proto = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
};


const convert = function (value: unknown, seen: Map<object, unknown>, depth: number): unknown {

    if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) {
        return value;
    }

    if (seen.has(value)) {
        return seen.get(value);
    }

    if (isModelInstance(value)) {
        const plain: Record<string | symbol, unknown> = {};
        Object.defineProperty(plain, INSTANCE, { value });
        seen.set(value, plain);
        for (const key of Object.keys(value.get())) {
            plain[key] = convert(value.get(key), seen, depth + 1);
        }

        return plain;
    }

    if (Array.isArray(value)) {
        const list: unknown[] = [];
        seen.set(value, list);
        for (const item of value) {
            list.push(convert(item, seen, depth + 1));
        }

        return list;
    }

    if (!isPlainObject(value)) {
        return value;                                       // Dates, SafeStrings, Stream instances...
    }

    const copy: Record<string, unknown> = {};
    seen.set(value, copy);
    for (const [key, item] of Object.entries(value)) {
        copy[key] = convert(item, seen, depth + 1);
    }

    return copy;
};


/** Copies a template context, turning Sequelize instances (at any depth) into plain objects. */
export const toViewContext = function <T>(context: T): T {

    return convert(context, new Map(), 0) as T;
};
