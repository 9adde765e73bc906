-- Loupe's first schema: users and sessions, projects with versioned
-- configs, members, items, the queue's assignments, append-only
-- annotation versions, and predictions.

CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
	role          TEXT NOT NULL CHECK (role IN ('admin', 'member')),
	password_hash TEXT NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	created_at    TEXT NOT NULL
) STRICT;

-- Server-side sessions; id is the SHA-256 of the id in the cookie.
CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	data       TEXT NOT NULL DEFAULT '{}',
	created_at TEXT NOT NULL,
	seen_at    TEXT NOT NULL,
	expires_at TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- API tokens; only their SHA-256 is kept.
CREATE TABLE api_tokens (
	id         TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	token_hash TEXT NOT NULL UNIQUE,
	name       TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL
) STRICT;
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Failed sign-ins, by "user:NAME" and "addr:IP", for rate limiting.
CREATE TABLE login_failures (
	key TEXT NOT NULL,
	at  TEXT NOT NULL
) STRICT;
CREATE INDEX login_failures_key ON login_failures (key, at);

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

CREATE TABLE projects (
	id             TEXT PRIMARY KEY,
	slug           TEXT NOT NULL UNIQUE,
	title          TEXT NOT NULL,
	config_version INTEGER NOT NULL,
	item_count     INTEGER NOT NULL DEFAULT 0,
	complete_count INTEGER NOT NULL DEFAULT 0,
	created_at     TEXT NOT NULL,
	created_by     TEXT REFERENCES users (id)
) STRICT;

-- Every version of every project config, as written.
CREATE TABLE project_configs (
	project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	version    INTEGER NOT NULL,
	source     TEXT NOT NULL,
	created_at TEXT NOT NULL,
	created_by TEXT REFERENCES users (id),
	PRIMARY KEY (project_id, version)
) STRICT, WITHOUT ROWID;

CREATE TABLE project_members (
	project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role       TEXT NOT NULL CHECK (role IN ('labeler', 'reviewer', 'manager')),
	added_at   TEXT NOT NULL,
	PRIMARY KEY (project_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX project_members_user ON project_members (user_id);

-- done counts labelers who annotated the item; complete is done >= overlap.
CREATE TABLE items (
	id          TEXT PRIMARY KEY,
	project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	seq         INTEGER NOT NULL,
	external_id TEXT,
	data        TEXT NOT NULL,
	hash        TEXT NOT NULL,
	done        INTEGER NOT NULL DEFAULT 0,
	complete    INTEGER NOT NULL DEFAULT 0 CHECK (complete IN (0, 1)),
	created_at  TEXT NOT NULL,
	UNIQUE (project_id, seq)
) STRICT;
CREATE UNIQUE INDEX items_external ON items (project_id, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX items_hash ON items (project_id, hash);
CREATE INDEX items_open ON items (project_id, complete, seq);

-- The queue: which items were given to whom. A lease holds an item for its
-- labeler until leased_until; done and skipped are final for that labeler.
CREATE TABLE assignments (
	item_id      TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
	user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	project_id   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	status       TEXT NOT NULL CHECK (status IN ('leased', 'done', 'skipped')),
	leased_until TEXT NOT NULL,
	updated_at   TEXT NOT NULL,
	PRIMARY KEY (item_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX assignments_user ON assignments (project_id, user_id, status, updated_at);

-- One annotation per (item, labeler), pointing at its current version.
CREATE TABLE annotations (
	id         TEXT PRIMARY KEY,
	project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	item_id    TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL REFERENCES users (id),
	version    INTEGER NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	UNIQUE (item_id, user_id)
) STRICT;
CREATE INDEX annotations_user ON annotations (project_id, user_id, created_at, id);

-- Every version of every annotation. Append-only: the triggers refuse
-- changes, so that history cannot be rewritten through Loupe.
CREATE TABLE annotation_versions (
	annotation_id  TEXT NOT NULL REFERENCES annotations (id),
	version        INTEGER NOT NULL,
	values_json    TEXT NOT NULL,
	config_version INTEGER NOT NULL,
	client_id      TEXT,
	lead_ms        INTEGER NOT NULL DEFAULT 0,
	created_at     TEXT NOT NULL,
	PRIMARY KEY (annotation_id, version)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX annotation_versions_client ON annotation_versions (client_id) WHERE client_id IS NOT NULL;
CREATE TRIGGER annotation_versions_no_update BEFORE UPDATE ON annotation_versions
BEGIN
	SELECT RAISE(ABORT, 'annotation versions are append-only');
END;
CREATE TRIGGER annotation_versions_no_delete BEFORE DELETE ON annotation_versions
BEGIN
	SELECT RAISE(ABORT, 'annotation versions are append-only');
END;

-- A model's value for one block of an item.
CREATE TABLE predictions (
	id            TEXT PRIMARY KEY,
	project_id    TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	item_id       TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
	block         TEXT NOT NULL,
	value_json    TEXT NOT NULL,
	score         REAL,
	model         TEXT NOT NULL,
	model_version TEXT NOT NULL DEFAULT '',
	created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX predictions_item ON predictions (item_id, block);
