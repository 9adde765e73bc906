-- Predictions become first-class: where each came from and which input it
-- answers (one per item, block, model, version and input); annotations
-- record the suggestions they were shown; items get a queue priority for
-- the uncertainty, disagreement and random orders; live model calls are
-- kept for their status page; the builtin learner keeps snapshots.

ALTER TABLE predictions ADD COLUMN source TEXT NOT NULL DEFAULT 'import';
ALTER TABLE predictions ADD COLUMN input_hash TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX predictions_unique ON predictions (item_id, block, model, model_version, input_hash);

-- {"block": {"model": ..., "version": ..., "score": ..., "value": ..., "id": ...}}
ALTER TABLE annotation_versions ADD COLUMN shown_json TEXT NOT NULL DEFAULT '{}';

-- Lower first. Import sets a fixed pseudo-random value (the random order);
-- the background rescoring sets margins for uncertainty and disagreement.
ALTER TABLE items ADD COLUMN priority REAL NOT NULL DEFAULT 0;
CREATE INDEX items_priority ON items (project_id, complete, priority, seq);

CREATE TABLE model_calls (
	id         INTEGER PRIMARY KEY,
	project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	model      TEXT NOT NULL,
	at         TEXT NOT NULL,
	ok         INTEGER NOT NULL CHECK (ok IN (0, 1)),
	latency_ms REAL NOT NULL,
	error      TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX model_calls_recent ON model_calls (project_id, model, at);

-- upto is the last annotation version the snapshot learned, as
-- "created_at|annotation_id|version", so that a restart replays only what
-- came after.
CREATE TABLE learner_state (
	project_id     TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	model          TEXT NOT NULL,
	block          TEXT NOT NULL,
	config_version INTEGER NOT NULL,
	state          BLOB NOT NULL,
	upto           TEXT NOT NULL,
	examples       INTEGER NOT NULL,
	updated_at     TEXT NOT NULL,
	PRIMARY KEY (project_id, model, block)
) STRICT, WITHOUT ROWID;
