import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import type { Sequelize } from 'sequelize';

import { ModelStream, type AnyModel, type ModelStreamClass } from './model-stream.ts';
import { isBlankStreamable, PlainStream } from './plain-stream.ts';
import { nameOf, Stream } from './stream.ts';
import { instanceOf } from './view-context.ts';

export type StreamClass = typeof Stream;

/** Stream classes by app name: `{ chat: [RoomStream, MessageStream] }`, or module namespaces. */
export type StreamDeclarations = Record<string, readonly StreamClass[] | Record<string, unknown>>;

// "chat:RoomStream" or "chat:RoomStream[4]": an identity (app and class), then the JSON of the
// constructor arguments
const STREAM_NAME = /^(([A-Za-z0-9_.-]+):([A-Za-z_$][\w$]*))(\[.*\])?$/s;
const CLASS_LIKE = /^[A-Z]/;
const BASE_CLASSES = new Set<unknown>([Stream, ModelStream]);
const MODULE_NAMES = ['streams.ts', 'streams.js', 'streams.mjs'];


const isStreamClass = function (value: unknown): value is StreamClass {

    return typeof value === 'function' && value.prototype instanceof Stream && !BASE_CLASSES.has(value) &&
        !Object.prototype.hasOwnProperty.call(value, 'abstract');
};


/**
 * Finds `<dir>/<app>/streams.ts` modules, the way turbo-django finds `streams.py`: the folder is the
 * app name and every exported Stream subclass is registered as "<app>:<ExportName>".
 */
export const discoverStreams = async function (dir: string): Promise<StreamDeclarations> {

    const found: StreamDeclarations = {};
    let entries: string[];
    try {
        entries = (await readdir(dir)).sort();
    }
    catch {
        return found;
    }

    for (const app of entries) {
        for (const file of MODULE_NAMES) {
            const path = join(dir, app, file);
            if (!(await stat(path).catch(() => null))?.isFile()) {
                continue;
            }

            found[app] = await import(pathToFileURL(path).href) as Record<string, unknown>;
            break;
        }
    }

    return found;
};


export class StreamRegistry {

    readonly #classes = new Map<string, StreamClass>();
    readonly #apps = new Set<string>();

    constructor(declarations: StreamDeclarations, sequelize?: Sequelize) {

        for (const [app, declared] of Object.entries(declarations)) {
            this.#apps.add(app);
            const candidates = Array.isArray(declared) ? declared.map((cls) => [cls.name, cls] as const) : Object.entries(declared);
            for (const [exportName, value] of candidates) {
                if (!isStreamClass(value)) {
                    if (Array.isArray(declared)) {
                        throw new TypeError(`streams.${app} holds ${String(exportName)}, which is not a Stream subclass`);
                    }

                    continue;
                }

                if ([...this.#classes.values()].includes(value)) {
                    continue;                                   // Re-exported from another app's module
                }

                this.#classes.set(`${app}:${exportName}`, value);
                if (value.prototype instanceof ModelStream) {
                    this.#resolveModel(value as ModelStreamClass, sequelize);
                }
            }
        }
    }

    #resolveModel(cls: ModelStreamClass, sequelize: Sequelize | undefined): void {

        const model = cls.model;
        if (typeof model === 'string') {
            const resolved = sequelize?.models[model];
            if (!resolved) {
                throw new Error(`${cls.name}.model is "${model}", but ${sequelize ? 'the sequelize instance has no such model' : 'no "sequelize" option was given to look it up'}`);
            }

            cls.model = resolved as AnyModel;
            return;
        }

        if (typeof model !== 'function') {
            throw new Error(`${cls.name} extends ModelStream but has no "static model"`);
        }
    }

