package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// defaultServer is where the clips commands go without --server or PODIUM_SERVER.
const defaultServer = "http://localhost:8080"

// pollInterval is how often create --wait asks after the clip.
var pollInterval = 500 * time.Millisecond

func clipsCommand() *cobra.Command {
	c := &apiClient{}
	cmd := &cobra.Command{
		Use:   "clips",
		Short: "Cut, search and download clips on a Podium server",
		Long: "clips talks to a running Podium server's REST API, with the admin token or a broadcaster's API key.\n" +
			"The server is --server or PODIUM_SERVER (default " + defaultServer + "), the token --token or PODIUM_TOKEN.",
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return c.resolve(cmd) },
	}
	cmd.PersistentFlags().StringVar(&c.server, "server", "", "the server's base URL (env PODIUM_SERVER)")
	cmd.PersistentFlags().StringVar(&c.token, "token", "", "the admin token or a broadcaster API key (env PODIUM_TOKEN)")
	cmd.PersistentFlags().BoolVar(&c.insecure, "insecure", false, "accept the server's TLS certificate unchecked (a self-signed development certificate)")
	cmd.AddCommand(clipsCreateCommand(c), clipsListCommand(c), clipsGetCommand(c), clipsDownloadCommand(c))
	return cmd
}

func clipsCreateCommand(c *apiClient) *cobra.Command {
	var req struct {
		FeedID      string   `json:"feed_id"`
		Start       string   `json:"start"`
		End         string   `json:"end,omitempty"`
		Title       string   `json:"title,omitempty"`
		Description string   `json:"description,omitempty"`
		Tags        []string `json:"tags,omitempty"`
		Athletes    []string `json:"athletes,omitempty"`
		Mode        string   `json:"mode,omitempty"`
		Format      string   `json:"format,omitempty"`
	}
	var wait, asJSON bool
	var output string
	cmd := &cobra.Command{
		Use:   "create --feed FEED --start TIME [--end TIME] [flags]",
		Short: "Cut a clip of a feed",
		Long: "create cuts a clip of a feed from --start to --end (RFC 3339 times, or now, now-30s). Without --end\n" +
			"the clip is open: it is exported once its end is set (PATCH /api/v1/clips/ID {\"end\":\"now\"}).\n" +
			"With --wait it follows the export with a progress bar; --output also downloads the clip.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "" {
				wait = true
			}
			if wait && req.End == "" {
				return errors.New("--wait and --output need --end: an open clip is not exported until its end is set")
			}
			var clip clipInfo
			if err := c.call(cmd.Context(), "POST", "/api/v1/clips", req, &clip); err != nil {
				return err
			}
			if !wait {
				return printClip(cmd.OutOrStdout(), clip, asJSON)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "clip %s %s\n", clip.ID, clip.Status)
			clip, err := c.follow(cmd.Context(), clip, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if output != "" {
				if _, err := c.download(cmd.Context(), clip.ID, output, cmd.ErrOrStderr()); err != nil {
					return err
				}
			}
			return printClip(cmd.OutOrStdout(), clip, asJSON)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.FeedID, "feed", "", "the feed to cut from (required)")
	f.StringVar(&req.Start, "start", "now", "where the clip starts: RFC 3339, now or now-DURATION")
	f.StringVar(&req.End, "end", "", "where it ends (RFC 3339, now or now-DURATION); left out: an open clip")
	f.StringVar(&req.Title, "title", "", "title (default: the schedule's event and phase and the start time)")
	f.StringVar(&req.Description, "description", "", "description")
	f.StringArrayVar(&req.Tags, "tag", nil, "a tag (repeat for more)")
	f.StringArrayVar(&req.Athletes, "athlete", nil, "an athlete shown (repeat for more)")
	f.StringVar(&req.Mode, "mode", "copy", "copy (keyframes, no re-encoding), exact (frame-accurate) or vertical (9:16)")
	f.StringVar(&req.Format, "format", "mp4", "mp4 or ts")
	f.BoolVar(&wait, "wait", false, "wait until the clip is ready or failed, with a progress bar on stderr")
	f.StringVarP(&output, "output", "o", "", "download the clip to this file once ready (implies --wait)")
	f.BoolVar(&asJSON, "json", false, "print the clip as JSON")
	cmd.MarkFlagRequired("feed")
	return cmd
}

