package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/annotate"
	"github.com/loupehq/loupe/blocks"
	"github.com/loupehq/loupe/feedback"
	sqlite3 "modernc.org/sqlite/lib"
)

// configCache keeps parsed project configs with their source. A config
// version never changes once written, so entries never go stale and
// processes need not share them.
type configCache struct {
	mu sync.Mutex
	m  map[string]cachedConfig // "projectID/version"
}

type cachedConfig struct {
	cfg    *blocks.Config
	source string
}

// config returns the parsed config of a project version, reading and
// parsing its source on first use.
func (db *DB) config(ctx context.Context, projectID string, version int) (cachedConfig, error) {
	key := fmt.Sprintf("%s/%d", projectID, version)
	c := &db.configs
	c.mu.Lock()
	cc, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return cc, nil
	}
	if err := db.queryRow(ctx, `SELECT source FROM project_configs WHERE project_id = ? AND version = ?`, projectID, version).Scan(&cc.source); err != nil {
		return cc, fmt.Errorf("config %s: %w", key, err)
	}
	cfg, err := blocks.ParseConfig([]byte(cc.source))
	if err != nil {
		return cc, fmt.Errorf("stored config %s is invalid: %w", key, err)
	}
	cc.cfg = cfg
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]cachedConfig{}
	}
	c.m[key] = cc
	c.mu.Unlock()
	return cc, nil
}

// CreateProject stores a project with its first config version. The source
// is kept as written; cfg is its parsed form. The creator, when given,
// becomes the project's manager. It returns EINVALID for a bad slug and
// ECONFLICT when the slug is taken.
func (db *DB) CreateProject(ctx context.Context, slug, source string, cfg *blocks.Config, creator *loupe.User) (*annotate.Project, error) {
	if err := annotate.ValidateSlug(slug); err != nil {
		return nil, err
	}
	p := &annotate.Project{ID: uuid.Must(uuid.NewV7()).String(), Slug: slug, Title: cfg.Title, ConfigVersion: 1, Config: cfg, ConfigSource: source}
	var creatorID any
	if creator != nil {
		creatorID = creator.ID
	}
	err := db.update(ctx, func(tx *Tx) error {
		p.CreatedAt = tx.now
		_, err := tx.exec(`INSERT INTO projects (id, slug, title, config_version, created_at, created_by) VALUES (?, ?, ?, 1, ?, ?)`,
			p.ID, slug, cfg.Title, fmtTime(tx.now), creatorID)
		if isUnique(err) {
			return &loupe.Error{Code: loupe.ECONFLICT, Field: "slug", Message: fmt.Sprintf("a project with slug %q already exists", slug)}
		} else if err != nil {
			return err
		}
		if _, err := tx.exec(`INSERT INTO project_configs (project_id, version, source, created_at, created_by) VALUES (?, 1, ?, ?, ?)`,
			p.ID, source, fmtTime(tx.now), creatorID); err != nil {
			return err
		}
		if creator != nil && !creator.IsAdmin() {
			_, err = tx.exec(`INSERT INTO project_members (project_id, user_id, role, added_at) VALUES (?, ?, ?, ?)`,
				p.ID, creator.ID, annotate.RoleManager, fmtTime(tx.now))
			if err != nil {
				return err
			}
		}
		ev := newEvent(p.ID, feedback.KindProjectCreated, map[string]any{"slug": slug, "title": cfg.Title, "config_version": 1, "source": source})
		if creator != nil {
			ev.ActorID, ev.ActorName = creator.ID, creator.Name
		}
		return tx.appendEvent(ev)
	})
	if err != nil {
		return nil, fmt.Errorf("create project: %w", err)
	}
	return p, nil
}

