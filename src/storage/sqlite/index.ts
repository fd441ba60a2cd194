export { openSqliteStorage, type SqliteOptions, type SqliteStorage, type SqliteLedgerStore, type SqliteDurability } from './store.js';
