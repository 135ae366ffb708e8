// A TypeScript app compiled by tsc and run by node, with the strictest flags an app may choose.
import Hapi from '@hapi/hapi';
import Vision from '@hapi/vision';
import Handlebars from 'handlebars';
import { DataTypes, Model, Sequelize, type CreationOptional, type InferAttributes, type InferCreationAttributes, type NonAttribute } from 'sequelize';
import HapiTurbo, { ModelStream, Stream, TurboStream, type HapiTurboOptions } from 'hapi-turbo';

const sequelize = new Sequelize('postgres://nobody@127.0.0.1:9/none', { logging: false });

class Note extends Model<InferAttributes<Note>, InferCreationAttributes<Note>> {
    declare id: CreationOptional<number>;
    declare text: string;
    declare readonly stream: NonAttribute<NoteStream>;
}

Note.init({ id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true }, text: DataTypes.STRING }, { sequelize, modelName: 'Note' });

class BoardStream extends Stream {}
class NoteStream extends ModelStream<Note> {
    static override model = Note;
}

const options: HapiTurboOptions = { secret: 'a-typescript-app-secret-that-is-long-enough', sequelize, streams: { notes: [BoardStream, NoteStream] } };
const server = Hapi.server({ host: '127.0.0.1', port: 0 });
await server.register(Vision);
server.views({ engines: { html: Handlebars }, relativeTo: import.meta.dirname, path: '../views' });
await server.register({ plugin: HapiTurbo, options });

const note = Note.build({ id: 7, text: 'first' });
server.route({ method: 'GET', path: '/', handler: (request, h) => h.view('board', { note, turbo: request.acceptsTurboStream }) });
server.route({
    method: 'POST',
    path: '/broadcast',
    handler: async (request, h) => {

        await new BoardStream().append('note', { note: { text: 'hello from typescript' } }, { id: 'notes' });
        await server.turbo.broadcast(note.stream, TurboStream.update({ id: 'note_7' }, { text: 'edited' }));
        return request.acceptsTurboStream ? h.turboStream(TurboStream.remove({ id: 'form' })) : 'sent';
    }
});

await server.start();
console.log(server.info.uri);
