package storage

// countStates moves n items of the project from state from to state to
// in the kept counts ("" for an item that arrives or leaves). Every write
// that adds, removes or moves items calls it in the same transaction.
func countStates(tx *Tx, projectID, from, to string, n int) error {
	if n == 0 || from == to {
		return nil
	}
	if from != "" {
		if _, err := tx.exec(`UPDATE item_state_counts SET n = n - ? WHERE project_id = ? AND state = ?`, n, projectID, from); err != nil {
			return err
		}
	}
	if to != "" {
		if _, err := tx.exec(`INSERT INTO item_state_counts (project_id, state, n) VALUES (?, ?, ?)
			ON CONFLICT (project_id, state) DO UPDATE SET n = n + excluded.n`, projectID, to, n); err != nil {
			return err
		}
	}
	return nil
}
