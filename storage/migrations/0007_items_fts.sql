-- Full-text search over items for the data browser: a contentless FTS5
-- index of the text values in each item's data (not its keys, so that a
-- field name does not match every item). items.data never changes.
--
-- No trigger on insert: any trigger on items makes each insert of an
-- import open a statement journal inside the write's savepoint, which
-- made a 50,000-item import ten times slower. Instead items_fts_state
-- keeps the highest items rowid indexed, and a search first indexes the
-- rows above it (see storage/browse.go). Deletes are rare and in bulk (a
-- failed import), so a trigger takes deleted rows out of the index and
-- lowers the mark, as SQLite may give a deleted rowid to a new row.
CREATE VIRTUAL TABLE items_fts USING fts5 (
	text,
	content = '',
	contentless_delete = 1,
	tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE items_fts_state (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	upto INTEGER NOT NULL
) STRICT;

CREATE TRIGGER items_fts_delete AFTER DELETE ON items
BEGIN
	DELETE FROM items_fts WHERE rowid = old.rowid AND old.rowid <= (SELECT upto FROM items_fts_state);
	UPDATE items_fts_state SET upto = old.rowid - 1 WHERE upto >= old.rowid;
END;

INSERT INTO items_fts (rowid, text)
SELECT i.rowid, coalesce((SELECT group_concat(value, ' ') FROM json_tree(i.data) WHERE type = 'text'), '')
FROM items i;
INSERT INTO items_fts_state (id, upto) VALUES (1, coalesce((SELECT max(rowid) FROM items), 0));

-- The data browser's sort by creation reads this index in order instead
-- of sorting the whole project for each page.
CREATE INDEX items_created ON items (project_id, created_at, seq);