func clipsListCommand(c *apiClient) *cobra.Command {
	params := map[string]*string{}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [flags]",
		Short: "Search the clip library",
		Long:  "list searches the clips the token may see: full text (--q) and filters, a page at a time.",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			query := url.Values{}
			for name, value := range params {
				if *value != "" {
					query.Set(name, *value)
				}
			}
			var page clipPage
			raw, err := c.get(cmd.Context(), "/api/v1/clips?"+query.Encode(), &page)
			if err != nil {
				return err
			}
			if asJSON {
				_, err := cmd.OutOrStdout().Write(raw)
				return err
			}
			return printClipTable(cmd.OutOrStdout(), page)
		},
	}
	for _, p := range []struct{ name, help string }{
		{"q", "words to find in titles, descriptions, tags, athletes, sport, event, phase and venue"},
		{"sport", "only this sport"}, {"event", "only this event"}, {"athlete", "only clips showing this athlete"},
		{"feed", "only clips of this feed"}, {"from", "only clips ending after this (RFC 3339 or now-1h)"},
		{"to", "only clips starting at or before this"}, {"limit", "clips per page (at most 200; default 50)"},
		{"offset", "skip this many clips (the next page's offset is printed)"},
	} {
		params[p.name] = cmd.Flags().String(p.name, "", p.help)
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's answer (clips, facets, total, next) as JSON")
	return cmd
}

func clipsGetCommand(c *apiClient) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "get CLIP",
		Short: "Show a clip and the state of its export",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var clip clipInfo
			if _, err := c.get(cmd.Context(), "/api/v1/clips/"+url.PathEscape(args[0]), &clip); err != nil {
				return err
			}
			return printClip(cmd.OutOrStdout(), clip, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the clip as JSON")
	return cmd
}

func clipsDownloadCommand(c *apiClient) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "download CLIP [-o FILE]",
		Short: "Download a ready clip, resuming a partial file",
		Long: "download writes the clip to FILE (default: the name the server gives) with a progress bar on stderr.\n" +
			"A partial FILE left by an interrupted download is completed with an HTTP Range request.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := c.download(cmd.Context(), args[0], output, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), path)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "the file to write")
	return cmd
}

// apiClient calls a Podium server's REST API.
type apiClient struct {
	server, token string
	insecure      bool
	http          *http.Client
}

func (c *apiClient) resolve(cmd *cobra.Command) error {
	if c.server == "" {
		c.server = os.Getenv("PODIUM_SERVER")
	}
	if c.server == "" {
		c.server = defaultServer
	}
	c.server = strings.TrimRight(c.server, "/")
	if u, err := url.Parse(c.server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--server %q: want a base URL such as %s", c.server, defaultServer)
	}
	if c.token == "" {
		c.token = os.Getenv("PODIUM_TOKEN")
	}
	if c.token == "" {
		return errors.New("no token: pass --token or set PODIUM_TOKEN (the admin token or a broadcaster API key)")
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if c.insecure {
		transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	c.http = &http.Client{Transport: transport}
	return nil
}

func (c *apiClient) request(ctx context.Context, method, path string, body any) (*http.Request, error) {
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		reader = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, reader)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// do sends a request and returns the response, or the server's error as a Go error.
func (c *apiClient) do(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	if resp.StatusCode < 400 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, serverError(resp)
}

// serverError turns an error answer into a message that says what the server said.
func serverError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Error struct {
			Code, Message, Field string
			Line                 int
		} `json:"error"`
	}
	if json.Unmarshal(data, &body) != nil || body.Error.Message == "" {
		return fmt.Errorf("server answered %s to %s %s", resp.Status, resp.Request.Method, resp.Request.URL.Path)
	}
	msg := body.Error.Message
	if body.Error.Field != "" && !strings.Contains(msg, body.Error.Field) {
		msg = body.Error.Field + ": " + msg
	}
	return fmt.Errorf("%s (%s)", msg, resp.Status)
}

// call sends body as JSON and decodes the JSON answer into out.
func (c *apiClient) call(ctx context.Context, method, path string, body, out any) error {
	req, err := c.request(ctx, method, path, body)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return nil
}

// get decodes the JSON answer of a GET into out and returns it as it came.
func (c *apiClient) get(ctx context.Context, path string, out any) ([]byte, error) {
	req, err := c.request(ctx, "GET", path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err == nil {
		err = json.Unmarshal(raw, out)
	}
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading the answer: %w", path, err)
	}
	return raw, nil
}

