import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import Handlebars from 'handlebars';
import { DataTypes, Model } from 'sequelize';

import { instanceOf, toViewContext } from '../../lib/turbo/view-context.ts';
import { testDatabase } from '../support/postgres.ts';


describe('toViewContext()', () => {

    it('lets Handlebars read model attributes, at any depth, and keeps the link to the row', async () => {

        // Rows as the database under test returns them: PostgreSQL with TEST_DATABASE_URL
        const dir = await mkdtemp(join(tmpdir(), 'hapi-turbo-'));
        const database = await testDatabase(join(dir, 'test.sqlite'));
        const sequelize = database.open();
        class Room extends Model {}
        class Message extends Model {}
        Room.init({ name: DataTypes.STRING }, { sequelize });
        Message.init({ text: DataTypes.STRING }, { sequelize });
        Room.hasMany(Message, { as: 'messages', foreignKey: 'roomId' });
        Message.belongsTo(Room, { as: 'room', foreignKey: 'roomId' });
        await sequelize.sync();

        const room = await Room.create({ name: 'Lobby' });
        await Message.create({ text: 'hi', roomId: room.get('id') });
        const loaded = await Room.findByPk(room.get('id') as number, { include: ['messages'] });
        const template = Handlebars.create().compile('{{room.name}}:{{#each room.messages}}{{text}}{{/each}}');

        assert.equal(template({ room: loaded }), ':', 'unconverted instances render empty (prototype access protection)');
        const context = toViewContext({ room: loaded, when: new Date(0), list: [1, 2] });
        assert.equal(template(context), 'Lobby:hi');
        assert.equal(instanceOf(context.room), loaded);
        assert.ok(context.when instanceof Date);
        assert.deepEqual(context.list, [1, 2]);
        await sequelize.close();
        await database.drop();
        await rm(dir, { recursive: true, force: true });
    });

    it('copies cycles without looping', () => {

        const a: Record<string, unknown> = { name: 'a' };
        a.self = a;
        const copy = toViewContext(a);
        assert.equal(copy.self, copy);
        assert.notEqual(copy, a);
    });
});
