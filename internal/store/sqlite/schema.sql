-- Switchyard embedded store. Bodies are the JSON of the cdp types; the
-- columns beside them are what queries filter on. Columns win over the
-- body on read (merges re-point profile_id without rewriting bodies).
-- Events are ordered by rowid (insertion order, which follows the time-
-- ordered ids); secondary indexes therefore carry an 8-byte rowid, not the
-- 36-byte id. The body holds only what no column holds. Times are Unix ns.
CREATE TABLE IF NOT EXISTS events (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    source_id    TEXT NOT NULL,
    message_id   TEXT,
    type         TEXT NOT NULL,
    profile_id   TEXT,
    session_id   TEXT,
    anonymous_id TEXT,
    timestamp    INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    body         BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_dedup ON events (source_id, message_id) WHERE message_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_source ON events (source_id);
CREATE INDEX IF NOT EXISTS events_type ON events (type);
CREATE INDEX IF NOT EXISTS events_profile ON events (profile_id) WHERE profile_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_session ON events (session_id) WHERE session_id IS NOT NULL;
-- Anonymous events waiting for an identify that names their anonymous id.
CREATE INDEX IF NOT EXISTS events_anonymous ON events (anonymous_id, received_at) WHERE anonymous_id IS NOT NULL AND profile_id IS NULL;

-- Counters live in columns so that counting an event is one small UPDATE;
-- they win over the body's stats on read. Times are Unix nanoseconds.
CREATE TABLE IF NOT EXISTS profiles (
    id                TEXT PRIMARY KEY,
    version           INTEGER NOT NULL,
    body              BLOB NOT NULL,
    events            INTEGER NOT NULL DEFAULT 0,
    visits            INTEGER NOT NULL DEFAULT 0,
    last_visit_at     INTEGER,
    current_visit_at  INTEGER,
    updated_at        INTEGER NOT NULL
);

-- A merged-away profile id keeps resolving to the survivor.
CREATE TABLE IF NOT EXISTS profile_aliases (
    alias       TEXT PRIMARY KEY,
    profile_id  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS profile_aliases_profile ON profile_aliases (profile_id);

-- Each identifier belongs to at most one profile: the primary key is what
-- makes concurrent first sightings of one identity end as one profile.
CREATE TABLE IF NOT EXISTS identifiers (
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    profile_id  TEXT NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE INDEX IF NOT EXISTS identifiers_profile ON identifiers (profile_id);

CREATE TABLE IF NOT EXISTS sessions (
    id          TEXT PRIMARY KEY,
    profile_id  TEXT,
    body        BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_profile ON sessions (profile_id) WHERE profile_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS sources (
    id    TEXT PRIMARY KEY,
    body  BLOB NOT NULL
);
