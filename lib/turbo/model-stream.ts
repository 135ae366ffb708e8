import { AsyncResource } from 'node:async_hooks';

import { Model, type ModelStatic, type Transaction } from 'sequelize';

import type { RefreshTargets } from './refresh.ts';
import { runtimeOf, Stream } from './stream.ts';
import { instanceOf } from './view-context.ts';

export type AnyModel = ModelStatic<Model>;
export type PrimaryKey = string | number;


/**
 * A stream per row of a Sequelize model. `static model = Message` ties the class to its model:
 * every row gets `.stream` (the first ModelStream declared for the model) and saves and deletes
 * call `onSave(instance, created, options)` and `onDelete(instance, options)` on a stream built for
 * that row, after the outermost transaction commits.
 */
export class ModelStream<M extends Model = Model> extends Stream {

    /** The model class, or its name in the plugin's `sequelize` instance. */
    static model?: AnyModel | string;

    /**
     * `true`: every save and destroy of a row sends a debounced `refresh` on the row's stream; a
     * function `(instance) => streamables` refreshes those streams too (refresh.ts).
     */
    static broadcastsRefreshes?: RefreshTargets;

    readonly pk: PrimaryKey;
    #instance: M | undefined;

    constructor(instanceOrPk: M | PrimaryKey | object) {

        const instance = instanceOf(instanceOrPk) as M | undefined;
        const pk = instance ? primaryKeyOf(instance) : instanceOrPk;
        if (typeof pk !== 'string' && typeof pk !== 'number') {
            throw new TypeError(`${new.target.name} needs a saved row or its primary key`);
        }

        super(pk);
        this.pk = pk;
        this.#instance = instance;
    }

    override streamArgs(): readonly unknown[] {

        return [this.pk];
    }

    /** The row, loaded on first use when the stream was rebuilt from a signed name. */
    async instance(): Promise<M | null> {

        if (!this.#instance) {
            const model = (this.constructor as typeof ModelStream).model;
            if (typeof model !== 'function') {
                throw new Error(`${this.constructor.name}.model is not resolved: register the stream with hapi-turbo first`);
            }

            this.#instance = (await model.findByPk(this.pk) ?? undefined) as M | undefined;
        }

        return this.#instance ?? null;
    }

    onSave?(instance: M, created: boolean, options: object): unknown;

    onDelete?(instance: M, options: object): unknown;
}


export type ModelStreamClass = typeof ModelStream & (new (instanceOrPk: never) => ModelStream);


const INTEGER_TYPES = new Set(['INTEGER', 'BIGINT', 'SMALLINT', 'MEDIUMINT', 'TINYINT']);


// PostgreSQL returns BIGINT columns as strings, sqlite as numbers; a stream name must not depend on
// the driver (`RoomStream["1"]` and `RoomStream[1]` are different streams), so integer keys are numbers
const primaryKeyOf = function (instance: Model): PrimaryKey | undefined {

    const model = instance.constructor as AnyModel;
    const pk: unknown = instance.get(model.primaryKeyAttribute);
    const type = (model.getAttributes()[model.primaryKeyAttribute]?.type as { key?: string } | undefined)?.key;
    if (typeof pk === 'string' && type && INTEGER_TYPES.has(type) && /^-?\d+$/.test(pk) && Number.isSafeInteger(Number(pk))) {
        return Number(pk);
    }

    return typeof pk === 'string' || typeof pk === 'number' ? pk : undefined;
};


const HOOK_NAME = 'hapi-turbo';
const STREAM_PROPERTY = 'stream';


// Savepoints are transactions too, and their afterCommit runs when the savepoint is released, before
// the real COMMIT: only the outermost transaction tells when the write is visible to others.
const outermost = function (transaction: Transaction | null | undefined): Transaction | undefined {

    let current = transaction ?? undefined;
    while (current && (current as Transaction & { parent?: Transaction }).parent) {
        current = (current as Transaction & { parent?: Transaction }).parent;
    }

    return current;
};


const afterCommit = async function (options: { transaction?: Transaction | null }, send: () => Promise<void>): Promise<void> {

    const transaction = outermost(options.transaction);
    if (transaction) {
        // Never on rollback. Bound to the write's async context, so the request id and suppression
        // in force when the row was written apply, wherever the COMMIT is issued from.
        transaction.afterCommit(AsyncResource.bind(send));
        return;
    }

    await send();
};


// A row's write, for one stream class: the runtime the class is bound to (none once its server
// stopped) runs the hook body, schedules the refreshes and logs what failed
const runStreamHook = function (cls: ModelStreamClass, instance: Model, call: (stream: ModelStream) => unknown, about: { model: string; event: string }): Promise<void> {

    const runtime = runtimeOf(cls);
    if (!runtime) {
        return Promise.resolve();
    }

    return runtime.runHook(() => {

        const stream = new cls(instance as never);
        return Promise.all([runtime.refreshRow(cls, stream, instance), call(stream)]);
    }, about);
};


/**
 * Installs the Sequelize hooks for every model that has ModelStreams. Hooks are named, so registering
 * again (a new server in the same process) replaces them instead of firing twice.
 */
export const wireModelStreams = function (classes: readonly ModelStreamClass[]): void {

    const byModel = new Map<AnyModel, ModelStreamClass[]>();
    for (const cls of classes) {
        const model = cls.model as AnyModel;
        byModel.set(model, [...byModel.get(model) ?? [], cls]);
    }

    for (const [model, streams] of byModel) {
        if (!model.sequelize) {
            throw new Error(`${model.name} must be initialised (Model.init or sequelize.define) before hapi-turbo is registered`);
        }

        if (STREAM_PROPERTY in model.getAttributes()) {
            throw new Error(`${model.name} has an attribute named "stream", which hapi-turbo needs for the row's stream`);
        }

        const primary = streams[0]!;
        Object.defineProperty(model.prototype, STREAM_PROPERTY, {
            configurable: true,
            get(this: Model) {

                return new primary(this as never);
            }
        });

        type Call = (stream: ModelStream, instance: Model, options: object) => unknown;
        const dispatch = function (event: string, call: Call) {

            return (instance: Model, options: { transaction?: Transaction | null }) => afterCommit(options, async () => {

                await Promise.all(streams.map((cls) => runStreamHook(cls, instance, (stream) => call(stream, instance, options), { model: model.name, event })));
            });
        };

        for (const type of ['afterCreate', 'afterUpdate', 'afterDestroy', 'beforeBulkCreate', 'beforeBulkUpdate', 'beforeBulkDestroy'] as const) {
            model.removeHook(type, HOOK_NAME);
        }

        model.addHook('afterCreate', HOOK_NAME, dispatch('create', (stream, instance, options) => stream.onSave?.(instance, true, options)));
        model.addHook('afterUpdate', HOOK_NAME, dispatch('update', (stream, instance, options) => stream.onSave?.(instance, false, options)));
        model.addHook('afterDestroy', HOOK_NAME, dispatch('destroy', (stream, instance, options) => stream.onDelete?.(instance, options)));

        // Bulk writes skip per-row hooks unless asked; ask, so every row broadcasts like a single save.
        const perRow = (options: { individualHooks?: boolean }) => {

            options.individualHooks = true;
        };

        model.addHook('beforeBulkCreate', HOOK_NAME, (_instances: unknown, options: { individualHooks?: boolean }) => perRow(options));
        model.addHook('beforeBulkUpdate', HOOK_NAME, perRow);
        model.addHook('beforeBulkDestroy', HOOK_NAME, perRow);
    }
};
