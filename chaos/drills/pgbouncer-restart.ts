// PgBouncer restart: the pooler between the instances and PostgreSQL stopped (SIGINT: it closes every client and
// server connection at once) under steady load with keyed writes, down for a while, then started again on the
// same port; PostgreSQL runs throughout (a restart drill, restart.ts). Needs the cluster started with `pooler`
// (run.ts gives this drill a cluster of its own). The bounds are postgres-restart's: casebook's pool waits at most
// 1 s for a connection and a statement runs at most 2 s (the role's default behind the pooler); a stopped PgBouncer
// refuses connections at once, and it opens its server connections to a PostgreSQL that never went away.

import type { Drill } from '../drill.ts';
import { restartDrill } from './restart.ts';

export const pgbouncerRestart: Drill & { cluster: { pooler: true } } = {
  ...restartDrill({
    name: 'pgbouncer-restart',
    proves:
      'PgBouncer stopped and started again (same port), PostgreSQL up throughout: only 2xx or 503 + Retry-After, none slower than the pool bounds, no write lost, all 2xx again ≤ 5 s after it accepts connections',
    server: 'PgBouncer',
    how: 'stopped (SIGINT)',
    of: (cluster) => {
      if (!cluster.pgbouncer)
        throw new Error('pgbouncer-restart needs a cluster started with { pooler: true }');
      return cluster.pgbouncer;
    },
    writeIds: (cluster) => cluster.caseIds.slice(65, 75),
  }),
  cluster: { pooler: true },
};
