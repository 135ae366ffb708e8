import { randomBytes } from 'node:crypto';

import { Sequelize } from 'sequelize';

// A fresh database per fixture, on the PostgreSQL server that TEST_DATABASE_URL names (scripts/
// with-postgres.ts starts one for `npm run test:postgres`); without it the fixtures keep using a
// sqlite file.


export interface TestDatabase {
    dialect: 'postgres' | 'sqlite';
    /** A DATABASE_URL for the chat app: postgres://… or sqlite:<file>. */
    url: string;
    /** A new Sequelize on the database, without logging. */
    open(): Sequelize;
    /** Drops a PostgreSQL database (its connections must be closed); a sqlite file is left to its directory's owner. */
    drop(): Promise<void>;
}


// Server-wide statements (CREATE and DROP DATABASE) go through a short-lived connection of their own
const onServer = async function (serverUrl: string, work: (admin: Sequelize, major: number) => Promise<unknown>): Promise<void> {

    const admin = new Sequelize(serverUrl, { dialect: 'postgres', logging: false, pool: { max: 1 } });
    try {
        await work(admin, parseInt(await admin.databaseVersion(), 10));
    }
    finally {
        await admin.close();
    }
};


/**
 * A fresh, empty database for one fixture. With TEST_DATABASE_URL (a PostgreSQL server, any
 * database on it, as a role that may create databases) that is a new database "hapi_turbo_<random>"
 * on that server, so tests never see each other's rows; otherwise the sqlite file `sqliteFile`.
 */
export const testDatabase = async function (sqliteFile: string): Promise<TestDatabase> {

    const serverUrl = process.env.TEST_DATABASE_URL;
    if (!serverUrl) {
        return {
            dialect: 'sqlite',
            url: `sqlite:${sqliteFile}`,
            open: () => new Sequelize({ dialect: 'sqlite', storage: sqliteFile, logging: false }),
            drop: async () => {}
        };
    }

    const name = `hapi_turbo_${randomBytes(6).toString('hex')}`;

    // FILE_COPY (PostgreSQL 15+) copies the template's files instead of logging every page: in
    // memory and with fsync off, about twice as fast, and the specs make a database per test
    await onServer(serverUrl, (admin, major) => admin.query(`CREATE DATABASE ${name}${major >= 15 ? ' STRATEGY = FILE_COPY' : ''}`));

    const url = new URL(serverUrl);
    url.pathname = `/${name}`;

    return {
        dialect: 'postgres',
        url: url.href,
        open: () => new Sequelize(url.href, { dialect: 'postgres', logging: false }),
        drop: () => onServer(serverUrl, (admin, major) => admin.query(`DROP DATABASE IF EXISTS ${name}${major >= 13 ? ' WITH (FORCE)' : ''}`))
    };
};

