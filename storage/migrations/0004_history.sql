-- History and review: the append-only event log with its hash chains,
-- review verdicts, item states, reviewers' leases, and the final answer an
-- adjudication sets.

-- Every change, in order. chain is the project's id ('' for server events:
-- users and tokens); each event's hash covers its content and the hash of
-- the event before it in its chain (see package feedback). Empty strings,
-- not NULLs, mark targets that do not apply, so that the hash input is
-- plain. No foreign keys: history outlives what it describes.
CREATE TABLE events (
	seq                INTEGER PRIMARY KEY,
	id                 TEXT NOT NULL UNIQUE,
	chain              TEXT NOT NULL,
	chain_seq          INTEGER NOT NULL,
	at                 TEXT NOT NULL,
	actor_id           TEXT NOT NULL,
	actor_name         TEXT NOT NULL,
	kind               TEXT NOT NULL,
	item_id            TEXT NOT NULL,
	annotation_id      TEXT NOT NULL,
	annotation_version INTEGER NOT NULL,
	prediction_id      TEXT NOT NULL,
	block              TEXT NOT NULL,
	payload            TEXT NOT NULL,
	prev_hash          TEXT NOT NULL,
	hash               TEXT NOT NULL,
	UNIQUE (chain, chain_seq)
) STRICT;
-- The audit log's filters, each newest first by seq (keyset pagination).
CREATE INDEX events_chain ON events (chain, seq);
CREATE INDEX events_item ON events (item_id, seq);
CREATE INDEX events_actor ON events (chain, actor_id, seq);
CREATE INDEX events_kind ON events (chain, kind, seq);
CREATE INDEX events_block ON events (chain, block, seq);
CREATE INDEX events_at ON events (chain, at);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
	SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
	SELECT RAISE(ABORT, 'events are append-only');
END;

-- Reviewers' verdicts. annotation_id is the annotation judged (reject,
-- fix); values_json the fixed or final values (fix, adjudicate).
CREATE TABLE reviews (
	id            TEXT PRIMARY KEY,
	project_id    TEXT NOT NULL REFERENCES projects (id),
	item_id       TEXT NOT NULL REFERENCES items (id),
	annotation_id TEXT REFERENCES annotations (id),
	reviewer_id   TEXT NOT NULL REFERENCES users (id),
	verdict       TEXT NOT NULL CHECK (verdict IN ('approve', 'reject', 'fix', 'adjudicate')),
	comment       TEXT NOT NULL DEFAULT '',
	values_json   TEXT NOT NULL DEFAULT '{}',
	created_at    TEXT NOT NULL
) STRICT;
CREATE INDEX reviews_item ON reviews (item_id, created_at);
CREATE INDEX reviews_project ON reviews (project_id, created_at);
CREATE TRIGGER reviews_no_update BEFORE UPDATE ON reviews
BEGIN
	SELECT RAISE(ABORT, 'reviews are append-only');
END;
CREATE TRIGGER reviews_no_delete BEFORE DELETE ON reviews
BEGIN
	SELECT RAISE(ABORT, 'reviews are append-only');
END;

-- The item's place in the workflow (see feedback.States), why it went to
-- review, how it came in ('import', or 'feedback' through the feedback
-- API), and the final values an adjudication set ('' when none).
ALTER TABLE items ADD COLUMN state TEXT NOT NULL DEFAULT 'pending'
	CHECK (state IN ('pending', 'annotated', 'in_review', 'approved', 'rejected'));
ALTER TABLE items ADD COLUMN review_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE items ADD COLUMN origin TEXT NOT NULL DEFAULT 'import';
ALTER TABLE items ADD COLUMN final_json TEXT NOT NULL DEFAULT '';
CREATE INDEX items_state ON items (project_id, state, seq);
-- Items that were complete before states existed were annotated.
UPDATE items SET state = 'annotated' WHERE complete = 1;

-- A rejected annotation goes back to its labeler: returned_by is the
-- rejecting review until the labeler submits a fix.
ALTER TABLE annotations ADD COLUMN returned_by TEXT;
CREATE INDEX annotations_returned ON annotations (project_id, user_id, updated_at) WHERE returned_by IS NOT NULL;

-- Who made each version: the labeler, or the reviewer who fixed it.
ALTER TABLE annotation_versions ADD COLUMN author_id TEXT NOT NULL DEFAULT '';

-- A reviewer holds the item they are reviewing, so that two reviewers do
-- not review the same item at once.
CREATE TABLE review_leases (
	item_id      TEXT PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
	project_id   TEXT NOT NULL,
	user_id      TEXT NOT NULL,
	leased_until TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX review_leases_user ON review_leases (project_id, user_id);
