// A CommonJS app: require() loads hapi-turbo, an ES module, through Node's require(esm).
'use strict';

const Hapi = require('@hapi/hapi');
const Vision = require('@hapi/vision');
const Handlebars = require('handlebars');
const { DataTypes, Model, Sequelize } = require('sequelize');
const { plugin: HapiTurbo, ModelStream, Stream, TurboStream } = require('hapi-turbo');

const sequelize = new Sequelize('postgres://nobody@127.0.0.1:9/none', { logging: false });
class Note extends Model {}
Note.init({ text: DataTypes.STRING }, { sequelize, modelName: 'Note' });

class BoardStream extends Stream {}
class NoteStream extends ModelStream {
    static model = Note;
}

const main = async function () {

    const server = Hapi.server({ host: '127.0.0.1', port: 0 });
    await server.register(Vision);
    server.views({ engines: { html: Handlebars }, relativeTo: __dirname, path: 'views' });
    await server.register({ plugin: HapiTurbo, options: { secret: 'a-commonjs-app-secret-that-is-long-enough', sequelize, streams: { notes: [BoardStream, NoteStream] } } });

    const note = Note.build({ id: 7, text: 'first' });
    server.route({ method: 'GET', path: '/', handler: (request, h) => h.view('board', { note }) });
    server.route({
        method: 'POST',
        path: '/broadcast',
        handler: async () => {

            await new BoardStream().append('note', { note: { text: 'hello from commonjs' } }, { id: 'notes' });
            await server.turbo.broadcast(note, TurboStream.update({ id: 'note_7' }, { text: 'edited' }));
            return 'sent';
        }
    });

    await server.start();
    console.log(server.info.uri);
};

main().catch((error) => {

    console.error(error);
    process.exit(1);
});
