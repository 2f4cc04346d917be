export type {
  Leaderboard,
  LeaderboardOptions,
  LeaderboardQuery,
  SqlClient,
} from './leaderboard.ts';
export { queryLeaderboard, StatStatementsMissingError } from './leaderboard.ts';
export type { Attribution, CatalogueQuery, RouteAttribution } from './route-attribution.ts';
export { routeAttributor } from './route-attribution.ts';
export type { SqlTags } from './sql-comment.ts';
export { parseSqlComment, sqlComment, withoutSqlComment } from './sql-comment.ts';
