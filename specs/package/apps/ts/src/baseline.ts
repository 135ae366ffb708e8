// The same host libraries without hapi-turbo: what tsc says about their own declarations.
import Hapi from '@hapi/hapi';
import Vision from '@hapi/vision';
import Handlebars from 'handlebars';
import { Sequelize } from 'sequelize';

export const libraries = [Hapi, Vision, Handlebars, Sequelize];
