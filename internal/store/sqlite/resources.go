package sqlite

import (
	"context"
	"fmt"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/store/relational"
)

func (s *Store) findResources(ctx context.Context, what, q string, args ...any) ([]*cdp.ResourceVersion, error) {
	return relational.All(ctx, s.rows, "find "+what, relational.ScanResource, q, args...)
}

// FindResources implements cdp.ResourceStore.
func (s *Store) FindResources(ctx context.Context, kind string) ([]*cdp.ResourceVersion, error) {
	return s.findResources(ctx, kind+"s", `SELECT `+relational.ResourceColumns+` FROM resources r WHERE kind = ?
		AND version = (SELECT MAX(version) FROM resources WHERE kind = r.kind AND id = r.id) ORDER BY id`, kind)
}

// FindResourceVersions implements cdp.ResourceStore.
func (s *Store) FindResourceVersions(ctx context.Context, kind, id string) ([]*cdp.ResourceVersion, error) {
	out, err := s.findResources(ctx, kind+" versions", `SELECT `+relational.ResourceColumns+` FROM resources WHERE kind = ? AND id = ? ORDER BY version`, kind, id)
	if err == nil && len(out) == 0 {
		err = cdp.Errorf(cdp.ENOTFOUND, "%s %s not found", kind, id)
	}
	return out, err
}

// SaveResource implements cdp.ResourceStore.
func (s *Store) SaveResource(ctx context.Context, v *cdp.ResourceVersion) error {
	return s.Update(ctx, func(cdp.Tx) error {
		var latest int
		if err := s.wconn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM resources WHERE kind = ? AND id = ?`, v.Kind, v.ID).Scan(&latest); err != nil {
			return fmt.Errorf("save %s %s: %w", v.Kind, v.ID, err)
		}
		if v.Version != latest+1 {
			return cdp.Errorf(cdp.ECONFLICT, "%s %s is at version %d; version %d cannot follow it", v.Kind, v.ID, latest, v.Version)
		}
		if _, err := s.wconn.ExecContext(ctx, `INSERT INTO resources (`+relational.ResourceColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
			v.Kind, v.ID, v.Version, v.Deleted, v.CreatedAt.UnixNano(), []byte(v.Definition)); err != nil {
			return fmt.Errorf("save %s %s: %w", v.Kind, v.ID, err)
		}
		return nil
	})
}
