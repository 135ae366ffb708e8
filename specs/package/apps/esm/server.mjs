// A plain ESM app on PostgreSQL. Rows are only built, never saved: nothing here connects to a
// database, yet rows, their model streams and the page's subscriptions go through the app's Sequelize.
import Hapi from '@hapi/hapi';
import Vision from '@hapi/vision';
import Handlebars from 'handlebars';
import { DataTypes, Model, Sequelize } from 'sequelize';
import HapiTurbo, { ModelStream, Stream, TurboStream } from 'hapi-turbo';

const sequelize = new Sequelize('postgres://nobody@127.0.0.1:9/none', { logging: false });
class Note extends Model {}
Note.init({ text: DataTypes.STRING }, { sequelize, modelName: 'Note' });

class BoardStream extends Stream {}
class NoteStream extends ModelStream {
    static model = Note;
}

const server = Hapi.server({ host: '127.0.0.1', port: 0 });
await server.register(Vision);
server.views({ engines: { html: Handlebars }, relativeTo: import.meta.dirname, path: 'views' });
await server.register({ plugin: HapiTurbo, options: { secret: 'an-esm-app-secret-that-is-long-enough', sequelize, streams: { notes: [BoardStream, NoteStream] } } });

const note = Note.build({ id: 7, text: 'first' });
server.route({ method: 'GET', path: '/', handler: (request, h) => h.view('board', { note }) });
server.route({
    method: 'POST',
    path: '/broadcast',
    handler: async () => {

        await new BoardStream().append('note', { note: { text: 'hello from esm' } }, { id: 'notes' });
        await server.turbo.broadcast(note, TurboStream.update({ id: 'note_7' }, { text: 'edited' }));
        return 'sent';
    }
});

await server.start();
console.log(server.info.uri);
