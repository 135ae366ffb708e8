import { DataTypes, Model, type BelongsToGetAssociationMixin, type CreationOptional, type ForeignKey, type InferAttributes, type InferCreationAttributes, type NonAttribute, type Sequelize } from 'sequelize';

import type { RoomStream } from './streams.ts';

export const TEXT_MAX_LENGTH = 255;


export class Room extends Model<InferAttributes<Room>, InferCreationAttributes<Room>> {
    declare id: CreationOptional<number>;
    declare name: string;
    declare messages?: NonAttribute<Message[]>;
    declare readonly stream: NonAttribute<RoomStream>;
}


export class Message extends Model<InferAttributes<Message>, InferCreationAttributes<Message>> {
    declare id: CreationOptional<number>;
    declare roomId: ForeignKey<Room['id']>;
    declare text: string;
    declare createdAt: CreationOptional<Date>;
    declare getRoom: BelongsToGetAssociationMixin<Room>;
}


// Whitespace-only input counts as empty: notEmpty rejects it, and handlers trim before saving
const requiredText = function (label: string) {

    return {
        type: DataTypes.STRING(TEXT_MAX_LENGTH),
        allowNull: false,
        validate: {
            notNull: { msg: `${label} is required.` },
            notEmpty: { msg: `${label} cannot be empty.` },
            len: { args: [0, TEXT_MAX_LENGTH] as [number, number], msg: `${label} must be at most ${TEXT_MAX_LENGTH} characters long.` }
        }
    };
};


/**
 * Binds the models to a database. The classes live at module level so streams.ts can name them
 * (`static model = Room`); a new server in the same process binds them again.
 */
export const initModels = function (sequelize: Sequelize) {

    Room.init({
        id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
        name: requiredText('Room name')
    }, { sequelize, modelName: 'Room', timestamps: false });

    Message.init({
        id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
        text: requiredText('Message'),
        createdAt: DataTypes.DATE
    }, { sequelize, modelName: 'Message', updatedAt: false });

    // The database removes a room's messages with it
    const foreignKey = { name: 'roomId', allowNull: false };
    Room.hasMany(Message, { as: 'messages', foreignKey, onDelete: 'CASCADE' });
    Message.belongsTo(Room, { as: 'room', foreignKey, onDelete: 'CASCADE' });

    return { Room, Message };
};
