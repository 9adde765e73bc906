package storage

import (
	"context"
	"fmt"
)

// OpenItemsByProject returns, by project slug, how many items still want
// annotations (items less those complete). It reads the counts the
// projects table keeps, so it costs one row per project.
func (db *DB) OpenItemsByProject(ctx context.Context) (map[string]int64, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT slug, item_count - complete_count FROM projects`)
	if err != nil {
		return nil, fmt.Errorf("open items by project: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var slug string
		var n int64
		if err := rows.Scan(&slug, &n); err != nil {
			return nil, fmt.Errorf("open items by project: %w", err)
		}
		out[slug] = max(n, 0)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("open items by project: %w", err)
	}
	return out, nil
}

// LeasesByProject returns, by project slug, the labelers' leases on items
// that are still held (leased_until in the future) and those that have
// expired without a submit or a skip. Projects without leases are left
// out.
func (db *DB) LeasesByProject(ctx context.Context) (held, expired map[string]int64, err error) {
	rows, err := db.read.QueryContext(ctx, `SELECT p.slug,
			sum(a.leased_until > ?1), sum(a.leased_until <= ?1)
		FROM assignments a JOIN projects p ON p.id = a.project_id
		WHERE a.status = 'leased'
		GROUP BY p.slug`, fmtTime(db.now()))
	if err != nil {
		return nil, nil, fmt.Errorf("leases by project: %w", err)
	}
	defer rows.Close()
	held, expired = map[string]int64{}, map[string]int64{}
	for rows.Next() {
		var slug string
		var h, e int64
		if err := rows.Scan(&slug, &h, &e); err != nil {
			return nil, nil, fmt.Errorf("leases by project: %w", err)
		}
		held[slug], expired[slug] = h, e
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("leases by project: %w", err)
	}
	return held, expired, nil
}
