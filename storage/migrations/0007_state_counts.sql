-- How many items of each project are in each state, kept by triggers on
-- every insert, delete and state change, so that the project, review and
-- items pages read a few rows instead of counting a million.
CREATE TABLE item_state_counts (
	project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
	state      TEXT NOT NULL,
	n          INTEGER NOT NULL,
	PRIMARY KEY (project_id, state)
) STRICT, WITHOUT ROWID;

INSERT INTO item_state_counts (project_id, state, n)
	SELECT project_id, state, count(*) FROM items GROUP BY project_id, state;

CREATE TRIGGER items_count_insert AFTER INSERT ON items
BEGIN
	INSERT INTO item_state_counts (project_id, state, n) VALUES (new.project_id, new.state, 1)
		ON CONFLICT (project_id, state) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER items_count_delete AFTER DELETE ON items
BEGIN
	UPDATE item_state_counts SET n = n - 1 WHERE project_id = old.project_id AND state = old.state;
END;

CREATE TRIGGER items_count_state AFTER UPDATE OF state ON items WHEN old.state != new.state
BEGIN
	UPDATE item_state_counts SET n = n - 1 WHERE project_id = old.project_id AND state = old.state;
	INSERT INTO item_state_counts (project_id, state, n) VALUES (new.project_id, new.state, 1)
		ON CONFLICT (project_id, state) DO UPDATE SET n = n + 1;
END;
