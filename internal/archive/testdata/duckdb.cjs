// Reads an archive's Parquet files with DuckDB (an independent reader)
// and prints each event as a JSON line, for archive_test.go to compare
// with the store. Usage: node duckdb.cjs '<glob of parquet files>'
const path = require('path');
const { DuckDBInstance } = require(path.join(process.env.NODE_PATH, '@duckdb/node-api'));

(async () => {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const glob = process.argv[2].replaceAll("'", "''");
  const reader = await conn.runAndReadAll(`
    SELECT id, source_id, type, message_id, profile_id, session_id, user_id, anonymous_id,
           epoch_us(timestamp)::VARCHAR AS timestamp_us, epoch_ns(received_at)::VARCHAR AS received_ns,
           properties::VARCHAR AS properties, context::VARCHAR AS context, traits::VARCHAR AS traits,
           tags, request_id, source AS partition_source, date::VARCHAR AS partition_date, hour AS partition_hour
    FROM read_parquet('${glob}', hive_partitioning = true, hive_types_autocast = false)
    ORDER BY id`);
  for (const row of reader.getRowObjectsJson()) {
    process.stdout.write(JSON.stringify(row) + '\n');
  }
})().catch((e) => { console.error(e); process.exit(1); });
