import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Hapi from '@hapi/hapi';
import Vision from '@hapi/vision';
import Handlebars from 'handlebars';
import { DataTypes, Model, Sequelize, type CreationOptional, type InferAttributes, type InferCreationAttributes } from 'sequelize';

import HapiTurbo, { ModelStream, Stream, TurboStream } from 'hapi-turbo';

// A second app for the browser harness, not the chat: a notice board where people sign in by name
// and post notes, each note appended live to every open board. It is what a user's own app looks
// like to hapi-turbo/playwright: a factory that builds a hapi server, not started, on the host and
// port it is given.

const VIEWS = fileURLToPath(new URL('./views/', import.meta.url));
const SECRET = 'a-board-secret-that-is-long-enough-to-sign';
const USER_COOKIE = 'board-user';


export const createBoard = async function ({ host, port }: { host: string; port: number }) {

    const dir = await mkdtemp(join(tmpdir(), 'hapi-turbo-board-'));
    const sequelize = new Sequelize({ dialect: 'sqlite', storage: join(dir, 'board.sqlite'), logging: false });

    class Note extends Model<InferAttributes<Note>, InferCreationAttributes<Note>> {
        declare id: CreationOptional<number>;
        declare author: string;
        declare text: string;
    }

    Note.init({
        id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
        author: { type: DataTypes.STRING, allowNull: false },
        text: { type: DataTypes.STRING, allowNull: false }
    }, { sequelize, modelName: 'Note' });
    await sequelize.sync();

    /** Every board page listens to it: `{{turbo_subscribe "board:BoardStream"}}`. */
    class BoardStream extends Stream {}

    class NoteStream extends ModelStream<Note> {
        static override model = Note;

        override async onSave(note: Note, created: boolean) {

            if (created) {
                await new BoardStream().append('board/note', { note }, { id: 'notes' });
            }
        }
    }

    const server = Hapi.server({ host, port });
    await server.register(Vision);
    server.views({ engines: { html: Handlebars.create() }, path: VIEWS, partialsPath: VIEWS });
    await server.register({ plugin: HapiTurbo, options: { secret: SECRET, sequelize, streams: { board: [BoardStream, NoteStream] } } });

    server.state(USER_COOKIE, { path: '/', isSecure: false, isHttpOnly: true, isSameSite: 'Lax', encoding: 'none', strictHeader: true });
    const userOf = (request: Hapi.Request) => {

        const name = request.state[USER_COOKIE] as unknown;
        return typeof name === 'string' && /^\w{1,20}$/.test(name) ? name : null;
    };

    server.route([
        {
            method: 'GET',
            path: '/sign-in/{name}',
            handler: (request, h) => {

                const name = String(request.params.name);
                if (!/^\w{1,20}$/.test(name)) {
                    return h.response('a name is 1 to 20 letters, digits or _').code(400);
                }

                return h.redirect('/').state(USER_COOKIE, name);
            }
        },
        {
            method: 'GET',
            path: '/',
            handler: async (request, h) => h.view('board/index', { user: userOf(request), notes: await Note.findAll({ order: [['id', 'ASC']] }) })
        },
        {
            method: 'POST',
            path: '/notes',
            handler: async (request, h) => {

                const user = userOf(request);
                const text = String((request.payload as { text?: unknown } | null)?.text ?? '').trim();
                if (!user || !text) {
                    return h.response(user ? 'a note needs text' : 'sign in first').code(user ? 422 : 401);
                }

                await Note.create({ author: user, text });
                // The note reaches this window through the board's stream, as it reaches the others;
                // the answer only gives back an empty form
                if (request.acceptsTurboStream) {
                    return h.turboStream(TurboStream.replace({ id: 'note-form' }, { template: 'board/form', context: {} }));
                }

                return h.redirect('/').code(303);
            }
        }
    ]);

    return {
        server,
        sequelize,
        Note,
        async close() {

            await sequelize.close();
            await rm(dir, { recursive: true, force: true });
        }
    };
};
