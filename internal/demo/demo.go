// Package demo is the demo Games of `podium demo`: four feeds that loop
// bundled sample transport streams seamlessly, three broadcasters with
// different entitlements, and the getting-started text that shows how to
// pull them.
package demo

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/podium-broadcast/podium/internal/catalog"
	"github.com/podium-broadcast/podium/internal/ingest"
	"github.com/podium-broadcast/podium/internal/store"
	"github.com/podium-broadcast/podium/internal/tsloop"
)

//go:embed samples/*.ts
var samples embed.FS

// Feed is a demo feed and the sample it loops.
type Feed struct {
	ID, Name string
	Kind     catalog.FeedKind
}

// Feeds are the demo feeds; each loops samples/ID.ts.
var Feeds = []Feed{
	{"ath-100m-final", "Athletics — Men's 100m Final", catalog.KindMultilateral},
	{"swm-200fr-heats", "Swimming — Women's 200m Freestyle Heats", catalog.KindMultilateral},
	{"venue-ols-mlf", "Olympic Stadium — Multilateral", catalog.KindVenueISO},
	{"bkb-gold-game", "Basketball — Gold Medal Game", catalog.KindMultilateral},
}

// grant is a demo entitlement; a positive delay opens its window that long after seeding.
type grant struct {
	feed  string
	delay time.Duration
}

var broadcasters = []struct {
	id, name    string
	territories []string
	grants      []grant
}{
	{"ebu", "European Broadcasting Union", []string{"FR", "DE", "IT", "ES", "GB", "NL", "BE", "CH", "AT", "SE", "NO", "DK", "FI", "PL", "PT", "IE"},
		[]grant{{feed: "ath-100m-final"}, {feed: "swm-200fr-heats"}, {feed: "venue-ols-mlf"}, {feed: "bkb-gold-game"}}},
	{"nbc", "NBC Olympics", []string{"US"}, []grant{{feed: "ath-100m-final"}, {feed: "swm-200fr-heats"}}},
	{"nhk", "NHK", []string{"JP"}, []grant{{feed: "venue-ols-mlf"}, {feed: "bkb-gold-game", delay: time.Hour}}},
}

// Credentials are the secrets of the demo catalog, kept in the data
// directory so that they can be shown at every start.
type Credentials struct {
	Feeds        []FeedCredentials        `json:"feeds"`
	Broadcasters []BroadcasterCredentials `json:"broadcasters"`
}

// FeedCredentials is what an encoder needs to publish a demo feed.
type FeedCredentials struct {
	ID                      string `json:"id"`
	Name                    string `json:"name"`
	PublishPassphrase       string `json:"publish_passphrase"`
	BackupPublishPassphrase string `json:"backup_publish_passphrase"`
}

// BroadcasterCredentials is what a demo broadcaster needs to pull its feeds.
type BroadcasterCredentials struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	APIKey        string   `json:"api_key"`
	SRTPassphrase string   `json:"srt_passphrase"`
	Entitled      []string `json:"entitled"`
	Later         []string `json:"later,omitempty"`
}

const credentialsFile = "demo-credentials.json"

