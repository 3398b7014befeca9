package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/store/relational"
)

const workflowColumns = `id, version, deleted, created_at, definition`

func scanWorkflow(row interface{ Scan(...any) error }) (*cdp.WorkflowVersion, error) {
	w := &cdp.WorkflowVersion{}
	var created int64
	if err := row.Scan(&w.ID, &w.Version, &w.Deleted, &created, &w.Definition); err != nil {
		return nil, err
	}
	w.CreatedAt = time.Unix(0, created).UTC()
	return w, nil
}

func (s *Store) findWorkflows(ctx context.Context, what, q string, args ...any) ([]*cdp.WorkflowVersion, error) {
	return relational.All(ctx, s.rows, "find "+what, func(r relational.Rows) (*cdp.WorkflowVersion, error) { return scanWorkflow(r) }, q, args...)
}

// FindWorkflows implements cdp.WorkflowStore.
func (s *Store) FindWorkflows(ctx context.Context) ([]*cdp.WorkflowVersion, error) {
	return s.findWorkflows(ctx, "workflows", `SELECT `+workflowColumns+` FROM workflows w
		WHERE version = (SELECT MAX(version) FROM workflows WHERE id = w.id) ORDER BY id`)
}

// FindWorkflowVersions implements cdp.WorkflowStore.
func (s *Store) FindWorkflowVersions(ctx context.Context, id string) ([]*cdp.WorkflowVersion, error) {
	out, err := s.findWorkflows(ctx, "workflow versions", `SELECT `+workflowColumns+` FROM workflows WHERE id = ? ORDER BY version`, id)
	if err == nil && len(out) == 0 {
		err = cdp.Errorf(cdp.ENOTFOUND, "workflow %s not found", id)
	}
	return out, err
}

// FindWorkflowVersion implements cdp.WorkflowStore.
func (s *Store) FindWorkflowVersion(ctx context.Context, id string, version int) (*cdp.WorkflowVersion, error) {
	w, err := scanWorkflow(s.readRow(ctx, `SELECT `+workflowColumns+` FROM workflows WHERE id = ? AND version = ?`, id, version))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, cdp.Errorf(cdp.ENOTFOUND, "workflow %s version %d not found", id, version)
	case err != nil:
		return nil, fmt.Errorf("find workflow %s version %d: %w", id, version, err)
	}
	return w, nil
}

// SaveWorkflow implements cdp.WorkflowStore.
func (s *Store) SaveWorkflow(ctx context.Context, w *cdp.WorkflowVersion) error {
	return s.Update(ctx, func(cdp.Tx) error {
		var latest int
		if err := s.wconn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM workflows WHERE id = ?`, w.ID).Scan(&latest); err != nil {
			return fmt.Errorf("save workflow %s: %w", w.ID, err)
		}
		if w.Version != latest+1 {
			return cdp.Errorf(cdp.ECONFLICT, "workflow %s is at version %d; version %d cannot follow it", w.ID, latest, w.Version)
		}
		if _, err := s.wconn.ExecContext(ctx, `INSERT INTO workflows (`+workflowColumns+`) VALUES (?, ?, ?, ?, ?)`,
			w.ID, w.Version, w.Deleted, w.CreatedAt.UnixNano(), []byte(w.Definition)); err != nil {
			return fmt.Errorf("save workflow %s: %w", w.ID, err)
		}
		return nil
	})
}
