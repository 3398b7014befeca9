package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/switchyardhq/switchyard/internal/cdp"
	"github.com/switchyardhq/switchyard/internal/packed"
)

// compactSQL creates the captured-request table in its compact form: the
// id as 16 bytes and primary key (no rowid, no second index), header
// lines and body packed together in data (see store/body).
const compactSQL = `CREATE TABLE raw_requests_compact (
	id          BLOB PRIMARY KEY,
	received_at INTEGER NOT NULL,
	method      TEXT NOT NULL,
	path        TEXT NOT NULL,
	remote_addr TEXT NOT NULL,
	data        BLOB NOT NULL,
	body_size   INTEGER NOT NULL,
	truncated   INTEGER NOT NULL
) WITHOUT ROWID`

// compact is migration 6: it moves what is stored into the compact forms
// (ids as 16 bytes, packed bodies, the compact request table), a batch of
// rows at a time, inside the migration's transaction.
func compact(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, compactSQL); err != nil {
		return err
	}
	const batch = 2000
	for last := int64(0); ; {
		n, next, err := compactRequests(ctx, conn, last, batch)
		if err != nil {
			return fmt.Errorf("compact raw requests: %w", err)
		}
		if n < batch {
			break
		}
		last = next
	}
	if _, err := conn.ExecContext(ctx, `DROP TABLE raw_requests; ALTER TABLE raw_requests_compact RENAME TO raw_requests`); err != nil {
		return err
	}
	for last := int64(0); ; {
		n, next, err := compactEvents(ctx, conn, last, batch)
		if err != nil {
			return fmt.Errorf("compact events: %w", err)
		}
		if n < batch {
			return nil
		}
		last = next
	}
}

func compactRequests(ctx context.Context, conn *sql.Conn, after int64, limit int) (n int, last int64, err error) {
	rows, err := conn.QueryContext(ctx, `SELECT rowid, id, received_at, method, path, remote_addr, header, body, body_size, truncated
		FROM raw_requests WHERE rowid > ? ORDER BY rowid LIMIT ?`, after, limit)
	if err != nil {
		return 0, 0, err
	}
	type row struct {
		id, method, path, remote, header string
		received, size                   int64
		body                             []byte
		truncated                        bool
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&last, &r.id, &r.received, &r.method, &r.path, &r.remote, &r.header, &r.body, &r.size, &r.truncated); err != nil {
			rows.Close()
			return 0, 0, err
		}
		all = append(all, r)
	}
	if err := rows.Close(); err != nil {
		return 0, 0, err
	}
	for _, r := range all {
		data := packed.EncodeRaw(&cdp.RawRequest{Header: r.header, Body: r.body})
		if _, err := conn.ExecContext(ctx, `INSERT INTO raw_requests_compact (id, received_at, method, path, remote_addr, data, body_size, truncated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, packID(r.id), r.received, r.method, r.path, r.remote, data, r.size, r.truncated); err != nil {
			return 0, 0, err
		}
	}
	return len(all), last, nil
}

func compactEvents(ctx context.Context, conn *sql.Conn, after int64, limit int) (n int, last int64, err error) {
	rows, err := conn.QueryContext(ctx, `SELECT seq, id, profile_id, request_id, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return 0, 0, err
	}
	type row struct {
		seq                    int64
		id, profile, requestID string
		body                   []byte
	}
	var all []row
	for rows.Next() {
		var r row
		var profile, request sql.NullString
		if err := rows.Scan(&r.seq, &r.id, &profile, &request, &r.body); err != nil {
			rows.Close()
			return 0, 0, err
		}
		r.profile, r.requestID, last = profile.String, request.String, r.seq
		all = append(all, r)
	}
	if err := rows.Close(); err != nil {
		return 0, 0, err
	}
	for _, r := range all {
		body, err := packed.Unpack(r.body) // bodies from before packing are JSON
		if err != nil {
			return 0, 0, fmt.Errorf("event %s: %w", r.id, err)
		}
		if _, err := conn.ExecContext(ctx, `UPDATE events SET id = ?, profile_id = ?, request_id = ?, body = ? WHERE seq = ?`,
			packID(r.id), packID(r.profile), packID(r.requestID), packed.Pack(body), r.seq); err != nil {
			return 0, 0, err
		}
	}
	return len(all), last, nil
}