// Seed fills an empty catalog with the demo Games and returns its
// credentials; on a catalog that is not empty it returns the credentials
// kept from the first seeding, if any (ok is false when there are none).
func Seed(ctx context.Context, st *store.Store, dataDir string) (creds Credentials, ok bool, err error) {
	snap := st.Snapshot()
	path := filepath.Join(dataDir, credentialsFile)
	if len(snap.Feeds()) > 0 || len(snap.Broadcasters()) > 0 {
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return creds, false, nil
		}
		if err != nil {
			return creds, false, err
		}
		return creds, true, json.Unmarshal(data, &creds)
	}
	now := time.Now()
	for _, f := range Feeds {
		feed := catalog.Feed{ID: f.ID, Name: f.Name, Kind: f.Kind, PublishPassphrase: catalog.NewPassphrase(), Recording: catalog.DefaultRecording,
			BackupPublishPassphrase: catalog.NewPassphrase(), CreatedAt: now}
		if err := st.CreateFeed(ctx, feed); err != nil {
			return creds, false, fmt.Errorf("seed feed %s: %w", f.ID, err)
		}
		creds.Feeds = append(creds.Feeds, FeedCredentials{ID: f.ID, Name: f.Name, PublishPassphrase: feed.PublishPassphrase,
			BackupPublishPassphrase: feed.BackupPublishPassphrase})
	}
	for _, b := range broadcasters {
		key := catalog.NewAPIKey()
		bc := catalog.Broadcaster{ID: b.id, Name: b.name, Territories: b.territories, SRTPassphrase: catalog.NewPassphrase(),
			APIKeyHash: catalog.HashAPIKey(key), CreatedAt: now}
		if err := st.CreateBroadcaster(ctx, bc); err != nil {
			return creds, false, fmt.Errorf("seed broadcaster %s: %w", b.id, err)
		}
		bcreds := BroadcasterCredentials{ID: b.id, Name: b.name, APIKey: key, SRTPassphrase: bc.SRTPassphrase}
		for i, g := range b.grants {
			e := catalog.Entitlement{ID: fmt.Sprintf("demo-%s-%d", b.id, i+1), BroadcasterID: b.id, FeedID: g.feed,
				Status: catalog.StatusActive, CreatedAt: now, UpdatedAt: now}
			if g.delay > 0 {
				e.StartsAt = now.Add(g.delay).Truncate(time.Second)
				bcreds.Later = append(bcreds.Later, g.feed+" from "+e.StartsAt.UTC().Format(time.RFC3339))
			} else {
				bcreds.Entitled = append(bcreds.Entitled, g.feed)
			}
			if err := st.CreateEntitlement(ctx, e); err != nil {
				return creds, false, fmt.Errorf("seed entitlement %s: %w", e.ID, err)
			}
		}
		creds.Broadcasters = append(creds.Broadcasters, bcreds)
	}
	data, err := json.MarshalIndent(creds, "", "  ")
	if err != nil {
		return creds, false, err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return creds, false, fmt.Errorf("keep demo credentials: %w", err)
	}
	return creds, true, nil
}

// Loop publishes each demo feed that exists in the catalog from its sample,
// in real time and seamlessly, as the feed's primary source, until ctx ends.
// A feed whose primary is taken (by a real encoder) is retried every few
// seconds; a real encoder may also publish as the backup.
func Loop(ctx context.Context, st *store.Store, h *ingest.Switcher, log *slog.Logger) error {
	loopers := make(map[string]*tsloop.Looper, len(Feeds))
	for _, f := range Feeds {
		data, err := samples.ReadFile("samples/" + f.ID + ".ts")
		if err != nil {
			return fmt.Errorf("demo sample %s: %w", f.ID, err)
		}
		l, err := tsloop.New(data)
		if err != nil {
			return fmt.Errorf("demo sample %s: %w", f.ID, err)
		}
		loopers[f.ID] = l
	}
	done := make(chan struct{}, len(Feeds))
	for _, f := range Feeds {
		go func() {
			defer func() { done <- struct{}{} }()
			loopFeed(ctx, f.ID, loopers[f.ID], st, h, log)
		}()
	}
	for range Feeds {
		<-done
	}
	return nil
}

// retry is how often a demo loop tries again to take its feed.
const retry = 3 * time.Second

func loopFeed(ctx context.Context, id string, l *tsloop.Looper, st *store.Store, h *ingest.Switcher, log *slog.Logger) {
	for ctx.Err() == nil {
		if _, ok := st.Snapshot().Feed(id); ok {
			playOnce(ctx, id, l, h, log)
		}
		select {
		case <-ctx.Done():
		case <-time.After(retry):
		}
	}
}

// playOnce publishes the loop to the feed until ctx ends or the hub lets go of it.
func playOnce(ctx context.Context, id string, l *tsloop.Looper, h *ingest.Switcher, log *slog.Logger) {
	pub, err := h.Attach(id, ingest.Primary, "demo-loop")
	if err != nil {
		return
	}
	defer pub.Detach()
	log.Info("demo loop publishing", "feed", id, "loop", l.LoopDuration())
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-pub.Kicked():
			cancel()
		case <-runCtx.Done():
		}
	}()
	err = l.Run(runCtx, pub.Write)
	if ctx.Err() == nil {
		log.Info("demo loop stopped", "feed", id, "reason", err)
	}
}
