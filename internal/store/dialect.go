package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrUnavailable is the error of a read or write that could not reach the
// database (PostgreSQL down, restarting or unreachable). The snapshot a node
// holds is still served: only what needs the database fails.
var ErrUnavailable = errors.New("the catalog store is unavailable")

// dialect is what differs between SQLite and PostgreSQL. The store's SQL is
// written once, with ? placeholders and the syntax both accept (upserts,
// RETURNING, ON CONFLICT DO NOTHING, string_agg); what cannot be written
// once is a method here.
type dialect struct {
	// name is "sqlite" or "postgres", as the store setting spells it.
	name string
	// numbered: placeholders are $1, $2… rather than ?.
	numbered bool
	rebound  sync.Map // query with ? -> query with $n
}

var (
	sqliteDialect   = &dialect{name: "sqlite"}
	postgresDialect = &dialect{name: "postgres", numbered: true}
)

// rebind turns ? placeholders into the dialect's; a ? inside a quoted
// string or identifier is left alone.
func (d *dialect) rebind(query string) string {
	if !d.numbered || !strings.Contains(query, "?") {
		return query
	}
	if q, ok := d.rebound.Load(query); ok {
		return q.(string)
	}
	var b strings.Builder
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	d.rebound.Store(query, b.String())
	return b.String()
}

// equalFoldASCII is the condition "column equals the parameter, ignoring
// the case of ASCII letters", as SQLite's NOCASE compares.
func (d *dialect) equalFoldASCII(column string) string {
	if d.name == "sqlite" {
		return column + " = ? COLLATE NOCASE"
	}
	return foldASCIISQL(column) + " = " + foldASCIISQL("?")
}

// foldASCIISQL folds ASCII capitals of a PostgreSQL expression, and only
// those, as NOCASE does (lower() would fold every letter).
func foldASCIISQL(expr string) string {
	return "translate(" + expr + ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
}

// athleteOrder is the column of clip_athletes in the order rows were added.
func (d *dialect) athleteOrder() string {
	if d.name == "sqlite" {
		return "rowid"
	}
	return "pos"
}

// snapshotTx are the options of a read transaction that sees one
// version of the whole database.
func (d *dialect) snapshotTx() *sql.TxOptions {
	if d.name == "sqlite" {
		return nil // a SQLite read transaction always does
	}
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

func (d *dialect) isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// unavailable reports whether err says the database could not be reached,
// rather than that it refused the statement. SQLite, a file, is never
// unavailable in this sense.
func (d *dialect) unavailable(err error) bool {
	if err == nil || d.name == "sqlite" || errors.Is(err, ErrUnavailable) ||
		errors.Is(err, sql.ErrNoRows) || errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P0x: the server shutting down or starting.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "57P")
	}
	var connErr *pgconn.ConnectError
	return errors.As(err, &connErr) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, context.DeadlineExceeded) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "unexpected EOF") ||
		strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "connection reset")
}

// classify marks an error that says the database is out of reach with ErrUnavailable.
func (d *dialect) classify(err error) error {
	if d.unavailable(err) {
		return fmt.Errorf("%w (%s): %w", ErrUnavailable, d.name, err)
	}
	return err
}

// database is a pool of connections that speaks the store's SQL in its dialect.
type database struct {
	raw *sql.DB
	d   *dialect
}

func (db *database) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := db.raw.ExecContext(ctx, db.d.rebind(query), args...)
	return res, db.d.classify(err)
}

func (db *database) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := db.raw.QueryContext(ctx, db.d.rebind(query), args...)
	return rows, db.d.classify(err)
}

func (db *database) QueryRowContext(ctx context.Context, query string, args ...any) scanner {
	return row{db.raw.QueryRowContext(ctx, db.d.rebind(query), args...), db.d}
}

func (db *database) BeginTx(ctx context.Context, opts *sql.TxOptions) (*dbTx, error) {
	t, err := db.raw.BeginTx(ctx, opts)
	if err != nil {
		return nil, db.d.classify(err)
	}
	return &dbTx{raw: t, d: db.d}, nil
}

func (db *database) Close() error { return db.raw.Close() }

// dbTx is a transaction that speaks the store's SQL, and collects the
// catalog changes its statements make (see write).
type dbTx struct {
	raw     *sql.Tx
	d       *dialect
	changes []change
}

func (t *dbTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := t.raw.ExecContext(ctx, t.d.rebind(query), args...)
	return res, t.d.classify(err)
}

func (t *dbTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := t.raw.QueryContext(ctx, t.d.rebind(query), args...)
	return rows, t.d.classify(err)
}

func (t *dbTx) QueryRowContext(ctx context.Context, query string, args ...any) scanner {
	return row{t.raw.QueryRowContext(ctx, t.d.rebind(query), args...), t.d}
}

func (t *dbTx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	stmt, err := t.raw.PrepareContext(ctx, t.d.rebind(query))
	return stmt, t.d.classify(err)
}

func (t *dbTx) Commit() error   { return t.d.classify(t.raw.Commit()) }
func (t *dbTx) Rollback() error { return t.raw.Rollback() }

// changed records that the transaction changed one object of the catalog.
func (t *dbTx) changed(kind changeKind, op changeOp, key string) {
	t.changes = append(t.changes, change{kind: kind, op: op, key: key})
}

// row is a result row whose Scan marks an unreachable database.
type row struct {
	raw *sql.Row
	d   *dialect
}

func (r row) Scan(dest ...any) error { return r.d.classify(r.raw.Scan(dest...)) }
