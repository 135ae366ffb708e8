import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

import { Sequelize } from 'sequelize';

export const IN_MEMORY = ':memory:';

export type DatabaseConfig =
    | { dialect: 'sqlite'; storage: string }
    | { dialect: 'postgres'; url: string };

const FORMS = '"sqlite:<path>", "sqlite::memory:" or "postgres://user:password@host:port/database"';


// Error messages name the scheme only: the rest of a URL may hold a password. Without "//" after
// it, "user:password@host" would pass for a scheme named after the user, so it is not named.
const schemeOf = function (databaseUrl: string): string {

    const match = /^([a-z][\w+.-]*):(\/\/)?/i.exec(databaseUrl);
    return match && (match[2] || !databaseUrl.includes('@')) ? match[1]! : 'none';
};


/**
 * The sqlite storage a DATABASE_URL names: "sqlite::memory:", "sqlite:data/chat.sqlite" (relative to
 * the working directory) or "sqlite:///var/lib/chat.sqlite". Parsed here rather than handed to
 * Sequelize, whose URL parsing of "sqlite::memory:" triggers a Node deprecation warning.
 */
export const storageOf = function (databaseUrl: string): string {

    const match = /^sqlite:(.*)$/.exec(databaseUrl);
    if (!match) {
        throw new Error(`DATABASE_URL must be ${FORMS} (got scheme "${schemeOf(databaseUrl)}")`);
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


/** What a DATABASE_URL names: a sqlite file (or memory), or a PostgreSQL database ("postgres://" or "postgresql://"). */
export const databaseOf = function (databaseUrl: string): DatabaseConfig {

    const scheme = schemeOf(databaseUrl).toLowerCase();
    if (scheme !== 'postgres' && scheme !== 'postgresql') {
        return { dialect: 'sqlite', storage: storageOf(databaseUrl) };
    }

    // URL's own error carries the whole input, password included, so it is replaced, not wrapped.
    // Sequelize decodes the user and password: bad %-escapes there are caught here too.
    try {
        const url = new URL(databaseUrl);
        decodeURIComponent(url.username);
        decodeURIComponent(url.password);
    }
    catch {
        throw new Error(`DATABASE_URL is not a valid ${scheme}:// URL`);
    }

    return { dialect: 'postgres', url: databaseUrl };
};


export const openDatabase = async function (databaseUrl: string): Promise<Sequelize> {

    const config = databaseOf(databaseUrl);
    if (config.dialect === 'postgres') {
        // Sequelize parses the URL again, with Node's legacy parser, whose errors echo it as well
        try {
            return new Sequelize(config.url, { dialect: 'postgres', logging: false });
        }
        catch (error) {
            if (error instanceof TypeError || error instanceof URIError) {
                throw new Error('DATABASE_URL is not a URL that Sequelize can read');
            }

            throw error;
        }
    }

    if (config.storage === IN_MEMORY) {
        return new Sequelize({ dialect: 'sqlite', storage: config.storage, logging: false });
    }

    await mkdir(dirname(config.storage), { recursive: true });
    const sequelize = new Sequelize({ dialect: 'sqlite', storage: config.storage, logging: false });
    await tuneSqlite(sequelize);
    return sequelize;
};


/**
 * A sqlite file in write-ahead-log mode: a commit appends to the log instead of rewriting pages
 * through a rollback journal, readers do not block the writer, and with synchronous=NORMAL a commit
 * does not wait for an fsync (the log is synced at checkpoints; a power cut may lose the last
 * commits, never the file). journal_mode is kept in the file; synchronous is a setting of the
 * connection, here Sequelize's default one, which every write outside an explicit transaction uses
 * (its sqlite dialect opens a connection per transaction, which keeps sqlite's FULL).
 */
export const tuneSqlite = async function (sequelize: Sequelize): Promise<void> {

    await sequelize.query('PRAGMA journal_mode=WAL');
    await sequelize.query('PRAGMA synchronous=NORMAL');
};


// Any fixed number: it names the lock, and advisory locks are per database
const SETUP_LOCK = 72_616_265;


/**
 * Runs `setup` (create the tables, seed) while no other app server on the same database does. Scaled
 * out, several start at once on one PostgreSQL database, where concurrent CREATE TABLE IF NOT EXISTS
 * fail and each would seed the empty database. The lock is held by a transaction of its own and
 * released when it ends. sqlite is left as it was: there, Sequelize gives each transaction a
 * connection of its own, and the file lock such a transaction holds would keep out `setup` itself.
 */
export const oneAtATime = async function (sequelize: Sequelize, setup: () => Promise<void>): Promise<void> {

    if (sequelize.getDialect() !== 'postgres') {
        return await setup();
    }

    await sequelize.transaction(async (transaction) => {

        await sequelize.query('SELECT pg_advisory_xact_lock(:key)', { replacements: { key: SETUP_LOCK }, transaction });
        await setup();
    });
};
