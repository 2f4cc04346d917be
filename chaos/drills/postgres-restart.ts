// PostgreSQL restart: the database stopped (fast shutdown) under steady load with keyed writes, down for a while,
// then started again on the same port and data directory (a restart drill, restart.ts).

import { restartDrill } from './restart.ts';

export const postgresRestart = restartDrill({
  name: 'postgres-restart',
  proves:
    'PostgreSQL stopped and started again (same port and data): only 2xx or 503 + Retry-After, none slower than the pool bounds, no write lost, all 2xx again ≤ 5 s after it accepts connections',
  server: 'PostgreSQL',
  how: 'fast shutdown (SIGINT)',
  of: (cluster) => cluster.postgres,
  writeIds: (cluster) => cluster.caseIds.slice(55, 65),
});