// follow polls the clip until its export is ready or failed, drawing its progress on w.
func (c *apiClient) follow(ctx context.Context, clip clipInfo, w io.Writer) (clipInfo, error) {
	bar := newProgressBar(w, clip.ID)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		bar.set(clip.Progress, clip.Status)
		switch clip.Status {
		case "ready":
			bar.finish(fmt.Sprintf("ready, %s, %.1f s", byteCount(clip.Size), clip.Duration))
			return clip, nil
		case "failed":
			bar.finish("failed")
			return clip, fmt.Errorf("clip %s failed: %s", clip.ID, clip.Error)
		}
		select {
		case <-ctx.Done():
			bar.finish("interrupted")
			return clip, ctx.Err()
		case <-tick.C:
		}
		if _, err := c.get(ctx, "/api/v1/clips/"+url.PathEscape(clip.ID), &clip); err != nil {
			bar.finish("")
			return clip, err
		}
	}
}

// download writes the clip to output (or the server's file name), resuming
// a partial file with a Range request; it returns the file's path.
func (c *apiClient) download(ctx context.Context, id, output string, w io.Writer) (string, error) {
	path := "/api/v1/clips/" + url.PathEscape(id) + "/download"
	req, err := c.request(ctx, "GET", path, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.do(req)
	if err != nil {
		return "", err
	}
	defer func() { resp.Body.Close() }()
	if output == "" {
		output = attachmentName(resp.Header.Get("Content-Disposition"), id)
	}
	total := resp.ContentLength
	have := int64(0)
	if info, err := os.Stat(output); err == nil && info.Mode().IsRegular() {
		have = info.Size()
	}
	switch {
	case have > 0 && have == total:
		fmt.Fprintf(w, "%s is already complete (%s)\n", output, byteCount(total))
		return output, nil
	case have > 0 && have < total:
		// Resume: ask again for the rest, if the file has not changed meanwhile.
		resp.Body.Close()
		if req, err = c.request(ctx, "GET", path, nil); err != nil {
			return "", err
		}
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
		if validator := resp.Header.Get("Last-Modified"); validator != "" {
			req.Header.Set("If-Range", validator)
		}
		if resp, err = c.do(req); err != nil {
			return "", err
		}
		if resp.StatusCode != http.StatusPartialContent {
			have = 0 // the server sent the whole file again
		}
	default:
		have = 0
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if have > 0 {
		flags = os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(output, flags, 0o644)
	if err != nil {
		return "", err
	}
	bar := newProgressBar(w, filepath.Base(output))
	counter := &countingWriter{w: f, n: have, total: total, bar: bar}
	_, err = io.Copy(counter, resp.Body)
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err == nil && total >= 0 && counter.n != total {
		err = fmt.Errorf("got %d of %d bytes", counter.n, total)
	}
	if err != nil {
		bar.finish("interrupted")
		return "", fmt.Errorf("download clip %s to %s: %w (run the command again to resume)", id, output, err)
	}
	bar.finish(byteCount(counter.n))
	return output, nil
}

// attachmentName is the file name a Content-Disposition gives, without any directory.
func attachmentName(disposition, id string) string {
	if _, params, err := mime.ParseMediaType(disposition); err == nil {
		if name := filepath.Base(params["filename"]); name != "." && name != "/" && name != "" && name != ".." {
			return name
		}
	}
	return id
}

type countingWriter struct {
	w        io.Writer
	n, total int64
	bar      *progressBar
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if c.total > 0 {
		c.bar.set(float64(c.n)/float64(c.total), byteCount(c.n)+" of "+byteCount(c.total))
	}
	return n, err
}

// progressBar draws progress on a terminal in place; elsewhere (a log, a
// pipe) it writes a line at every tenth and change of state.
type progressBar struct {
	w         io.Writer
	label     string
	tty       bool
	drawn     time.Time
	lastTenth int
	lastState string
}

func newProgressBar(w io.Writer, label string) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if info, err := f.Stat(); err == nil && info.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, label: label, tty: tty, lastTenth: -1}
}

const barWidth = 30

func (p *progressBar) line(fraction float64, state string) string {
	fraction = min(max(fraction, 0), 1)
	filled := int(fraction * barWidth)
	return fmt.Sprintf("%s [%s%s] %3.0f%% %s", p.label, strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled), fraction*100, state)
}

