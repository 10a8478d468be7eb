package store

// migration is one step of the schema, in each dialect. Both dialects take
// the same steps in the same order, so that a catalog's schema version means
// the same in either; the PostgreSQL text differs only where the dialects
// must (64-bit integers, identity columns, booleans, full-text search).
type migration struct {
	sqlite, postgres string
}

// same is a migration written once for both dialects.
func same(sql string) migration { return migration{sqlite: sql, postgres: sql} }

var migrations = []migration{
	same(`CREATE TABLE feeds (
		id TEXT PRIMARY KEY,
		name TEXT NOT NULL,
		kind TEXT NOT NULL,
		publish_passphrase TEXT NOT NULL,
		created_at TEXT NOT NULL
	);
	CREATE TABLE broadcasters (
		id TEXT PRIMARY KEY,
		name TEXT NOT NULL,
		territories TEXT NOT NULL,
		srt_passphrase TEXT NOT NULL,
		api_key_hash TEXT NOT NULL UNIQUE,
		created_at TEXT NOT NULL
	);
	CREATE TABLE entitlements (
		id TEXT PRIMARY KEY,
		broadcaster_id TEXT NOT NULL REFERENCES broadcasters(id) ON DELETE CASCADE,
		feed_id TEXT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
		starts_at TEXT NOT NULL,
		ends_at TEXT NOT NULL,
		status TEXT NOT NULL,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE INDEX entitlements_pair ON entitlements(broadcaster_id, feed_id);`),
	// 2: a backup source's passphrase for every feed, generated for the existing ones.
	{sqlite: `ALTER TABLE feeds ADD COLUMN backup_publish_passphrase TEXT NOT NULL DEFAULT '';
	UPDATE feeds SET backup_publish_passphrase = upper(hex(randomblob(16))) WHERE backup_publish_passphrase = '';`,
		postgres: `ALTER TABLE feeds ADD COLUMN backup_publish_passphrase TEXT NOT NULL DEFAULT '';
	UPDATE feeds SET backup_publish_passphrase = upper(md5(random()::text)) WHERE backup_publish_passphrase = '';`},
	// 3: where Podium calls out over SRT: the encoder a feed is pulled from,
	// and the receivers broadcasters have a feed pushed to. (IF NOT EXISTS:
	// it can be run again for a catalog that took the placeholder 3 once had.)
	{sqlite: `CREATE TABLE IF NOT EXISTS sources (
		feed_id TEXT PRIMARY KEY REFERENCES feeds(id) ON DELETE CASCADE,
		role TEXT NOT NULL,
		address TEXT NOT NULL,
		streamid TEXT NOT NULL,
		passphrase TEXT NOT NULL,
		latency_ms INTEGER NOT NULL,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE TABLE IF NOT EXISTS destinations (
		id TEXT PRIMARY KEY,
		broadcaster_id TEXT NOT NULL REFERENCES broadcasters(id) ON DELETE CASCADE,
		feed_id TEXT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
		address TEXT NOT NULL,
		streamid TEXT NOT NULL,
		passphrase TEXT NOT NULL,
		latency_ms INTEGER NOT NULL,
		created_at TEXT NOT NULL,
		UNIQUE (broadcaster_id, feed_id, address, streamid)
	);`,
		postgres: `CREATE TABLE sources (
		feed_id TEXT PRIMARY KEY REFERENCES feeds(id) ON DELETE CASCADE,
		role TEXT NOT NULL,
		address TEXT NOT NULL,
		streamid TEXT NOT NULL,
		passphrase TEXT NOT NULL,
		latency_ms BIGINT NOT NULL,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE TABLE destinations (
		id TEXT PRIMARY KEY,
		broadcaster_id TEXT NOT NULL REFERENCES broadcasters(id) ON DELETE CASCADE,
		feed_id TEXT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
		address TEXT NOT NULL,
		streamid TEXT NOT NULL,
		passphrase TEXT NOT NULL,
		latency_ms BIGINT NOT NULL,
		created_at TEXT NOT NULL,
		UNIQUE (broadcaster_id, feed_id, address, streamid)
	);`},
	// 4: the audit log of administrative actions. Ids only grow (AUTOINCREMENT,
	// an identity), so that they page the log; rows outlive the feeds and
	// broadcasters they name.
	{sqlite: `CREATE TABLE audit_log (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		at TEXT NOT NULL,
		actor TEXT NOT NULL,
		broadcaster_id TEXT NOT NULL,
		remote_addr TEXT NOT NULL,
		method TEXT NOT NULL,
		path TEXT NOT NULL,
		targets TEXT NOT NULL,
		status INTEGER NOT NULL
	);`,
		postgres: `CREATE TABLE audit_log (
		id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		at TEXT NOT NULL,
		actor TEXT NOT NULL,
		broadcaster_id TEXT NOT NULL,
		remote_addr TEXT NOT NULL,
		method TEXT NOT NULL,
		path TEXT NOT NULL,
		targets TEXT NOT NULL,
		status INTEGER NOT NULL
	);`},
	// 5: each feed's archive setting: recorded or not, and its retention (0: the server's default).
	{sqlite: `ALTER TABLE feeds ADD COLUMN record INTEGER NOT NULL DEFAULT 1;
	ALTER TABLE feeds ADD COLUMN record_max_age_s INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE feeds ADD COLUMN record_max_bytes INTEGER NOT NULL DEFAULT 0;`,
		postgres: `ALTER TABLE feeds ADD COLUMN record BOOLEAN NOT NULL DEFAULT TRUE;
	ALTER TABLE feeds ADD COLUMN record_max_age_s BIGINT NOT NULL DEFAULT 0;
	ALTER TABLE feeds ADD COLUMN record_max_bytes BIGINT NOT NULL DEFAULT 0;`},
	// 6: the Games schedule. Times are Unix milliseconds so that ranges compare
	// as numbers; session_feeds says which feeds carry which session.
	{sqlite: `CREATE TABLE schedule_sessions (
		id TEXT PRIMARY KEY,
		sport TEXT NOT NULL,
		event TEXT NOT NULL,
		phase TEXT NOT NULL,
		venue TEXT NOT NULL,
		start_ms INTEGER NOT NULL,
		end_ms INTEGER NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE INDEX schedule_sessions_time ON schedule_sessions(start_ms, end_ms);
	CREATE TABLE session_feeds (
		session_id TEXT NOT NULL REFERENCES schedule_sessions(id) ON DELETE CASCADE,
		feed_id TEXT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
		position INTEGER NOT NULL,
		PRIMARY KEY (session_id, feed_id)
	);
	CREATE INDEX session_feeds_feed ON session_feeds(feed_id);`,
		postgres: `CREATE TABLE schedule_sessions (
		id TEXT PRIMARY KEY,
		sport TEXT NOT NULL,
		event TEXT NOT NULL,
		phase TEXT NOT NULL,
		venue TEXT NOT NULL,
		start_ms BIGINT NOT NULL,
		end_ms BIGINT NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE INDEX schedule_sessions_time ON schedule_sessions(start_ms, end_ms);
	CREATE TABLE session_feeds (
		session_id TEXT NOT NULL REFERENCES schedule_sessions(id) ON DELETE CASCADE,
		feed_id TEXT NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
		position INTEGER NOT NULL,
		PRIMARY KEY (session_id, feed_id)
	);
	CREATE INDEX session_feeds_feed ON session_feeds(feed_id);`},
	// 7: the clip library: clips, their athletes (for the athlete facet),
	// and a full-text index. Clips outlive their feed (no foreign key); seq
	// is the rowid the index refers to. Times are Unix milliseconds; end_ms
	// is NULL while a clip is open (marked in, not yet out). SQLite's FTS5
	// index is kept in step by triggers; PostgreSQL's is a tsvector of
	// search_words, the words of the clip as FTS5's unicode61 tokenizer
	// would give them (folded in Go: see searchWords), which the clip
	// writes set. clip_athletes' key ignores ASCII case, as NOCASE does.
	{sqlite: `CREATE TABLE clips (
		seq INTEGER PRIMARY KEY AUTOINCREMENT,
		id TEXT NOT NULL UNIQUE,
		feed_id TEXT NOT NULL,
		owner TEXT NOT NULL,
		start_ms INTEGER NOT NULL,
		end_ms INTEGER,
		title TEXT NOT NULL,
		description TEXT NOT NULL,
		tags TEXT NOT NULL,
		athletes TEXT NOT NULL,
		session_id TEXT NOT NULL,
		sport TEXT NOT NULL,
		event TEXT NOT NULL,
		phase TEXT NOT NULL,
		venue TEXT NOT NULL,
		mode TEXT NOT NULL,
		format TEXT NOT NULL,
		status TEXT NOT NULL,
		progress REAL NOT NULL,
		error TEXT NOT NULL,
		duration_ms INTEGER NOT NULL,
		size INTEGER NOT NULL,
		path TEXT NOT NULL,
		thumbnail TEXT NOT NULL,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE INDEX clips_start ON clips(start_ms);
	CREATE INDEX clips_feed ON clips(feed_id, start_ms);
	CREATE INDEX clips_owner ON clips(owner, start_ms);
	CREATE INDEX clips_sport ON clips(sport COLLATE NOCASE);
	CREATE INDEX clips_event ON clips(event COLLATE NOCASE);
	CREATE INDEX clips_status ON clips(status);
	CREATE TABLE clip_athletes (
		clip_seq INTEGER NOT NULL REFERENCES clips(seq) ON DELETE CASCADE,
		athlete TEXT NOT NULL COLLATE NOCASE,
		PRIMARY KEY (clip_seq, athlete)
	);
	CREATE INDEX clip_athletes_name ON clip_athletes(athlete, clip_seq);
	CREATE VIRTUAL TABLE clips_fts USING fts5(title, description, tags, athletes, sport, event, phase, venue,
		content='clips', content_rowid='seq', tokenize='unicode61 remove_diacritics 2');
	CREATE TRIGGER clips_fts_insert AFTER INSERT ON clips BEGIN
		INSERT INTO clips_fts(rowid, title, description, tags, athletes, sport, event, phase, venue)
		VALUES (new.seq, new.title, new.description, new.tags, new.athletes, new.sport, new.event, new.phase, new.venue);
	END;
	CREATE TRIGGER clips_fts_delete AFTER DELETE ON clips BEGIN
		INSERT INTO clips_fts(clips_fts, rowid, title, description, tags, athletes, sport, event, phase, venue)
		VALUES ('delete', old.seq, old.title, old.description, old.tags, old.athletes, old.sport, old.event, old.phase, old.venue);
	END;
	CREATE TRIGGER clips_fts_update AFTER UPDATE OF title, description, tags, athletes, sport, event, phase, venue ON clips BEGIN
		INSERT INTO clips_fts(clips_fts, rowid, title, description, tags, athletes, sport, event, phase, venue)
		VALUES ('delete', old.seq, old.title, old.description, old.tags, old.athletes, old.sport, old.event, old.phase, old.venue);
		INSERT INTO clips_fts(rowid, title, description, tags, athletes, sport, event, phase, venue)
		VALUES (new.seq, new.title, new.description, new.tags, new.athletes, new.sport, new.event, new.phase, new.venue);
	END;`,
		postgres: `CREATE TABLE clips (
		seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
		id TEXT NOT NULL UNIQUE,
		feed_id TEXT NOT NULL,
		owner TEXT NOT NULL,
		start_ms BIGINT NOT NULL,
		end_ms BIGINT,
		title TEXT NOT NULL,
		description TEXT NOT NULL,
		tags TEXT NOT NULL,
		athletes TEXT NOT NULL,
		session_id TEXT NOT NULL,
		sport TEXT NOT NULL,
		event TEXT NOT NULL,
		phase TEXT NOT NULL,
		venue TEXT NOT NULL,
		mode TEXT NOT NULL,
		format TEXT NOT NULL,
		status TEXT NOT NULL,
		progress DOUBLE PRECISION NOT NULL,
		error TEXT NOT NULL,
		duration_ms BIGINT NOT NULL,
		size BIGINT NOT NULL,
		path TEXT NOT NULL,
		thumbnail TEXT NOT NULL,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL,
		search_words TEXT NOT NULL DEFAULT '',
		search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple', search_words)) STORED
	);
	CREATE INDEX clips_start ON clips(start_ms);
	CREATE INDEX clips_feed ON clips(feed_id, start_ms);
	CREATE INDEX clips_owner ON clips(owner, start_ms);
	CREATE INDEX clips_sport ON clips(sport);
	CREATE INDEX clips_event ON clips(event);
	CREATE INDEX clips_status ON clips(status);
	CREATE INDEX clips_search ON clips USING GIN (search_vector);
	CREATE TABLE clip_athletes (
		pos BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		clip_seq BIGINT NOT NULL REFERENCES clips(seq) ON DELETE CASCADE,
		athlete TEXT NOT NULL
	);
	CREATE UNIQUE INDEX clip_athletes_key ON clip_athletes(clip_seq, ` + `translate(athlete, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'));
	CREATE INDEX clip_athletes_name ON clip_athletes(athlete, clip_seq);`},
	// 8: searches filter, order and count in memory (clipIndex): the
	// indexes they used are no longer read, only written.
	same(`DROP INDEX clips_start;
	DROP INDEX clips_feed;
	DROP INDEX clips_owner;
	DROP INDEX clips_sport;
	DROP INDEX clips_event;
	DROP INDEX clip_athletes_name;`),
	// 9: each broadcaster's creation generation, sealed into its signed URLs,
	// so that an id deleted and created again is another account. The
	// existing broadcasters draw one (their URLs signed before are void).
	{sqlite: `ALTER TABLE broadcasters ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
	UPDATE broadcasters SET generation = random() WHERE generation = 0;
	UPDATE broadcasters SET generation = 1 WHERE generation = 0;`,
		postgres: `ALTER TABLE broadcasters ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
	UPDATE broadcasters SET generation = floor((random() - 0.5) * 18446744073709549568)::bigint WHERE generation = 0;
	UPDATE broadcasters SET generation = 1 WHERE generation = 0;`},
	// 10: the catalog's version, one more for each committed write, and the
	// changes each version made (what kind of object, which, put or
	// deleted), which the nodes sharing a catalog apply in version order.
	same(`CREATE TABLE catalog_version (
		id INTEGER PRIMARY KEY CHECK (id = 1),
		version BIGINT NOT NULL
	);
	INSERT INTO catalog_version (id, version) VALUES (1, 0);
	CREATE TABLE catalog_changes (
		version BIGINT NOT NULL,
		n INTEGER NOT NULL,
		kind TEXT NOT NULL,
		op TEXT NOT NULL,
		object TEXT NOT NULL,
		at_ms BIGINT NOT NULL,
		PRIMARY KEY (version, n)
	);`),
}
