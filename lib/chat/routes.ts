import { fileURLToPath } from 'node:url';

import Boom from '@hapi/boom';
import type { Request, ResponseToolkit, ServerRoute } from '@hapi/hapi';
import { ForeignKeyConstraintError, type Attributes, type FindOptions } from 'sequelize';

import { TurboStream } from 'hapi-turbo';
import { idParam, invalidForm, shortText, textField, validationMessages } from './forms.ts';
import { Message, Room } from './models.ts';
import { BroadcastStream, RoomListStream } from './streams.ts';
import { visitorOf } from './auth.ts';
import { AlertComponent, countClick, CounterComponent } from './components.ts';

const STATIC = fileURLToPath(new URL('../../static/chat/', import.meta.url));


const findRoom = async function (param: unknown, options: Omit<FindOptions<Attributes<Room>>, 'where'> = {}): Promise<Room> {

    const room = await Room.findByPk(idParam(param, 'Room'), options);
    if (!room) {
        throw Boom.notFound('Room not found');
    }

    return room;
};


const findMessage = async function (param: unknown): Promise<Message> {

    const message = await Message.findByPk(idParam(param, 'Message'));
    if (!message) {
        throw Boom.notFound('Message not found');
    }

    return message;
};


// Turbo asks for a stream reply on form submissions; anything else is sent back to a page
const streamOrRedirect = function (request: Request, h: ResponseToolkit, location: string, ...fragments: Parameters<ResponseToolkit['turboStream']>) {

    return request.acceptsTurboStream ? h.turboStream(...fragments) : h.redirect(location).code(303);
};


const freshForm = (id: string, template: string) => TurboStream.replace({ id }, { template, context: {} });


const roomRoutes: ServerRoute[] = [
    {
        method: 'GET',
        path: '/',
        handler: async (request, h) => {

            const rooms = await Room.findAll({ order: [['id', 'ASC']] });
            return h.view('chat/room_list', { title: 'Rooms', rooms });
        }
    },
    {
        method: 'POST',
        path: '/',
        handler: async (request, h) => {

            const name = textField(request, 'name');
            try {
                await Room.create({ name });                        // RoomStream.onSave adds it to every room list
            }
            catch (error) {
                return invalidForm(h, 'chat/components/create_room_form', { name }, validationMessages(error));
            }

            return streamOrRedirect(request, h, '/', freshForm('create-room-form', 'chat/components/create_room_form'));
        }
    },
    {
        method: 'POST',
        path: '/rooms/delete_all',
        handler: async (request, h) => {

            await Room.destroy({ where: {} });                      // Their messages go with them (ON DELETE CASCADE)
            await new RoomListStream().deleteAll();
            return streamOrRedirect(request, h, '/', freshForm('create-room-form', 'chat/components/create_room_form'));
        }
    },
    {
        method: 'GET',
        path: '/{roomId}/',
        handler: async (request, h) => {

            const room = await findRoom(request.params.roomId, {
                include: [{ model: Message, as: 'messages' }],
                order: [[{ model: Message, as: 'messages' }, 'createdAt', 'ASC'], [{ model: Message, as: 'messages' }, 'id', 'ASC']]
            });

            return h.view('chat/room_detail', { title: room.name, room });
        }
    }
];


const messageRoutes: ServerRoute[] = [
    {
        method: 'GET',
        path: '/{roomId}/message_create',
        handler: async (request, h) => {

            const room = await findRoom(request.params.roomId);
            return h.view('chat/components/send_message_form', { room }, { layout: false });
        }
    },
    {
        method: 'POST',
        path: '/{roomId}/message_create',
        handler: async (request, h) => {

            // No lookup first: the foreign key tells an unknown room, and a message costs one query
            const room = { id: idParam(request.params.roomId, 'Room') };
            const text = textField(request, 'text');
            try {
                await Message.create({ roomId: room.id, text });   // MessageStream.onSave appends it in every window
            }
            catch (error) {
                if (error instanceof ForeignKeyConstraintError) {
                    throw Boom.notFound('Room not found');
                }

                return invalidForm(h, 'chat/components/send_message_form', { room, text }, validationMessages(error));
            }

            // Back to an empty form: inside its turbo-frame this clears the input without a page load
            return h.redirect(`/${room.id}/message_create`).code(303);
        }
    },
    {
        method: 'GET',
        path: '/message/{messageId}/edit',
        handler: async (request, h) => {

            const message = await findMessage(request.params.messageId);
            return h.view('chat/components/edit_message_form', { message, text: message.text }, { layout: false });
        }
    },
    {
        method: 'POST',
        path: '/message/{messageId}/edit',
        handler: async (request, h) => {

            const message = await findMessage(request.params.messageId);
            const text = textField(request, 'text');
            try {
                await message.update({ text });                     // MessageStream.onSave replaces it in every window
            }
            catch (error) {
                return invalidForm(h, 'chat/components/edit_message_form', { message, text }, validationMessages(error));
            }

            // The same replace, for this window: it closes the form even when nothing changed
            const fragment = TurboStream.replace({ id: `message-${message.id}` }, { template: 'chat/components/message', context: { message } }, { method: 'morph' });
            return streamOrRedirect(request, h, `/${message.roomId}/`, fragment);
        }
    },
    {
        method: 'POST',
        path: '/message/{messageId}/delete',
        handler: async (request, h) => {

            const message = await findMessage(request.params.messageId);
            await message.destroy();                                // MessageStream.onDelete removes it in every window
            return streamOrRedirect(request, h, `/${message.roomId}/`, TurboStream.remove({ id: `message-${message.id}` }));
        }
    }
];


const broadcastRoutes: ServerRoute[] = [
    {
        method: 'GET',
        path: '/broadcast',
        handler: (request, h) => h.view('chat/broadcast', { title: 'Broadcast box' })
    },
    {
        method: 'POST',
        path: '/broadcast',
        options: { pre: [shortText('chat/components/broadcast_form')] },
        handler: async (request, h) => {

            await new BroadcastStream().update({ text: request.pre.text }, { id: 'broadcast_box' });      // { text } is escaped
            return streamOrRedirect(request, h, '/broadcast', freshForm('broadcast-form', 'chat/components/broadcast_form'));
        }
    }
];


const componentRoutes: ServerRoute[] = [
    {
        method: 'GET',
        path: '/components',
        handler: (request, h) => h.view('chat/component_demo', { title: 'Components', visitor: visitorOf(request, h) })
    },
    {
        method: 'POST',
        path: '/components/alert',
        options: { pre: [shortText('chat/components/alert_form')] },
        handler: async (request, h) => {

            await new AlertComponent().show(request.pre.text);
            return streamOrRedirect(request, h, '/components', freshForm('alert-form', 'chat/components/alert_form'));
        }
    },
    {
        method: 'POST',
        path: '/components/counter',
        options: { auth: { mode: 'required' } },                   // Only a visitor the page has met has a counter
        handler: async (request, h) => {

            const visitor = visitorOf(request, h);
            await new CounterComponent(visitor).render({ count: countClick(visitor.id) });
            return streamOrRedirect(request, h, '/components', freshForm('counter-form', 'chat/components/counter_form'));
        }
    }
];


const staticRoutes: ServerRoute[] = [
    {
        method: 'GET',
        path: '/static/chat/{path*}',
        options: {
            plugins: { crumb: false },
            handler: { directory: { path: STATIC, listing: false, index: false } }
        }
    }
];


export const routes: ServerRoute[] = [...roomRoutes, ...messageRoutes, ...broadcastRoutes, ...componentRoutes, ...staticRoutes];