    get entries(): [string, StreamClass][] {

        return [...this.#classes.entries()];
    }

    get modelStreams(): ModelStreamClass[] {

        return [...this.#classes.values()].filter((cls) => cls.prototype instanceof ModelStream) as ModelStreamClass[];
    }

    /**
     * Turns what a template or a caller names into a stream: a Stream instance, a row (or its view
     * copy) whose model has a ModelStream, a registered "<app>:<Class>" name, a `plainStream(...)`,
     * or any other string, which is a plain stream name (as in turbo-rails).
     */
    resolve(streamable: unknown): Stream | string {

        if (streamable instanceof Stream) {
            return streamable;
        }

        if (streamable instanceof PlainStream) {
            const name = streamable.parts.map((part) => this.#partName(part)).join(':');
            if (this.ownsName(name)) {
                throw new Error(`plainStream() cannot name "${name}": names "<app>:<Class>" of the apps ${[...this.#apps].join(', ')} belong to their stream classes`);
            }

            return name;
        }

        const instance = instanceOf(streamable);
        if (instance) {
            const stream: unknown = (instance as unknown as { stream?: unknown }).stream;
            if (!(stream instanceof Stream)) {
                throw new Error(`${instance.constructor.name} has no ModelStream: declare one with "static model = ${instance.constructor.name}"`);
            }

            return stream;
        }

        if (typeof streamable === 'string' && streamable.length > 0) {
            if (!this.ownsName(streamable)) {
                return streamable;
            }

            const stream = this.fromName(streamable);
            if (!stream) {
                throw new Error(`unknown stream "${streamable}"; registered streams: ${[...this.#classes.keys()].join(', ') || 'none'}`);
            }

            return stream;
        }

        throw new TypeError(`cannot make a stream of ${streamable === null ? 'null' : typeof streamable}`);
    }

    /** The streams a broadcast names: one streamable or a list; blank ones are skipped, as turbo-rails does. */
    resolveAll(streamables: unknown): (Stream | string)[] {

        return [streamables].flat(Infinity).filter((item) => !isBlankStreamable(item)).map((item) => this.resolve(item));
    }

    // One part of a plain stream's name: text as it is, a row or a Stream as its stream's name
    #partName(part: unknown): string {

        if (typeof part === 'string' || typeof part === 'number' || typeof part === 'bigint' || typeof part === 'boolean') {
            return String(part);
        }

        if (part !== null && typeof part === 'object') {
            return nameOf(this.resolve(part));
        }

        throw new TypeError(`plainStream() cannot take ${typeof part} as part of a name`);
    }

    /** Rebuilds the stream a (verified) name stands for; null when no registered class has that name. */
    fromName(name: string): Stream | null {

        const match = STREAM_NAME.exec(name);
        const cls = match ? this.#classes.get(match[1]!) : undefined;
        const args = match ? argumentsOf(match[4]) : null;
        if (!cls || !args) {
            return null;
        }

        return new (cls as new (...args: unknown[]) => Stream)(...args);
    }

    /**
     * True when `name` belongs to the stream classes: "<app>:<Name>" or "<app>:<Name>[<JSON list>]"
     * where <app> is a registered app and <Name> a registered class or capitalised like one. Such a
     * name is its class's stream or nothing (an error when named, `forbidden` at subscribe): a typo or
     * a class removed since the page was rendered never turns into a plain stream. Every other name
     * is plain: `channel:messages`, `Z2lkOi8v…:comments`, `chat:RoomStream[4]:messages`.
     */
    ownsName(name: string): boolean {

        const match = STREAM_NAME.exec(name);
        return Boolean(match && this.#apps.has(match[2]!) && argumentsOf(match[4]) &&
            (this.#classes.has(match[1]!) || CLASS_LIKE.test(match[3]!)));
    }
}


// The constructor arguments in a class stream's name, or null when they are not a JSON list
const argumentsOf = function (json: string | undefined): unknown[] | null {

    if (json === undefined) {
        return [];
    }

    try {
        const args: unknown = JSON.parse(json);
        return Array.isArray(args) ? args : null;
    }
    catch {
        return null;
    }
};
