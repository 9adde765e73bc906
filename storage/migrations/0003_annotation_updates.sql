-- Finding the annotation versions made after a point (what the builtin
-- learner has not learned yet) starts from annotations updated since then.
CREATE INDEX annotations_updated ON annotations (project_id, updated_at);
