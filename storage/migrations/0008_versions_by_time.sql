-- The builtin learner reads a project's annotation versions in the order
-- they were made, a page at a time. Without an index in that order every
-- page sorted all the versions left to read, so catching up with a large
-- project took time quadratic in its size; with it a page reads its rows
-- and stops. Versions are appended in time order, so the index grows at
-- its end.
CREATE INDEX annotation_versions_made ON annotation_versions (created_at, annotation_id, version);
