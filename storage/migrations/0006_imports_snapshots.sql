-- Imports run in batches: the items of an import in progress come after
-- base_seq and stay out of the queue (complete = 1 with done = 0, which no
-- other item can be) until the last batch commits; the annotations that
-- came with them wait in import_annotations, because annotation versions
-- and events cannot be taken back. A failed or abandoned import is removed
-- whole. One import runs in a project at a time.
CREATE TABLE imports (
	id         TEXT PRIMARY KEY,
	project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	status     TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
	base_seq   INTEGER NOT NULL,
	format     TEXT NOT NULL DEFAULT '',
	created_by TEXT NOT NULL DEFAULT '',
	started_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	result_json TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX imports_project ON imports (project_id, started_at);
CREATE INDEX imports_running ON imports (project_id) WHERE status = 'running';

CREATE TABLE import_annotations (
	import_id  TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	item_id    TEXT NOT NULL,
	user_name  TEXT NOT NULL,
	values_json TEXT NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (import_id, seq)
) STRICT, WITHOUT ROWID;

-- A snapshot pins what an export saw: the items, the annotation versions,
-- each item's state and final answer, and the time (predictions, reviews
-- and feedback up to then), so that exporting it again gives the same
-- bytes however the project changes.
CREATE TABLE snapshots (
	id             TEXT PRIMARY KEY,
	project_id     TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	name           TEXT NOT NULL,
	status         TEXT NOT NULL CHECK (status IN ('writing', 'done')),
	spec_json      TEXT NOT NULL,
	config_version INTEGER NOT NULL,
	as_of          TEXT NOT NULL,
	manifest_json  TEXT NOT NULL DEFAULT '{}',
	created_by     TEXT NOT NULL DEFAULT '',
	created_at     TEXT NOT NULL,
	UNIQUE (project_id, name)
) STRICT;

CREATE TABLE snapshot_items (
	snapshot_id TEXT NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
	seq         INTEGER NOT NULL,
	item_id     TEXT NOT NULL,
	state       TEXT NOT NULL,
	final_json  TEXT NOT NULL,
	versions    TEXT NOT NULL, -- [["annotation_id", version], …]
	PRIMARY KEY (snapshot_id, seq)
) STRICT, WITHOUT ROWID;
