-- How many items of each project are in each state, kept by the writes
-- that change a state (no triggers: a trigger makes SQLite keep a
-- statement journal per row, which large imports cannot afford), so that
-- pages read a few rows instead of counting a million.
CREATE TABLE item_state_counts (
	project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	state      TEXT NOT NULL,
	n          INTEGER NOT NULL,
	PRIMARY KEY (project_id, state)
) STRICT, WITHOUT ROWID;

INSERT INTO item_state_counts (project_id, state, n)
	SELECT project_id, state, count(*) FROM items GROUP BY project_id, state;
