// The error a `headroom db` subcommand throws for a bad flag or input file: exit 2, naming it (db/command.ts).
// Its own module, so the subcommands can import it without importing the dispatcher that imports them.

/** A bad flag or input file: exit 2, naming it. */
export class DbUsageError extends Error {}
