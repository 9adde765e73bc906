package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/feedback"
)

// CreateUser adds a user with an already hashed password (see
// loupe.HashPassword: hashing is slow and stays out of the writer). It
// returns EINVALID for a bad name or role and ECONFLICT when the name is
// taken.
func (db *DB) CreateUser(ctx context.Context, name, role, passHash string) (*loupe.User, error) {
	if err := loupe.ValidateUserName(name); err != nil {
		return nil, err
	}
	if err := loupe.ValidateRole(role); err != nil {
		return nil, err
	}
	u := &loupe.User{ID: uuid.Must(uuid.NewV7()).String(), Name: name, Role: role, PassHash: passHash}
	err := db.update(ctx, func(tx *Tx) error {
		u.CreatedAt = tx.now
		_, err := tx.exec(`INSERT INTO users (id, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
			u.ID, u.Name, u.Role, u.PassHash, fmtTime(tx.now))
		if isUnique(err) {
			return &loupe.Error{Code: loupe.ECONFLICT, Field: "name", Message: fmt.Sprintf("user %q already exists", name)}
		} else if err != nil {
			return err
		}
		return tx.record(feedback.ServerChain, feedback.KindUserCreated, map[string]any{"user": name, "user_id": u.ID, "role": role})
	})
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

const userColumns = `id, name, role, password_hash, disabled, created_at`

func scanUser(row interface{ Scan(...any) error }) (*loupe.User, error) {
	var u loupe.User
	var created string
	if err := row.Scan(&u.ID, &u.Name, &u.Role, &u.PassHash, &u.Disabled, &created); err != nil {
		return nil, err
	}
	u.CreatedAt = parseTime(created)
	return &u, nil
}

// UserByName returns the user called name (case-insensitive), or ENOTFOUND.
func (db *DB) UserByName(ctx context.Context, name string) (*loupe.User, error) {
	u, err := scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user %q not found", name)
	} else if err != nil {
		return nil, fmt.Errorf("user by name: %w", err)
	}
	return u, nil
}

// UserByID returns the user with the id, or ENOTFOUND.
func (db *DB) UserByID(ctx context.Context, id string) (*loupe.User, error) {
	u, err := scanUser(db.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user not found")
	} else if err != nil {
		return nil, fmt.Errorf("user by id: %w", err)
	}
	return u, nil
}

// Users returns every user, by name.
func (db *DB) Users(ctx context.Context) ([]*loupe.User, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	defer rows.Close()
	var out []*loupe.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	return out, nil
}

// CountUsers returns how many users exist.
func (db *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := db.queryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// SetUserDisabled disables or enables a user. Disabling ends all of the
// user's sessions in the same transaction. It returns ENOTFOUND for an
// unknown name.
func (db *DB) SetUserDisabled(ctx context.Context, name string, disabled bool) error {
	err := db.update(ctx, func(tx *Tx) error {
		var id string
		err := tx.queryRow(`UPDATE users SET disabled = ? WHERE name = ? RETURNING id`, disabled, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("user %q not found", name)
		} else if err != nil {
			return err
		}
		if disabled {
			if _, err = tx.exec(`DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
				return err
			}
		}
		kind := feedback.KindUserEnabled
		if disabled {
			kind = feedback.KindUserDisabled
		}
		return tx.record(feedback.ServerChain, kind, map[string]any{"user": name, "user_id": id})
	})
	if err != nil {
		return fmt.Errorf("set user disabled: %w", err)
	}
	return nil
}

// SetPassword replaces a user's password hash and ends their sessions. It
// returns ENOTFOUND for an unknown name.
func (db *DB) SetPassword(ctx context.Context, name, passHash string) error {
	err := db.update(ctx, func(tx *Tx) error {
		var id string
		err := tx.queryRow(`UPDATE users SET password_hash = ? WHERE name = ? RETURNING id`, passHash, name).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("user %q not found", name)
		} else if err != nil {
			return err
		}
		if _, err = tx.exec(`DELETE FROM sessions WHERE user_id = ?`, id); err != nil {
			return err
		}
		return tx.record(feedback.ServerChain, feedback.KindPasswordChanged, map[string]any{"user": name, "user_id": id})
	})
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}
