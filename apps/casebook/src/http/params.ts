// Path parameters shared by every resource route: an id is what an `integer` column can hold.

import { Type } from 'typebox';

/** A row id: 1 to 2^31−1, the range of PostgreSQL `integer`; anything else is a 400 before any SQL. */
export const Id = Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 });

/** `/:id` of a resource route. */
export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });
