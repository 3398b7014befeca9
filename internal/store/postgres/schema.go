package postgres

import "github.com/switchyardhq/switchyard/internal/store/relational"

// migrations change the schema in order; schema_migrations records those
// applied. Append only. Times are Unix nanoseconds (bigint), as in the
// SQLite store, so that both return times to the nanosecond.
var migrations = []string{
	// 1: the whole schema of the first release on PostgreSQL.
	`CREATE TABLE events (
		id           text NOT NULL,
		source_id    text NOT NULL,
		message_id   text,
		type         text NOT NULL,
		profile_id   text,
		session_id   text,
		anonymous_id text,
		timestamp    bigint NOT NULL,
		received_at  bigint NOT NULL,
		request_id   text,
		body         bytea NOT NULL,
		PRIMARY KEY (id, received_at)
	) PARTITION BY RANGE (received_at);
	CREATE TABLE events_default PARTITION OF events DEFAULT;
	CREATE INDEX events_source ON events (source_id, id);
	CREATE INDEX events_type ON events (type, id);
	CREATE INDEX events_profile ON events (profile_id, id) WHERE profile_id IS NOT NULL;
	CREATE INDEX events_session ON events (session_id, id) WHERE session_id IS NOT NULL;
	CREATE INDEX events_anonymous ON events (anonymous_id, received_at) WHERE anonymous_id IS NOT NULL AND profile_id IS NULL;

	-- A client's message id is unique per source for as long as its event
	-- is kept; partitioned tables cannot hold such a key, so it has its
	-- own table, trimmed with the partitions.
	CREATE TABLE event_messages (
		source_id   text NOT NULL,
		message_id  text NOT NULL,
		received_at bigint NOT NULL,
		PRIMARY KEY (source_id, message_id)
	);
	CREATE INDEX event_messages_received ON event_messages (received_at);

	CREATE TABLE raw_requests (
		id          text PRIMARY KEY,
		received_at bigint NOT NULL,
		method      text NOT NULL,
		path        text NOT NULL,
		remote_addr text NOT NULL,
		header      text NOT NULL,
		body        bytea,
		body_size   bigint NOT NULL,
		truncated   boolean NOT NULL
	);
	CREATE INDEX raw_requests_received ON raw_requests (received_at);

	CREATE TABLE profiles (
		id               text PRIMARY KEY,
		version          bigint NOT NULL,
		body             bytea NOT NULL,
		events           bigint NOT NULL DEFAULT 0,
		visits           bigint NOT NULL DEFAULT 0,
		last_visit_at    bigint,
		current_visit_at bigint,
		updated_at       bigint NOT NULL
	);
	CREATE TABLE profile_aliases (
		alias      text PRIMARY KEY,
		profile_id text NOT NULL
	);
	CREATE INDEX profile_aliases_profile ON profile_aliases (profile_id);
	-- Each identifier belongs to at most one profile: the primary key is
	-- what makes concurrent first sightings, on any node, one profile.
	CREATE TABLE identifiers (
		kind       text NOT NULL,
		value      text NOT NULL,
		profile_id text NOT NULL,
		PRIMARY KEY (kind, value)
	);
	CREATE INDEX identifiers_profile ON identifiers (profile_id);
	CREATE TABLE sessions (
		id         text PRIMARY KEY,
		profile_id text,
		body       bytea NOT NULL
	);
	CREATE INDEX sessions_profile ON sessions (profile_id) WHERE profile_id IS NOT NULL;
	CREATE TABLE sources (
		id   text PRIMARY KEY,
		body bytea NOT NULL
	);

	CREATE TABLE runs (
		seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		id          text NOT NULL UNIQUE,
		workflow_id text NOT NULL,
		event_id    text NOT NULL,
		status      text NOT NULL,
		version     bigint NOT NULL,
		next_at     bigint,
		created_at  bigint NOT NULL,
		updated_at  bigint NOT NULL,
		body        bytea NOT NULL,
		lease_owner text,
		lease_until bigint,
		UNIQUE (workflow_id, event_id)
	);
	CREATE INDEX runs_status ON runs (status, workflow_id);
	CREATE INDEX runs_event ON runs (event_id);

	CREATE TABLE workflows (
		id         text NOT NULL,
		version    integer NOT NULL,
		deleted    boolean NOT NULL,
		created_at bigint NOT NULL,
		definition bytea NOT NULL,
		PRIMARY KEY (id, version)
	);

	CREATE TABLE event_minutes (
		minute    bigint NOT NULL,
		source_id text NOT NULL,
		events    bigint NOT NULL,
		PRIMARY KEY (minute, source_id)
	);`,
	// 2: the destination whose circuit breaker holds a waiting run, to
	// release those runs when it closes.
	`ALTER TABLE runs ADD COLUMN waiting_on text;
	CREATE INDEX runs_waiting_on ON runs (waiting_on) WHERE waiting_on IS NOT NULL;`,
	// 3: alerts, one firing alert per key.
	recordsTable("alerts") + `
	CREATE UNIQUE INDEX alerts_firing ON alerts (key) WHERE state = 'firing';
	CREATE INDEX alerts_state ON alerts (state, seq);`,
	// 4: backfills; one run per workflow, event and backfill.
	recordsTable("backfills") + `
	ALTER TABLE runs ADD COLUMN backfill_id text NOT NULL DEFAULT '';
	ALTER TABLE runs DROP CONSTRAINT runs_workflow_id_event_id_key;
	ALTER TABLE runs ADD CONSTRAINT runs_workflow_event_backfill UNIQUE (workflow_id, event_id, backfill_id);`,
	// 5: per-minute counts per writing connection: one row that
	// every transaction of every node incremented made their commits wait
	// for each other. Readers sum the writers' rows.
	`ALTER TABLE event_minutes ADD COLUMN writer integer NOT NULL DEFAULT 0;
	ALTER TABLE event_minutes DROP CONSTRAINT event_minutes_pkey;
	ALTER TABLE event_minutes ADD PRIMARY KEY (minute, source_id, writer);`,
	// 6: leaner writes per event. A captured request keeps its
	// header and body packed in data, as the edge packed them (older rows
	// keep theirs in header and body), and is trimmed in id order (ids are
	// time-ordered), which needs no second index. Profiles and sessions,
	// rewritten by every batch that counts or changes them, leave room on
	// their pages so that an update stays on its page and touches no index.
	`ALTER TABLE raw_requests ADD COLUMN data bytea, ALTER COLUMN header DROP NOT NULL;
	DROP INDEX raw_requests_received;
	ALTER TABLE profiles SET (fillfactor = 70);
	ALTER TABLE sessions SET (fillfactor = 80);`,
	// 7: waits (wait_for steps, exit rules), by profile and by deadline.
	relational.WaitsTable("bytea", "bigint") + relational.FrequenciesTable("bigint") + relational.OrderKeyColumn + relational.DebouncesTable + relational.LinesTable,
	// 8: where each archive stands.
	relational.ArchivesTable,
	// 9: the audit trail, trimmed by time.
	recordsTable("audit") + `
	CREATE INDEX audit_started ON audit (started_at);`,
	// 10: destinations and alerts created through the management API.
	relational.ResourcesTable("bytea"),
	// 11: the event catalog.
	relational.CatalogTables,
}

// recordsTable creates a table of records (alerts, backfills): each as
// JSON beside the columns it is found by.
func recordsTable(name string) string {
	return `CREATE TABLE ` + name + ` (
		seq        bigserial PRIMARY KEY,
		id         text NOT NULL UNIQUE,
		key        text NOT NULL,
		state      text NOT NULL,
		version    integer NOT NULL,
		started_at bigint NOT NULL,
		updated_at bigint NOT NULL,
		body       bytea NOT NULL
	);`
}