// UpdateConfig stores a new config version for a project and makes it
// current; annotations made from then on record the new version. Items'
// completeness follows a changed overlap. by may be nil (the CLI). It
// returns ENOTFOUND for an unknown project and EINVALID when items lack a
// field the new interface shows.
func (db *DB) UpdateConfig(ctx context.Context, projectID, source string, cfg *blocks.Config, by *loupe.User) (int, error) {
	var byID any
	if by != nil {
		byID = by.ID
	}
	var version int
	err := db.update(ctx, func(tx *Tx) error {
		err := tx.queryRow(`UPDATE projects SET config_version = config_version + 1, title = ? WHERE id = ? RETURNING config_version`,
			cfg.Title, projectID).Scan(&version)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("project not found")
		} else if err != nil {
			return err
		}
		for _, f := range cfg.Interface().Fields() {
			var missing int
			if err := tx.queryRow(`SELECT count(*) FROM items WHERE project_id = ? AND json_extract(data, ?) IS NULL`,
				projectID, jsonPath(f)).Scan(&missing); err != nil {
				return err
			}
			if missing > 0 {
				return loupe.FieldErrorf("config", "config: %d items lack the field %q that the new interface shows", missing, f)
			}
		}
		if _, err := tx.exec(`INSERT INTO project_configs (project_id, version, source, created_at, created_by) VALUES (?, ?, ?, ?, ?)`,
			projectID, version, source, fmtTime(tx.now), byID); err != nil {
			return err
		}
		if _, err := tx.exec(`UPDATE items SET complete = (done >= ?) WHERE project_id = ? AND complete != (done >= ?)`,
			cfg.Overlap, projectID, cfg.Overlap); err != nil {
			return err
		}
		if _, err = tx.exec(`UPDATE projects SET complete_count = (SELECT count(*) FROM items WHERE project_id = ?1 AND complete = 1) WHERE id = ?1`, projectID); err != nil {
			return err
		}
		ev := newEvent(projectID, feedback.KindConfigChanged, map[string]any{"version": version, "title": cfg.Title, "source": source})
		if by != nil {
			ev.ActorID, ev.ActorName = by.ID, by.Name
		}
		return tx.appendEvent(ev)
	})
	if err != nil {
		return 0, fmt.Errorf("update config: %w", err)
	}
	return version, nil
}

