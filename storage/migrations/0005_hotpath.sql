-- The labeling loop's writes, lighter: indexes that every submit had to
-- update, and that serve their reads as well without it.

-- The queue reads only open items: once complete, an item leaves these
-- indexes instead of moving to another place in them.
DROP INDEX items_open;
CREATE INDEX items_open ON items (project_id, seq) WHERE complete = 0;
DROP INDEX items_priority;
CREATE INDEX items_priority ON items (project_id, priority, seq) WHERE complete = 0;

-- Times never go backwards within a chain (see appendEvent): the first
-- event at or after a time is found by bisecting the chain's positions
-- through its unique (chain, chain_seq) key.
DROP INDEX events_at;
-- Most events (every annotation's) name no block, and annotation.created
-- is the commonest kind: a filter on it reads the chain in order, where it
-- is dense. The audit log's other filters keep their index.
DROP INDEX events_block;
CREATE INDEX events_block ON events (chain, block, seq) WHERE block != '';
DROP INDEX events_kind;
CREATE INDEX events_kind ON events (chain, kind, seq) WHERE kind != 'annotation.created';
-- The chain's unique (chain, chain_seq) key reads the chain in the same
-- order as (chain, seq) did.
DROP INDEX events_chain;