func (p *progressBar) set(fraction float64, state string) {
	if p.tty {
		if time.Since(p.drawn) < 100*time.Millisecond && state == p.lastState {
			return
		}
		p.drawn, p.lastState = time.Now(), state
		fmt.Fprintf(p.w, "\r%-79s", p.line(fraction, state))
		return
	}
	tenth := int(fraction * 10)
	stateWord, _, _ := strings.Cut(state, " ")
	if tenth == p.lastTenth && stateWord == p.lastState {
		return
	}
	p.lastTenth, p.lastState = tenth, stateWord
	fmt.Fprintln(p.w, p.line(fraction, state))
}

func (p *progressBar) finish(state string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r%-79s\n", p.line(1, state))
		return
	}
	if state != "" {
		fmt.Fprintln(p.w, p.label+" "+state)
	}
}

// clipInfo is what the commands show of a clip (GET /api/v1/clips/ID).
type clipInfo struct {
	ID            string   `json:"id"`
	FeedID        string   `json:"feed_id"`
	BroadcasterID *string  `json:"broadcaster_id"`
	Start         string   `json:"start"`
	End           *string  `json:"end"`
	Title         string   `json:"title"`
	Description   string   `json:"description"`
	Tags          []string `json:"tags"`
	Athletes      []string `json:"athletes"`
	Sport         string   `json:"sport"`
	Event         string   `json:"event"`
	Phase         string   `json:"phase"`
	Venue         string   `json:"venue"`
	Mode          string   `json:"mode"`
	Format        string   `json:"format"`
	Status        string   `json:"status"`
	Progress      float64  `json:"progress"`
	Error         string   `json:"error"`
	Duration      float64  `json:"duration"`
	Size          int64    `json:"size"`
	DownloadURL   string   `json:"download_url"`
}

type clipPage struct {
	Clips  []clipInfo                `json:"clips"`
	Facets map[string]map[string]int `json:"facets"`
	Total  int                       `json:"total"`
	Next   *int                      `json:"next"`
}

func printClip(w io.Writer, c clipInfo, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	}
	end := "(open: set its end with PATCH /api/v1/clips/" + c.ID + ")"
	if c.End != nil {
		end = *c.End
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("id", c.ID)
	row("title", c.Title)
	row("feed", c.FeedID)
	row("start", c.Start)
	row("end", end)
	row("status", fmt.Sprintf("%s (%.0f%%)", c.Status, c.Progress*100))
	row("error", c.Error)
	row("session", strings.TrimSpace(strings.Join([]string{c.Sport, c.Event, c.Phase}, " ")))
	row("venue", c.Venue)
	row("athletes", strings.Join(c.Athletes, ", "))
	row("tags", strings.Join(c.Tags, ", "))
	row("mode", c.Mode+", "+c.Format)
	if c.Status == "ready" {
		row("duration", fmt.Sprintf("%.1f s", c.Duration))
		row("size", byteCount(c.Size))
		row("download", c.DownloadURL)
	}
	row("description", c.Description)
	return tw.Flush()
}

func printClipTable(w io.Writer, page clipPage) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tSTART\tDURATION\tFEED\tSPORT / EVENT\tTITLE")
	for _, c := range page.Clips {
		status := c.Status
		if status == "queued" || status == "running" {
			status += fmt.Sprintf(" %.0f%%", c.Progress*100)
		}
		duration := "open"
		if c.End != nil {
			if s, err := time.Parse(time.RFC3339Nano, c.Start); err == nil {
				if e, err := time.Parse(time.RFC3339Nano, *c.End); err == nil {
					duration = e.Sub(s).Round(100 * time.Millisecond).String()
				}
			}
		}
		event := strings.TrimSpace(c.Sport + " / " + strings.TrimSpace(c.Event+" "+c.Phase))
		if event == "/" {
			event = ""
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, status, c.Start, duration, c.FeedID, event, c.Title)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "%d of %d clips", len(page.Clips), page.Total)
	if page.Next != nil {
		fmt.Fprintf(w, "; next page: --offset %d", *page.Next)
	}
	fmt.Fprintln(w)
	return nil
}

func byteCount(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 2, 64) + " GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
