package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/loupehq/loupe"
	"github.com/loupehq/loupe/feedback"
)

// CreateSession stores a new session. s.ID must already be the hash of the
// cookie's id; CreatedAt and SeenAt are set to now.
func (db *DB) CreateSession(ctx context.Context, s *loupe.Session) error {
	data, err := json.Marshal(s.Data)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	err = db.update(ctx, func(tx *Tx) error {
		s.CreatedAt, s.SeenAt = tx.now, tx.now
		_, err := tx.exec(`INSERT INTO sessions (id, user_id, data, created_at, seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			s.ID, s.UserID, string(data), fmtTime(tx.now), fmtTime(tx.now), fmtTime(s.ExpiresAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session returns the unexpired session with the (hashed) id, or ENOTFOUND.
func (db *DB) Session(ctx context.Context, id string) (*loupe.Session, error) {
	s := &loupe.Session{ID: id}
	var data, created, seen, expires string
	err := db.queryRow(ctx, `SELECT user_id, data, created_at, seen_at, expires_at FROM sessions
		WHERE id = ? AND expires_at > ?`, id, fmtTime(db.now())).Scan(&s.UserID, &data, &created, &seen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("session not found")
	} else if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	if err := json.Unmarshal([]byte(data), &s.Data); err != nil {
		return nil, fmt.Errorf("session data: %w", err)
	}
	s.CreatedAt, s.SeenAt, s.ExpiresAt = parseTime(created), parseTime(seen), parseTime(expires)
	return s, nil
}

// SaveSession stores a session's data, marks it seen now and sets its
// expiry. It returns ENOTFOUND when the session was revoked meanwhile.
func (db *DB) SaveSession(ctx context.Context, s *loupe.Session) error {
	data, err := json.Marshal(s.Data)
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	err = db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE sessions SET data = ?, seen_at = ?, expires_at = ? WHERE id = ?`,
			string(data), fmtTime(tx.now), fmtTime(s.ExpiresAt), s.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("session not found")
		}
		s.SeenAt = tx.now
		return nil
	})
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

// DeleteSession ends one session. Ending a session that does not exist is
// not an error.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	err := db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(`DELETE FROM sessions WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of a user.
func (db *DB) DeleteUserSessions(ctx context.Context, userID string) error {
	err := db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(`DELETE FROM sessions WHERE user_id = ?`, userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete user sessions: %w", err)
	}
	return nil
}

// Sweep deletes expired sessions and login failures older than the login
// window. The server calls it periodically.
func (db *DB) Sweep(ctx context.Context) error {
	err := db.update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`DELETE FROM sessions WHERE expires_at <= ?`, fmtTime(tx.now)); err != nil {
			return err
		}
		_, err := tx.exec(`DELETE FROM login_failures WHERE at <= ?`, fmtTime(tx.now.Add(-loupe.LoginWindow)))
		return err
	})
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	return nil
}

// CreateToken makes an API token for the user and returns it. Only its hash
// is stored: the token cannot be shown again. It returns ENOTFOUND for an
// unknown user.
func (db *DB) CreateToken(ctx context.Context, userName, name string) (string, error) {
	token := loupe.NewToken()
	err := db.update(ctx, func(tx *Tx) error {
		var userID string
		err := tx.queryRow(`SELECT id FROM users WHERE name = ?`, userName).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("user %q not found", userName)
		} else if err != nil {
			return err
		}
		id := uuid.Must(uuid.NewV7()).String()
		if _, err = tx.exec(`INSERT INTO api_tokens (id, user_id, token_hash, name, created_at) VALUES (?, ?, ?, ?, ?)`,
			id, userID, loupe.HashSecret(token), name, fmtTime(tx.now)); err != nil {
			return err
		}
		return tx.record(feedback.ServerChain, feedback.KindTokenCreated, map[string]any{"user": userName, "user_id": userID, "token_id": id, "name": name})
	})
	if err != nil {
		return "", fmt.Errorf("create token: %w", err)
	}
	return token, nil
}

// UserByToken returns the enabled user owning the API token, or
// EUNAUTHORIZED. The lookup is by the token's hash, so its time does not
// depend on how much of a guessed token is right.
func (db *DB) UserByToken(ctx context.Context, token string) (*loupe.User, error) {
	u, err := scanUser(db.queryRow(ctx, `SELECT u.id, u.name, u.role, u.password_hash, u.disabled, u.created_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`, loupe.HashSecret(token)))
	if errors.Is(err, sql.ErrNoRows) || err == nil && u.Disabled {
		return nil, loupe.Errorf(loupe.EUNAUTHORIZED, "the API token is not valid")
	} else if err != nil {
		return nil, fmt.Errorf("user by token: %w", err)
	}
	return u, nil
}

// RecordLoginFailure notes a failed sign-in under each key.
func (db *DB) RecordLoginFailure(ctx context.Context, keys ...string) error {
	err := db.update(ctx, func(tx *Tx) error {
		for _, k := range keys {
			if _, err := tx.exec(`INSERT INTO login_failures (key, at) VALUES (?, ?)`, k, fmtTime(tx.now)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record login failure: %w", err)
	}
	return nil
}

// LoginFailures returns how many failures were noted under key within the
// window before now, and when the oldest of them leaves the window.
func (db *DB) LoginFailures(ctx context.Context, key string, window time.Duration) (int, time.Time, error) {
	var n int
	var oldest sql.NullString
	err := db.queryRow(ctx, `SELECT count(*), min(at) FROM login_failures WHERE key = ? AND at > ?`,
		key, fmtTime(db.now().Add(-window))).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("login failures: %w", err)
	}
	var until time.Time
	if oldest.Valid {
		until = parseTime(oldest.String).Add(window)
	}
	return n, until, nil
}

// ClearLoginFailures forgets the failures noted under key.
func (db *DB) ClearLoginFailures(ctx context.Context, key string) error {
	err := db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(`DELETE FROM login_failures WHERE key = ?`, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("clear login failures: %w", err)
	}
	return nil
}

// Setting returns a stored setting, or ENOTFOUND.
func (db *DB) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.queryRow(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("setting %q not found", key)
	} else if err != nil {
		return "", fmt.Errorf("setting: %w", err)
	}
	return v, nil
}

// EnsureSetting stores value under key unless a value is there already, and
// returns the value that is stored. Two processes starting together agree
// on one value.
func (db *DB) EnsureSetting(ctx context.Context, key, value string) (string, error) {
	err := db.update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
			return err
		}
		return tx.queryRow(`SELECT value FROM settings WHERE key = ?`, key).Scan(&value)
	})
	if err != nil {
		return "", fmt.Errorf("ensure setting: %w", err)
	}
	return value, nil
}