// jsonPath returns the SQLite JSON path of a top-level field, quoted so
// that any field name is taken literally.
func jsonPath(field string) string {
	return `$."` + strings.ReplaceAll(strings.ReplaceAll(field, `\`, `\\`), `"`, `\"`) + `"`
}

const projectColumns = `p.id, p.slug, p.title, p.config_version, p.item_count, p.complete_count, p.created_at`

// scanProject reads a project row (projectColumns, then extra) and attaches
// its config.
func (db *DB) scanProject(ctx context.Context, row interface{ Scan(...any) error }, extra ...any) (*annotate.Project, error) {
	var p annotate.Project
	var created string
	dest := append([]any{&p.ID, &p.Slug, &p.Title, &p.ConfigVersion, &p.ItemCount, &p.CompleteCount, &created}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	p.CreatedAt = parseTime(created)
	cc, err := db.config(ctx, p.ID, p.ConfigVersion)
	if err != nil {
		return nil, err
	}
	p.Config, p.ConfigSource = cc.cfg, cc.source
	return &p, nil
}

// ProjectBySlug returns the project with the slug, or ENOTFOUND. It does not
// check access: use ProjectAccess for a user's view.
func (db *DB) ProjectBySlug(ctx context.Context, slug string) (*annotate.Project, error) {
	p, err := db.scanProject(ctx, db.queryRow(ctx, `SELECT `+projectColumns+` FROM projects p WHERE p.slug = ?`, slug))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("project %q not found", slug)
	} else if err != nil {
		return nil, fmt.Errorf("project by slug: %w", err)
	}
	return p, nil
}

// ProjectAccess returns the project with the slug and what u may do in it.
// A project the user may not view is reported as ENOTFOUND, exactly like one
// that does not exist.
func (db *DB) ProjectAccess(ctx context.Context, slug string, u *loupe.User) (*annotate.Project, annotate.Access, error) {
	a := annotate.Access{User: u}
	p, err := db.scanProject(ctx, db.queryRow(ctx, `SELECT `+projectColumns+`, coalesce(m.role, '')
		FROM projects p LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = ?
		WHERE p.slug = ?`, u.ID, slug), &a.Role)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !a.CanView() {
		return nil, a, notFound("project %q not found", slug)
	} else if err != nil {
		return nil, a, fmt.Errorf("project access: %w", err)
	}
	return p, a, nil
}

// Projects returns the projects u may view, by title, with u's role in each.
func (db *DB) Projects(ctx context.Context, u *loupe.User) ([]annotate.ProjectSummary, error) {
	q := `SELECT p.slug, p.title, p.item_count, p.complete_count, coalesce(m.role, '')
		FROM projects p LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = ?1`
	if !u.IsAdmin() {
		q += ` WHERE m.role IS NOT NULL`
	}
	q += ` ORDER BY p.title, p.slug`
	rows, err := db.read.QueryContext(ctx, q, u.ID)
	if err != nil {
		return nil, fmt.Errorf("projects: %w", err)
	}
	defer rows.Close()
	var out []annotate.ProjectSummary
	for rows.Next() {
		var s annotate.ProjectSummary
		if err := rows.Scan(&s.Slug, &s.Title, &s.ItemCount, &s.CompleteCount, &s.Role); err != nil {
			return nil, fmt.Errorf("projects: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("projects: %w", err)
	}
	return out, nil
}

// SetMember gives the user a role in the project, adding them or changing
// their role. It returns EINVALID for an unknown role and ENOTFOUND for an
// unknown user or project.
func (db *DB) SetMember(ctx context.Context, projectID, userName, role string) error {
	if err := annotate.ValidateProjectRole(role); err != nil {
		return err
	}
	err := db.update(ctx, func(tx *Tx) error {
		var userID string
		err := tx.queryRow(`SELECT id FROM users WHERE name = ?`, userName).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			return &loupe.Error{Code: loupe.ENOTFOUND, Field: "user", Message: fmt.Sprintf("user %q not found", userName)}
		} else if err != nil {
			return err
		}
		var prev string
		if err := tx.queryRow(`SELECT role FROM project_members WHERE project_id = ? AND user_id = ?`, projectID, userID).Scan(&prev); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if prev == role {
			return nil
		}
		_, err = tx.exec(`INSERT INTO project_members (project_id, user_id, role, added_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role`, projectID, userID, role, fmtTime(tx.now))
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
			return notFound("project not found")
		} else if err != nil {
			return err
		}
		kind, payload := feedback.KindMemberAdded, map[string]any{"user": userName, "user_id": userID, "role": role}
		if prev != "" {
			kind, payload["previous_role"] = feedback.KindMemberRoleChanged, prev
		}
		return tx.record(projectID, kind, payload)
	})
	if err != nil {
		return fmt.Errorf("set member: %w", err)
	}
	return nil
}

// RemoveMember takes the user out of the project. It returns ENOTFOUND when
// they were not a member.
func (db *DB) RemoveMember(ctx context.Context, projectID, userName string) error {
	err := db.update(ctx, func(tx *Tx) error {
		var userID, role string
		err := tx.queryRow(`DELETE FROM project_members WHERE project_id = ? AND user_id = (SELECT id FROM users WHERE name = ?) RETURNING user_id, role`,
			projectID, userName).Scan(&userID, &role)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("%q is not a member of the project", userName)
		} else if err != nil {
			return err
		}
		return tx.record(projectID, feedback.KindMemberRemoved, map[string]any{"user": userName, "user_id": userID, "role": role})
	})
	if err != nil {
		return fmt.Errorf("remove member: %w", err)
	}
	return nil
}

// Members returns the project's members, by name.
func (db *DB) Members(ctx context.Context, projectID string) ([]annotate.Member, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT m.user_id, u.name, m.role, m.added_at FROM project_members m
		JOIN users u ON u.id = m.user_id WHERE m.project_id = ? ORDER BY u.name`, projectID)
	if err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	defer rows.Close()
	var out []annotate.Member
	for rows.Next() {
		m := annotate.Member{ProjectID: projectID}
		var added string
		if err := rows.Scan(&m.UserID, &m.UserName, &m.Role, &added); err != nil {
			return nil, fmt.Errorf("members: %w", err)
		}
		m.AddedAt = parseTime(added)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	return out, nil
}

// AllProjects returns every project with its current config, by slug: for
// background jobs that visit each project.
func (db *DB) AllProjects(ctx context.Context) ([]*annotate.Project, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT slug FROM projects ORDER BY slug`)
	if err != nil {
		return nil, fmt.Errorf("all projects: %w", err)
	}
	var slugs []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, fmt.Errorf("all projects: %w", err)
		}
		slugs = append(slugs, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("all projects: %w", err)
	}
	out := make([]*annotate.Project, 0, len(slugs))
	for _, s := range slugs {
		p, err := db.ProjectBySlug(ctx, s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
