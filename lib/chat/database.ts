import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

import { Sequelize } from 'sequelize';

export const IN_MEMORY = ':memory:';


/**
 * The sqlite storage a DATABASE_URL names: "sqlite::memory:", "sqlite:data/chat.sqlite" (relative to
 * the working directory) or "sqlite:///var/lib/chat.sqlite". Parsed here rather than handed to
 * Sequelize, whose URL parsing of "sqlite::memory:" triggers a Node deprecation warning.
 */
export const storageOf = function (databaseUrl: string): string {

    const match = /^sqlite:(.*)$/.exec(databaseUrl);
    if (!match) {
        const scheme = /^([a-z][\w+.-]*):/i.exec(databaseUrl)?.[1] ?? 'none';
        throw new Error(`DATABASE_URL must be "sqlite:<path>" or "sqlite::memory:" (got scheme "${scheme}")`);
    }

    const location = match[1]!;
    if (location === IN_MEMORY) {
        return IN_MEMORY;
    }

    const path = location.startsWith('//') ? location.slice(2) : location;
    if (!path) {
        throw new Error('DATABASE_URL "sqlite:" needs a file path, or ":memory:"');
    }

    return resolve(path);
};


export const openDatabase = async function (storage: string): Promise<Sequelize> {

    if (storage !== IN_MEMORY) {
        await mkdir(dirname(storage), { recursive: true });
    }

    return new Sequelize({ dialect: 'sqlite', storage, logging: false });
};
