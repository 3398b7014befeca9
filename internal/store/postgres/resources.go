package postgres

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
	return s.findResources(ctx, kind+"s", `SELECT DISTINCT ON (id) `+relational.ResourceColumns+` FROM resources WHERE kind = $1
		ORDER BY id, version DESC`, kind)
}

// FindResourceVersions implements cdp.ResourceStore.
func (s *Store) FindResourceVersions(ctx context.Context, kind, id string) ([]*cdp.ResourceVersion, error) {
	out, err := s.findResources(ctx, kind+" versions", `SELECT `+relational.ResourceColumns+` FROM resources WHERE kind = $1 AND id = $2 ORDER BY version`, kind, id)
	if err == nil && len(out) == 0 {
		err = cdp.Errorf(cdp.ENOTFOUND, "%s %s not found", kind, id)
	}
	return out, err
}

// SaveResource implements cdp.ResourceStore: the primary key (kind, id,
// version) makes a second save of one version fail, on whichever node it
// runs.
func (s *Store) SaveResource(ctx context.Context, v *cdp.ResourceVersion) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO resources (`+relational.ResourceColumns+`)
		SELECT $1, $2, $3, $4, $5, $6 WHERE $3 = (SELECT COALESCE(MAX(version), 0) + 1 FROM resources WHERE kind = $1 AND id = $2)
		ON CONFLICT DO NOTHING`, v.Kind, v.ID, v.Version, v.Deleted, v.CreatedAt.UnixNano(), []byte(v.Definition))
	if err != nil {
		return fmt.Errorf("save %s %s: %w", v.Kind, v.ID, err)
	}
	if tag.RowsAffected() != 1 {
		return cdp.Errorf(cdp.ECONFLICT, "%s %s: version %d does not follow the latest stored version", v.Kind, v.ID, v.Version)
	}
	return nil
}
