// sqlcommenter comments for a database layer to append to its statements. The one implementation, writer and
// reader together, is @headroom/core/db's; this package re-exports the writer beside `currentRoute()`.

export { sqlComment } from '@headroom/core/db';
