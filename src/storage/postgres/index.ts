export { openPostgresStorage, type PostgresOptions, type PostgresStorage, type PostgresLedgerStore, type PostgresDurability } from './store.js';
