// `npm start`: serves the chat on http://localhost:3000.
// PORT, HOST, DATABASE_URL ("sqlite:<path>" or "sqlite::memory:") and SECRET override the defaults;
// without SECRET a development key is generated once and kept in data/secret.

import { createServer } from './server.ts';


const main = async function (): Promise<void> {

    const { server } = await createServer({
        port: process.env.PORT ?? 3000,
        host: process.env.HOST ?? 'localhost',
        databaseUrl: process.env.DATABASE_URL || undefined,
        secret: process.env.SECRET || undefined
    });

    await server.start();
    console.log(`Chat is running at ${server.info.uri}`);

    const stop = async (signal: NodeJS.Signals) => {

        console.log(`${signal}: stopping`);
        await server.stop({ timeout: 5000 });
        process.exit(0);
    };

    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
};


main().catch((error: unknown) => {

    console.error(error);
    process.exit(1);
});
